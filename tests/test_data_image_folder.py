"""Tests of spot_tf/data/image_folder.py: folders with one subfolder per class."""

import os

from PIL import Image
import pytest

from spot_tf.data import image_folder

# One file of each kind the reader must accept: (name, PIL mode, format).
KINDS = [("rgb.jpg", "RGB", "JPEG"), ("grey.JPEG", "L", "JPEG"), ("rgb.png", "RGB", "PNG"),
         ("rgba.png", "RGBA", "PNG"), ("grey.png", "L", "PNG")]


def make_image_folder(root, classes=("cat", "dog"), copies=1, size=(40, 36)):
    """Writes ``root/<class>/<i>_<kind>`` images of every kind in KINDS; returns the file count."""
    count = 0
    for c, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(copies):
            for file_name, mode, fmt in KINDS:
                colour = (40 * c + 10, 60, 200, 255)[:len(mode)] if mode != "L" else 40 * c + 10
                Image.new(mode, size, colour).save(os.path.join(root, name, f"{i}_{file_name}"), fmt)
                count += 1
        # Not an image: ignored.
        with open(os.path.join(root, name, "notes.txt"), "w") as f:
            f.write("not an image")
    return count


def _paths(source, split):
    return {path for path, _ in source.items(split)[1]}


def test_class_layout_hash_split(tmp_path):
    total = make_image_folder(tmp_path, copies=10)
    source = image_folder.ImageFolderSource(str(tmp_path))
    assert source.class_names == ("cat", "dog") and not source.has_split_dirs
    train, test = _paths(source, "train"), _paths(source, "test")
    assert not train & test and len(train | test) == total
    assert 0.1 < len(test) / total < 0.35
    assert _paths(source, "unsupervised") == train
    info = source.describe()
    assert info.num_classes == 2 and info.num_examples["test"] == len(test)


def test_split_layout(tmp_path):
    make_image_folder(tmp_path / "train", classes=("a", "b", "c"))
    make_image_folder(tmp_path / "val", classes=("a", "c"))  # Labels follow all class names.
    source = image_folder.ImageFolderSource(str(tmp_path))
    assert source.has_split_dirs and source.class_names == ("a", "b", "c")
    assert {label for _, label in source.items("test")[1]} == {0, 2}
    assert source.validate("test") == str(tmp_path / "val")
    assert source.validate("unsupervised") == str(tmp_path / "train")


def test_records_decode_all_kinds(tmp_path):
    make_image_folder(tmp_path / "train")
    make_image_folder(tmp_path / "test")
    source = image_folder.ImageFolderSource(str(tmp_path))
    records = list(source.records("test", training=False, seed=0, input_context=None))
    assert len(records) == 2 * len(KINDS)
    assert {int(r["label"]) for r in records} == {0, 1}


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing") as error:
        image_folder.ImageFolderSource(str(tmp_path / "missing"))
    assert error.value.setting == "dataset"
    assert error.value.as_flag() == f"--dataset={tmp_path / 'missing'}: no such directory."
    with pytest.raises(ValueError, match=str(tmp_path)):
        image_folder.ImageFolderSource(str(tmp_path))  # Empty.
    os.makedirs(tmp_path / "cat")
    with pytest.raises(ValueError, match="no .*image"):
        image_folder.ImageFolderSource(str(tmp_path)).describe()
    os.makedirs(tmp_path / "split" / "train" / "cat")
    make_image_folder(tmp_path / "split" / "train")
    with pytest.raises(FileNotFoundError, match="split 'test'"):
        image_folder.ImageFolderSource(str(tmp_path / "split")).validate("test")
