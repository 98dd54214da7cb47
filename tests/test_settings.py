import dataclasses

import pytest

from spot_tf.errors import SettingError
from spot_tf.models import SpotModel
from spot_tf.settings import ModelSettings, RunSettings, setting_fields


def test_defaults_are_valid_and_the_original_codes():
    settings = RunSettings("/tmp/x").validate()
    assert settings.training.generator_loss == "code" and settings.model.keep_prob == 0.3
    assert settings.eval_image_size == 96 and settings.evaluation.eval_steps == 0


def test_the_model_section_is_exactly_the_spot_models_config():
    model_keys = {field.name for field in dataclasses.fields(ModelSettings)}
    config = SpotModel(**vars(ModelSettings(image_size=32))).get_config()
    assert model_keys == set(config) - {"name", "trainable", "dtype"}
    assert {key: config[key] for key in model_keys} == vars(ModelSettings(image_size=32))


def test_every_setting_has_one_section_help_and_a_unique_name():
    fields = setting_fields()
    assert len(fields) == sum(len(dataclasses.fields(cls)) for cls in
                              (RunSettings.__dataclass_fields__[s].type for s in ("model", "data", "training",
                                                                                  "evaluation")))
    assert all(field.metadata["help"] for _, field in fields.values())


def test_flat_round_trip_and_replace():
    settings = RunSettings.from_flat("/tmp/x", {"image_size": 64, "eval_steps": 7, "dataset": "d"})
    assert settings.model.image_size == 64 and settings.evaluation.eval_steps == 7 and settings.data.dataset == "d"
    assert RunSettings.from_flat("/tmp/x", settings.flat()) == settings
    assert settings.replace(eval_steps=9).evaluation.eval_steps == 9 and settings.evaluation.eval_steps == 7
    with pytest.raises(SettingError, match="no_such_setting"):
        RunSettings.from_flat("/tmp/x", {"no_such_setting": 1})


@pytest.mark.parametrize("name,value,reason", [
    ("image_size", 100, "multiple of 2\\*\\*ae_depth"), ("image_size", 48, "encoder grid of 6x6"), ("batch_size", 0, ">= 1"),
    ("keep_prob", 0.0, "\\(0, 1\\]"), ("mixed_precision", "fp8", "one of"), ("generator_loss", "gan", "one of"),
    ("checkpoint_every", 0, ">= 1"), ("strategy", "tpu", "one of"), ("ae_steps", -1, ">= 0"),
    ("learning_rate", 0.0, "positive"), ("finetune_layers", 6, "<= 5"), ("image_size", "96", "must be a int"),
    ("eval_precision", "fp64", "one of"), ("dropout_rate", 1.0, "\\[0, 1\\)")])
def test_bad_values_name_the_setting(name, value, reason):
    with pytest.raises(SettingError, match=reason) as err:
        RunSettings.from_flat("/tmp/x", {name: value, **({"ae_depth": 3} if value == 48 else {})}).validate()
    assert err.value.setting == name and err.value.value == value
    assert err.value.as_flag().startswith(f"--{name}={value}: ")
