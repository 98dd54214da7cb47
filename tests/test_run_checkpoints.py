import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import SpotModel
from spot_tf.training.checkpoint import is_tf1_checkpoint, resolve_checkpoint, restore_spot_model, spot_ema


def _save_port_checkpoint(directory):
    model = SpotModel(image_size=32)
    model.build()
    ema = spot_ema(model)
    model.discriminator.conv_1.conv.bias.assign(tf.fill([96], 3.0))
    return model, tf.train.Checkpoint(model=model, ema=ema).save(str(directory / "spot" / "ckpt"))


def test_resolve_model_dir_phase_dir_and_prefix(tmp_path):
    _, prefix = _save_port_checkpoint(tmp_path)
    assert resolve_checkpoint(str(tmp_path)) == prefix
    assert resolve_checkpoint(str(tmp_path / "spot")) == prefix
    assert resolve_checkpoint(prefix) == prefix
    assert not is_tf1_checkpoint(prefix)
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        resolve_checkpoint(str(tmp_path / "nothing-here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint in"):
        resolve_checkpoint(str(tmp_path / "empty"))


def test_restore_raw_and_moving_average_weights(tmp_path):
    model, _ = _save_port_checkpoint(tmp_path)
    restored, _ = restore_spot_model(str(tmp_path), 32, 4)
    np.testing.assert_array_equal(restored.discriminator.conv_1.conv.bias.numpy(), 3.0)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The average was taken before the bias changed: it still holds the initial 0.1.
    averaged, _ = restore_spot_model(str(tmp_path), 32, 4, use_ema=True)
    np.testing.assert_allclose(averaged.discriminator.conv_1.conv.bias.numpy(), 0.1)


def test_tf1_saver_checkpoints_are_told_apart(tmp_path):
    from test_models_tf1_checkpoint import _write_tf1_checkpoint
    prefix = _write_tf1_checkpoint(tmp_path / "model.ckpt", {"encoder/conv_0/weights": np.ones([3, 3, 3, 32], np.float32)})
    assert is_tf1_checkpoint(prefix)
