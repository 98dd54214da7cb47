"""Tests of spot_tf/data/demo.py: the embedded demo dataset."""

import os

from spot_tf.data import demo
from spot_tf.data import imagenet_tfrecord


def test_demo_is_written_once(tmp_path, monkeypatch):
    directory = demo.ensure_demo(str(tmp_path))
    assert directory == str(tmp_path / "demo")
    info = imagenet_tfrecord.TFRecordSource(directory, kind="demo").describe()
    per_photo = demo.CROPS_PER_PHOTO
    assert info.num_classes == len(demo.PHOTOS) == 8
    assert info.num_examples["train"] == len(demo.PHOTOS) * per_photo * 4 // 5
    assert info.num_examples["test"] == len(demo.PHOTOS) * per_photo // 5
    # No temporary directory is left behind.
    assert os.listdir(tmp_path) == ["demo"]
    mtimes = {f: os.stat(os.path.join(directory, f)).st_mtime_ns for f in os.listdir(directory)}

    def fail(*args, **kwargs):
        raise AssertionError("the cached demo was written again")

    monkeypatch.setattr(demo, "_write", fail)
    assert demo.ensure_demo(str(tmp_path)) == directory
    assert mtimes == {f: os.stat(os.path.join(directory, f)).st_mtime_ns
                      for f in os.listdir(directory)}


def test_cache_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPOT_TF_CACHE", str(tmp_path))
    assert demo.cache_root() == str(tmp_path)
    assert demo.cache_root("/elsewhere") == "/elsewhere"
    monkeypatch.delenv("SPOT_TF_CACHE")
    assert demo.cache_root().endswith(os.path.join(".cache", "spot_tf"))


def test_interrupted_write_leaves_no_cache(tmp_path, monkeypatch):
    def interrupted(directory, seed=0):
        open(os.path.join(directory, "train-00000-of-00008"), "w").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_write", interrupted)
    try:
        demo.ensure_demo(str(tmp_path))
    except KeyboardInterrupt:
        pass
    assert os.listdir(tmp_path) == []
