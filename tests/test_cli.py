import json
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


def test_a_failed_command_exits_without_finalizing_the_interpreter(monkeypatch, capsys, tmp_path):
    exits = []

    class Exited(Exception):
        pass

    def os_exit(code):
        exits.append(code)
        raise Exited

    monkeypatch.setattr(cli.os, "_exit", os_exit)
    monkeypatch.setattr(cli.sys, "argv", ["spot-tf", f"--model_dir={tmp_path}", "unexpected"])
    cli.FLAGS.unparse_flags()
    with pytest.raises(Exited):
        cli.run()
    assert exits == [1] and capsys.readouterr().err.strip().splitlines()[-1] == "error: unexpected arguments: unexpected"
    with pytest.raises(Exited):
        cli.exit_now("a message")
    assert exits == [1, 1] and capsys.readouterr().err == "a message\n"


def _command(capsys, *args):
    """Runs the entry point in this process; returns its `error:` line (it must end with exactly one)."""
    cli.FLAGS.unparse_flags()
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(cli.parse_flags(["spot-tf", *args]))
    finally:
        cli.FLAGS.unparse_flags()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


def test_a_flagfile_that_is_not_utf8_is_named_with_its_byte(tmp_path, capsys):
    flagfile = tmp_path / "latin1.flags"
    flagfile.write_bytes("--image_size=32\n# caf\u00e9\n".encode("latin-1"))
    assert _command(capsys, f"--flagfile={flagfile}", f"--model_dir={tmp_path}") == (
        f"error: --flagfile={flagfile}: not UTF-8 text: byte 0xe9 at line 2 (offset 21); save it as UTF-8")


def test_a_model_dir_that_is_a_file_or_below_one_and_a_config_json_that_is_a_folder(tmp_path, capsys, demo_cache):
    (tmp_path / "file").write_text("")
    common = ["--phase=export", f"--data_cache_dir={demo_cache}"]
    assert _command(capsys, f"--model_dir={tmp_path}/file", *common) == \
        f"error: --model_dir={tmp_path}/file: is a file, not a folder"
    assert _command(capsys, f"--model_dir={tmp_path}/file/run", *common).startswith(
        f"error: a part of the path is a file, not a folder: {tmp_path}/file/run")
    (tmp_path / "run" / "config.json").mkdir(parents=True)
    assert _command(capsys, f"--model_dir={tmp_path}/run", *common) == (
        f"error: --model_dir={tmp_path}/run: {tmp_path}/run/config.json is not a file: move it away, or use another "
        f"model_dir")


def test_a_command_that_fails_first_leaves_nothing_that_refuses_the_corrected_one(tmp_path, capsys, demo_cache):
    common = [f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--batch_size=4", "--summary_every=100"]
    # The spot phase before any autoencoder, with a typo in a setting that checkpoints fix.
    assert "no checkpoint there" in _command(capsys, "--phase=spot", "--image_size=48", *common)
    assert not (tmp_path / "config.json").exists()
    cli.FLAGS.unparse_flags()
    try:
        cli.main(cli.parse_flags(["spot-tf", "--phase=autoencoder", "--image_size=32", "--ae_steps=1", *common]))
    finally:
        cli.FLAGS.unparse_flags()
    assert json.loads((tmp_path / "config.json").read_text())["model"]["image_size"] == 32
    assert (tmp_path / "autoencoder" / "ckpt-1.index").exists()


def test_a_read_only_folder_is_named_in_one_line(tmp_path, capsys, demo_cache):
    import subprocess
    disk = tmp_path / "read_only"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a read-only folder is made by mounting a read-only tmpfs, which this machine does not permit "
                    f"({mounted.stderr.strip() or mounted.returncode})")
    try:
        assert _command(capsys, f"--model_dir={disk}/run", "--phase=export", f"--data_cache_dir={demo_cache}") == (
            f"error: the file system is read-only: {disk}/run (Read-only file system)")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
