import os

import pytest
from absl import flags

from spot_tf import cli
from spot_tf.settings import setting_fields, value_type


def _fresh_flags():
    values = flags.FlagValues()
    cli.define_flags(values)
    return values


def test_one_flag_per_setting_with_its_default_bounds_and_choices():
    values = _fresh_flags()
    for name, (section, field) in setting_fields().items():
        assert values[name].default == field.default, name
        assert section in values[name].help and field.metadata["help"] in values[name].help
    assert set(setting_fields()) | {"phase", "model_dir"} == set(values)
    assert values["strategy"].parser.enum_values == ["default", "mirrored", "multi_worker"]
    assert values["ae_depth"].parser.upper_bound == 5 and values["image_size"].parser.lower_bound == 16
    assert all(value_type(field) is not bool or values[name].boolean for name, (_, field) in setting_fields().items())


def test_given_settings_are_the_flags_named_on_the_command_line(tmp_path):
    values = _fresh_flags()
    flagfile = tmp_path / "x.flags"
    flagfile.write_text("--image_size=64\n")
    values(["prog", "--model_dir=m", f"--flagfile={flagfile}", "--spot_steps=3", "--xla"])
    assert cli.given_settings(values) == {"image_size": 64, "spot_steps": 3, "xla": True}


def test_packaged_flagfiles_can_be_named_without_a_path(tmp_path):
    demo = os.path.join(cli.CONFIGS_DIR, "demo.flags")
    assert os.path.isfile(demo)
    assert cli.packaged_flagfiles(["p", "--flagfile=demo"]) == ["p", f"--flagfile={demo}"]
    assert cli.packaged_flagfiles(["p", "--flagfile", "imagenet.flags", "--x=1"]) == [
        "p", f"--flagfile={os.path.join(cli.CONFIGS_DIR, 'imagenet.flags')}", "--x=1"]
    own = tmp_path / "demo"
    own.write_text("--image_size=32\n")
    # A file of that name is the user's: it wins; an unknown name is left for absl to refuse.
    assert cli.packaged_flagfiles(["p", f"--flagfile={own}", "--flagfile=nope"]) == [
        "p", f"--flagfile={own}", "--flagfile=nope"]


def test_fail_prints_one_error_line_and_exits_1(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.fail("--image_size=100: must be a multiple of 16")
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: --image_size=100: must be a multiple of 16\n"
