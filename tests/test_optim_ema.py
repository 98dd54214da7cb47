import numpy as np
import pytest
import tensorflow as tf

from spot_tf.optim.ema import WeightAverage


def test_decay_follows_tf1_num_updates_rule():
    var = tf.Variable([0.0])
    ema = WeightAverage([var], decay=0.9999)
    var.assign([10.0])
    ema.update(step=0)  # decay = min(0.9999, 1/10)
    np.testing.assert_allclose(ema.averages[0].numpy(), [9.0], rtol=1e-6)
    ema.update(step=10 ** 7)  # decay = 0.9999
    np.testing.assert_allclose(ema.averages[0].numpy(), [9.0 + 1e-4 * 1.0], rtol=1e-6)


def test_copy_to_sources_and_checkpoint(tmp_path):
    var = tf.Variable([1.0, 2.0])
    ema = WeightAverage([var])
    var.assign([5.0, 5.0])
    path = tf.train.Checkpoint(ema=ema).save(str(tmp_path / "c"))
    other = WeightAverage([tf.Variable([0.0, 0.0])])
    tf.train.Checkpoint(ema=other).restore(path)
    other.copy_to_sources()
    np.testing.assert_array_equal(other.sources[0].numpy(), [1.0, 2.0])
    assert ema.decay == pytest.approx(0.9999)


def test_an_update_that_was_not_applied_moves_no_average():
    var = tf.Variable([0.0])
    ema = WeightAverage([var], decay=0.9999)
    var.assign([10.0])
    ema.update(step=0, applied=tf.constant(False))
    np.testing.assert_array_equal(ema.averages[0].numpy(), [0.0])
    ema.update(step=0, applied=tf.constant(True))
    np.testing.assert_allclose(ema.averages[0].numpy(), [9.0], rtol=1e-6)
