import json

import pytest

from spot_tf.errors import SettingError
from spot_tf.run import saved_settings
from spot_tf.settings import RunSettings


def test_first_write_holds_every_setting_in_sections_and_is_never_overwritten(tmp_path):
    settings = RunSettings.from_flat(str(tmp_path), {"image_size": 32, "spot_steps": 7})
    assert saved_settings.write(settings)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model"]["image_size"] == 32 and saved["training"]["spot_steps"] == 7
    assert set(saved) == {"spot_tf_version", "model", "data", "training", "evaluation"}
    assert saved_settings.read(str(tmp_path)) == settings
    assert not saved_settings.write(settings.replace(spot_steps=9))
    assert saved_settings.read(str(tmp_path)).training.spot_steps == 7


def test_a_later_invocation_starts_from_the_saved_settings(tmp_path):
    saved_settings.write(RunSettings.from_flat(str(tmp_path), {"image_size": 32, "keep_prob": 0.5}))
    settings, changed = saved_settings.resolve(str(tmp_path), {})
    assert settings.model.image_size == 32 and settings.model.keep_prob == 0.5 and changed == {}
    # Steps, evaluation, logging, strategy and precision may change; the same value of a locked one too.
    settings, changed = saved_settings.resolve(str(tmp_path), {"spot_steps": 9, "mixed_precision": "bf16",
                                                               "eval_source": "x", "image_size": 32})
    assert settings.training.spot_steps == 9 and settings.training.mixed_precision == "bf16"
    assert settings.model.image_size == 32
    assert changed == {"spot_steps": (1000, 9), "mixed_precision": ("none", "bf16"), "eval_source": (None, "x")}


@pytest.mark.parametrize("name,value", [("image_size", 64), ("ae_depth", 5), ("keep_prob", 0.3),
                                        ("disc_padding", "valid"), ("repair_preactivation", True),
                                        ("generator_loss", "paper"), ("seed", 1), ("learning_rate", 1e-3)])
def test_a_locked_setting_that_differs_is_refused_naming_both_values(tmp_path, name, value):
    saved_settings.write(RunSettings.from_flat(str(tmp_path), {"image_size": 32, "keep_prob": 0.5}))
    saved = saved_settings.read(str(tmp_path)).flat()[name]
    with pytest.raises(SettingError) as err:
        saved_settings.resolve(str(tmp_path), {name: value})
    assert err.value.setting == name and err.value.value == value
    assert f"{name}={saved!r}" in str(err.value) and str(tmp_path / "config.json") in str(err.value)


def test_no_saved_settings_means_defaults_and_a_corrupt_file_is_named(tmp_path):
    settings, changed = saved_settings.resolve(str(tmp_path), {"image_size": 64})
    assert settings.model.image_size == 64 and settings.training.batch_size == 128 and changed == {}
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(SettingError, match="is not a spot_tf settings file"):
        saved_settings.resolve(str(tmp_path), {})


def test_a_config_json_that_is_not_a_file_is_named(tmp_path):
    (tmp_path / "config.json").mkdir()
    with pytest.raises(SettingError, match=f"{tmp_path}/config.json is not a file") as err:
        saved_settings.resolve(str(tmp_path), {})
    assert err.value.setting == "model_dir"


def test_a_refusal_names_checkpoints_only_where_there_are_some(tmp_path):
    saved_settings.write(RunSettings.from_flat(str(tmp_path), {"image_size": 32}))
    with pytest.raises(SettingError, match="image_size fixes what its saved results mean"):
        saved_settings.resolve(str(tmp_path), {"image_size": 64})
    (tmp_path / "autoencoder").mkdir()
    (tmp_path / "autoencoder" / "ckpt-3.index").write_text("")
    with pytest.raises(SettingError, match="image_size fixes what its checkpoints hold"):
        saved_settings.resolve(str(tmp_path), {"image_size": 64})
