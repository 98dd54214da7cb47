"""Tests of spot_tf/data/demo.py: the embedded demo dataset."""

import json
import os
import shutil

import pytest

from spot_tf.data import demo
from spot_tf.data import imagenet_tfrecord
from spot_tf.errors import SettingError


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


def _copy_of(demo_cache, tmp_path):
    """A copy of the session's demo cache, with files of others next to and inside it."""
    root = tmp_path / "cache"
    shutil.copytree(demo_cache, root)
    (root / "mine.txt").write_text("not the demo's")
    (root / "demo" / "notes.txt").write_text("not the demo's")
    return root


@pytest.mark.parametrize("damage", ["deleted", "truncated", "edited"])
def test_damaged_cache_is_written_again(demo_cache, tmp_path, damage):
    root = _copy_of(demo_cache, tmp_path)
    shard = root / "demo" / "train-00003-of-00008"
    data = shard.read_bytes()
    if damage == "deleted":
        shard.unlink()
    elif damage == "truncated":
        shard.write_bytes(data[:len(data) // 2])
    else:  # The same size, one byte changed: only the content tells.
        middle = len(data) // 2
        shard.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    directory = demo.ensure_demo(str(root))
    assert shard.read_bytes() == data
    info = imagenet_tfrecord.TFRecordSource(directory, kind="demo").describe(("train",))
    assert info.num_examples["train"] == len(demo.PHOTOS) * demo.CROPS_PER_PHOTO * 4 // 5
    # Nothing the demo did not write is touched, and no temporary directory is left.
    assert sorted(os.listdir(root)) == ["demo", "mine.txt"]
    assert (root / "demo" / "notes.txt").read_text() == "not the demo's"


def test_rewrite_deletes_what_only_the_old_manifest_lists(demo_cache, tmp_path):
    root = _copy_of(demo_cache, tmp_path)
    manifest_path = root / "demo" / demo.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    (root / "demo" / "train-00008-of-00009").write_bytes(b"an older layout's shard")
    manifest["files"]["train-00008-of-00009"] = {"size": 23}
    manifest["version"] = demo.VERSION - 1
    manifest_path.write_text(json.dumps(manifest))
    demo.ensure_demo(str(root))
    names = set(os.listdir(root / "demo"))
    assert "train-00008-of-00009" not in names and "notes.txt" in names
    assert set(json.loads(manifest_path.read_text())["files"]) == names - {"notes.txt",
                                                                           demo.MANIFEST}


def test_unwritable_cache_names_the_setting(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SettingError, match="cannot write the demo") as error:
        demo.ensure_demo(str(tmp_path / "a_file"))
    assert error.value.setting == "data_cache_dir"
