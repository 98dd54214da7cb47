import keras
import pytest

from spot_tf.optim.optimization import current_learning_rate
from spot_tf.optim.schedules import InverseSqrtDecay
from spot_tf.training.probe_protocols import IMAGENET_TRAIN_IMAGES, PROTOCOLS

SPLITBRAIN, DEEPCLUSTER = PROTOCOLS["splitbrain"], PROTOCOLS["deepcluster"]


def _lr(optimizer, step):
    optimizer.iterations.assign(step)
    return float(current_learning_rate(optimizer))


def test_the_presets_numbers():
    assert set(PROTOCOLS) == {"splitbrain", "deepcluster"}
    assert (SPLITBRAIN.image_size, DEEPCLUSTER.image_size) == (227, 224)
    assert SPLITBRAIN.batch_size == DEEPCLUSTER.batch_size == 256
    assert (SPLITBRAIN.pooling, SPLITBRAIN.batch_norm) == ("bilinear", True)
    assert (DEEPCLUSTER.pooling, DEEPCLUSTER.batch_norm) == ("average", False)
    # Caffe: no decay and lr x2 on the biases; PyTorch: decay on every parameter, one learning rate.
    assert (SPLITBRAIN.weight_decay, SPLITBRAIN.decay_biases, SPLITBRAIN.bias_gradient_multiplier) == (5e-4, False, 2.0)
    assert (DEEPCLUSTER.weight_decay, DEEPCLUSTER.decay_biases,
            DEEPCLUSTER.bias_gradient_multiplier) == (1e-4, True, 1.0)
    assert SPLITBRAIN.learning_rate == DEEPCLUSTER.learning_rate == 0.01


def test_steps_on_imagenet():
    assert SPLITBRAIN.steps(IMAGENET_TRAIN_IMAGES) == 140000
    assert SPLITBRAIN.epochs == pytest.approx(27.97, abs=5e-3)
    assert DEEPCLUSTER.steps(IMAGENET_TRAIN_IMAGES) == round(90 * 1281167 / 256) == 450410


def test_splitbrain_decays_tenfold_every_40000_steps_on_imagenet():
    optimizer = SPLITBRAIN.optimizer(IMAGENET_TRAIN_IMAGES)
    lrs = [_lr(optimizer, step) for step in (0, 39999, 40000, 79999, 80000, 120000, 139999)]
    assert lrs == pytest.approx([0.01, 0.01, 1e-3, 1e-3, 1e-4, 1e-5, 1e-5], rel=1e-5)


def test_steps_and_decay_scale_with_the_dataset_and_the_batch():
    tenth = IMAGENET_TRAIN_IMAGES / 10
    assert SPLITBRAIN.steps(tenth) == 14000 and SPLITBRAIN.steps(tenth, batch_size=128) == 28000
    assert DEEPCLUSTER.steps(5000, 64) == round(90 * 5000 / 64)
    assert DEEPCLUSTER.steps(5000, 128) == round(90 * 5000 / 128)
    assert SPLITBRAIN.steps(1, 256) == 1  # at least one step
    # The period scales as the steps do: 4,000 steps at a tenth of ImageNet, 8,000 at half the batch.
    for batch_size, period in ((None, 4000), (128, 8000)):
        optimizer = SPLITBRAIN.optimizer(tenth, batch_size)
        assert [_lr(optimizer, s) for s in (period - 1, period, 2 * period)] == pytest.approx(
            [0.01, 1e-3, 1e-4], rel=1e-5)


def test_the_optimizer_is_sgd_with_momentum_and_the_schedule():
    for protocol in (SPLITBRAIN, DEEPCLUSTER):
        optimizer = protocol.optimizer(5000, 64)
        assert type(optimizer) is keras.optimizers.SGD
        assert optimizer.momentum == 0.9 and not optimizer.nesterov
        assert optimizer.weight_decay is None  # the trainer adds it to the gradients
        assert _lr(optimizer, 0) == pytest.approx(0.01)
    schedule = DEEPCLUSTER.learning_rate_schedule(5000, 64)
    assert isinstance(schedule, InverseSqrtDecay)
    assert schedule.get_config() == {"initial_learning_rate": 0.01, "weight_decay": 1e-4}
    # deepcluster's schedule does not depend on the dataset.
    assert _lr(DEEPCLUSTER.optimizer(5000, 64), 10000) == pytest.approx(0.01 / (1 + 0.01 * 1e-4 * 10000) ** 0.5)
