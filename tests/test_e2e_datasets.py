"""End-to-end: the dataset converters in datasets/, run as users run them."""

import os
import subprocess
import sys

from spot_tf.data import imagenet_tfrecord
from test_data_image_folder import make_image_folder

DATASETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "datasets")


def _run(script, *flags):
    return subprocess.run([sys.executable, os.path.join(DATASETS, script), *flags], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _error_line(run):
    """The one ``error:`` line a failed run ended with (TensorFlow's start-up lines come before)."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert sum(line.startswith("error:") for line in lines) == 1
    return lines[-1]


def test_build_imagenet_tfrecords_writes_stored_size_records_and_never_overwrites(tmp_path):
    make_image_folder(tmp_path / "in" / "train", classes=("cat", "dog"), size=(60, 40))
    make_image_folder(tmp_path / "in" / "val", classes=("cat", "dog"), size=(60, 40))
    out = tmp_path / "out"
    flags = [f"--input_dir={tmp_path / 'in'}", f"--output_dir={out}", "--train_shards=2",
             "--validation_shards=1", "--resize_shorter=20", "--num_workers=1"]
    run = _run("build_imagenet_tfrecords.py", *flags)
    assert run.returncode == 0, run.stderr[-3000:]
    info = imagenet_tfrecord.TFRecordSource(str(out)).describe()
    assert info.class_names == ("cat", "dog") and info.num_examples["train"] == info.num_examples["test"] == 10
    written = {name: (out / name).read_bytes() for name in os.listdir(out)}
    # A second run into the same folder: one line, and what the first wrote is untouched.
    line = _error_line(_run("build_imagenet_tfrecords.py", *flags))
    assert line.startswith(f"error: --output_dir={out}: already holds ")
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == written
    # A tree without a held-out split, before anything is written.
    make_image_folder(tmp_path / "only_train" / "train", classes=("cat",))
    line = _error_line(_run("build_imagenet_tfrecords.py", f"--input_dir={tmp_path / 'only_train'}",
                            f"--output_dir={tmp_path / 'out2'}"))
    assert line.startswith(f"error: --input_dir={tmp_path / 'only_train'}: no folder for split 'test'")
    assert not (tmp_path / "out2").exists()


def test_convert_stl10_names_a_folder_without_the_binaries(tmp_path):
    line = _error_line(_run("convert_stl10.py", f"--binary_dir={tmp_path}", f"--output_dir={tmp_path / 'out'}"))
    assert line.startswith(f"error: --binary_dir={tmp_path}: holds no STL-10 *_X.bin file")
    assert not (tmp_path / "out").exists()
