import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import SpotModel
from spot_tf.errors import SettingError
from spot_tf.run.checkpoints import (build_spot_model, checkpoint_kind, is_tf1_checkpoint, resolve_checkpoint,
                                     restore, restore_spot_model, spot_ema)
from spot_tf.settings import ModelSettings


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
    restored, _ = restore_spot_model(str(tmp_path), ModelSettings(image_size=32))
    np.testing.assert_array_equal(restored.discriminator.conv_1.conv.bias.numpy(), 3.0)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The average was taken before the bias changed: it still holds the initial 0.1.
    averaged, _ = restore_spot_model(str(tmp_path), ModelSettings(image_size=32), use_ema=True)
    np.testing.assert_allclose(averaged.discriminator.conv_1.conv.bias.numpy(), 0.1)


def test_tf1_saver_checkpoints_are_told_apart(tmp_path):
    from test_models_tf1_checkpoint import _write_tf1_checkpoint
    prefix = _write_tf1_checkpoint(tmp_path / "model.ckpt", {"encoder/conv_0/weights": np.ones([3, 3, 3, 32], np.float32)})
    assert is_tf1_checkpoint(prefix)


def _save_autoencoder_checkpoint(directory, depth=4):
    from spot_tf.models import Autoencoder
    autoencoder = Autoencoder(depth)
    autoencoder(tf.zeros((1, 32, 32, 3)))
    return tf.train.Checkpoint(model=autoencoder).save(str(directory / "autoencoder" / "ckpt"))


def test_kinds_are_told_apart_and_the_wrong_kind_is_refused_in_one_line(tmp_path):
    _, spot_prefix = _save_port_checkpoint(tmp_path)
    ae_prefix = _save_autoencoder_checkpoint(tmp_path)
    assert checkpoint_kind(spot_prefix) == "spot" and checkpoint_kind(ae_prefix) == "autoencoder"
    model = build_spot_model(ModelSettings(image_size=32))
    with pytest.raises(SettingError, match="expected a autoencoder-phase checkpoint, found a spot-phase") as err:
        restore(model, spot_prefix, "autoencoder", setting="ae_checkpoint")
    assert err.value.setting == "ae_checkpoint" and "\n" not in str(err.value)
    with pytest.raises(SettingError, match="expected a spot-phase checkpoint, found a autoencoder-phase"):
        restore(model, ae_prefix, "spot")
    assert restore(model, ae_prefix, "autoencoder") == ae_prefix


def test_another_geometry_is_refused_naming_what_was_expected(tmp_path):
    import json
    ae_prefix = _save_autoencoder_checkpoint(tmp_path, depth=5)
    model = build_spot_model(ModelSettings(image_size=32))
    # Without the run's settings, the mismatch of variables is still one line.
    with pytest.raises(SettingError, match="does not fit a model of image_size=32, ae_depth=4") as err:
        restore(model, ae_prefix, "autoencoder", setting="ae_checkpoint")
    assert "\n" not in str(err.value)
    (tmp_path / "config.json").write_text(json.dumps({"model": {"image_size": 64, "ae_depth": 5}}))
    with pytest.raises(SettingError, match="trained with ae_depth=5; expected ae_depth=4"):
        restore(model, ae_prefix, "autoencoder", setting="ae_checkpoint")


def test_a_missing_source_names_its_setting(tmp_path):
    from spot_tf.errors import SettingPathError
    model = build_spot_model(ModelSettings(image_size=32))
    with pytest.raises(SettingPathError, match="no checkpoint in") as err:
        restore(model, str(tmp_path), "spot", setting="eval_source")
    assert isinstance(err.value, FileNotFoundError) and err.value.setting == "eval_source"
