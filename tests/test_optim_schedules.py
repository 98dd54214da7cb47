import keras
import numpy as np
import pytest

from spot_tf.optim.schedules import InverseSqrtDecay, step_decay


@pytest.mark.parametrize("lr,wd", [(0.01, 1e-4), (0.5, 3e-2)])
def test_inverse_sqrt_decay_follows_the_formula(lr, wd):
    schedule = InverseSqrtDecay(lr, wd)
    steps = np.array([0, 1, 7, 1000, 450410], np.int64)
    got = np.array([float(schedule(step)) for step in steps])
    np.testing.assert_allclose(got, lr / np.sqrt(1.0 + lr * wd * steps), rtol=1e-6)
    assert got[0] == pytest.approx(lr) and np.all(np.diff(got) < 0)


def test_inverse_sqrt_decay_round_trips_through_its_config():
    schedule = InverseSqrtDecay(0.01, 1e-4)
    config = schedule.get_config()
    assert config == {"initial_learning_rate": 0.01, "weight_decay": 1e-4}
    clone = InverseSqrtDecay.from_config(config)
    assert clone.get_config() == config and float(clone(500)) == pytest.approx(float(schedule(500)))
    # By registered name, as an optimizer saved with it is restored.
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(restored, InverseSqrtDecay) and restored.get_config() == config
    optimizer = keras.optimizers.SGD.from_config(keras.optimizers.SGD(schedule, momentum=0.9).get_config())
    optimizer.iterations.assign(1000)
    assert float(optimizer.learning_rate) == pytest.approx(0.01 / np.sqrt(1.0 + 0.01 * 1e-4 * 1000))


def test_step_decay_is_a_staircase():
    schedule = step_decay(0.01, 40, 0.1)
    steps = [0, 1, 39, 40, 41, 79, 80, 119, 120]
    want = [0.01, 0.01, 0.01, 1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5]
    np.testing.assert_allclose([float(schedule(s)) for s in steps], want, rtol=1e-5)


def test_step_decay_with_another_factor():
    schedule = step_decay(0.2, 3, 0.5)
    np.testing.assert_allclose([float(schedule(s)) for s in range(10)],
                               [0.2 * 0.5 ** (s // 3) for s in range(10)], rtol=1e-6)
