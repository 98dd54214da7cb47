"""Tests of spot_tf/data/converters.py (folder -> TFRecords, STL-10 binary -> TFRecords)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from spot_tf.data import converters
from spot_tf.data import imagenet_tfrecord
from spot_tf.data import preprocessing
from spot_tf.data import probe_views
from spot_tf.errors import SettingError
from test_data_image_folder import make_image_folder


def _read(files):
    return [tf.train.Example.FromString(r.numpy()).features.feature
            for r in tf.data.TFRecordDataset(files)]


def test_build_from_folder(tmp_path):
    make_image_folder(tmp_path / "in" / "train", classes=("b_dog", "a_cat"), copies=2)
    make_image_folder(tmp_path / "in" / "validation", classes=("b_dog", "a_cat"))
    out = str(tmp_path / "out")
    written = converters.build_from_folder(str(tmp_path / "in"), out,
                                           {"train": 3, "validation": 1}, class_text={"a_cat": "cat"})
    assert sorted(os.listdir(out)) == ["labels.txt", "train-00000-of-00003",
                                       "train-00001-of-00003", "train-00002-of-00003",
                                       "validation-00000-of-00001"]
    train = _read(written["train"])
    assert len(train) == 20
    by_synset = {f["image/class/synset"].bytes_list.value[0]: f for f in train}
    # Labels 1..N by sorted class name.
    assert by_synset[b"a_cat"]["image/class/label"].int64_list.value == [1]
    assert by_synset[b"b_dog"]["image/class/label"].int64_list.value == [2]
    assert by_synset[b"a_cat"]["image/class/text"].bytes_list.value == [b"cat"]
    for f in train:
        assert f["image/channels"].int64_list.value == [3]
        assert f["image/format"].bytes_list.value == [b"JPEG"]
        image = tf.io.decode_jpeg(f["image/encoded"].bytes_list.value[0])
        assert image.shape == (36, 40, 3)
    info = imagenet_tfrecord.TFRecordSource(out).describe()
    assert info.class_names == ("a_cat", "b_dog") and info.num_examples["test"] == 10


def test_read_synset_text(tmp_path):
    (tmp_path / "m.txt").write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish\n\n")
    assert converters.read_synset_text(str(tmp_path / "m.txt")) == {
        "n01440764": "tench, Tinca tinca", "n01443537": "goldfish"}


def _write_stl10(directory, num, labels=True, stem="train"):
    """A fake STL-10 file: image i has value (i*7 + c) at channel c, column-major, plus a marker
    pixel (row 1, column 2) = 255 so that a wrong transpose is caught."""
    images = np.zeros((num, 96, 96, 3), np.uint8)
    for i in range(num):
        images[i] += np.arange(3, dtype=np.uint8) + 7 * i
        images[i, 1, 2] = 255
    images.transpose(0, 3, 2, 1).tofile(os.path.join(directory, f"{stem}_X.bin"))
    if labels:
        np.arange(1, num + 1, dtype=np.uint8).tofile(os.path.join(directory, f"{stem}_y.bin"))
    return images


def test_read_stl10_images_transposes(tmp_path):
    images = _write_stl10(tmp_path, 3)
    read = converters.read_stl10_images(str(tmp_path / "train_X.bin"))
    np.testing.assert_array_equal(read, images)
    assert read[0, 1, 2].tolist() == [255] * 3 and read[0, 2, 1].tolist() == [0, 1, 2]


def test_build_from_folder_checks_its_input_and_output_before_writing(tmp_path):
    make_image_folder(tmp_path / "in" / "train", classes=("cat",))
    out = tmp_path / "out"
    with pytest.raises(SettingError, match="no folder for split 'test'") as error:
        converters.build_from_folder(str(tmp_path / "in"), str(out), {"train": 2})
    assert error.value.setting == "input_dir" and not out.exists()
    make_image_folder(tmp_path / "in" / "val", classes=("cat",))
    out.mkdir()
    (out / "validation-00000-of-00001").write_text("another dataset's")
    with pytest.raises(SettingError, match="already holds validation-00000-of-00001") as error:
        converters.build_from_folder(str(tmp_path / "in"), str(out), {"train": 2})
    assert error.value.setting == "output_dir"
    assert os.listdir(out) == ["validation-00000-of-00001"]
    assert (out / "validation-00000-of-00001").read_text() == "another dataset's"
    with pytest.raises(SettingError, match="synset_text_file"):
        converters.read_synset_text(str(tmp_path / "missing.txt"))


def test_build_from_folder_stores_images_shrunk_to_their_shorter_side(tmp_path):
    make_image_folder(tmp_path / "in", classes=("cat",), size=(40, 36))
    written = converters.build_from_folder(str(tmp_path / "in"), str(tmp_path / "out"), {}, resize_shorter=18)
    shapes = {tuple(tf.io.decode_jpeg(f["image/encoded"].bytes_list.value[0]).shape)
              for prefix in written for f in _read(written[prefix])}
    assert shapes == {(18, 20, 3)}


def _least_training_crop_side(side, count=3000):
    """The least shorter side of `count` training windows of a side x side image (the least area for its side)."""
    def crop_side(index):
        seeds = preprocessing.train_seeds(tf.stack([index, tf.constant(3, tf.int64)]))
        _, size = preprocessing.train_crop_window(tf.constant([side, side, 3]), seeds)
        return tf.reduce_min(size[:2])
    return int(tf.data.Dataset.range(count).map(crop_side).reduce(side, tf.minimum))


def test_the_stored_side_upsamples_no_128_px_training_crop_nor_probe_image():
    assert _least_training_crop_side(converters.STORED_SHORTER_SIDE) >= 128
    assert _least_training_crop_side(converters.STORED_SHORTER_SIDE - 8) < 128  # The bound is tight.
    for protocol in probe_views.PROTOCOLS.values():
        assert probe_views.side(protocol.crop, protocol.crop) <= converters.STORED_SHORTER_SIDE


def test_convert_stl10(tmp_path):
    _write_stl10(tmp_path, 4)
    _write_stl10(tmp_path, 2, stem="test")
    _write_stl10(tmp_path, 3, labels=False, stem="unlabeled")
    out = str(tmp_path / "out")
    written = converters.convert_stl10(str(tmp_path), out,
                                       {"train": 2, "validation": 1, "unlabeled": 1}, resize_shorter=256)
    assert set(written) == {"train", "validation", "unlabeled"}
    train = _read(written["train"])
    assert [f["image/class/label"].int64_list.value[0] for f in train] == [1, 2, 3, 4]
    assert train[1]["image/class/synset"].bytes_list.value == [b"bird"]
    image = tf.io.decode_jpeg(train[1]["image/encoded"].bytes_list.value[0]).numpy()
    assert image.shape == (96, 96, 3)
    assert abs(image[50, 60].astype(int) - [7, 8, 9]).max() <= 3  # JPEG is lossy.
    assert [f["image/class/label"].int64_list.value[0] for f in _read(written["unlabeled"])] == [0] * 3
    info = imagenet_tfrecord.TFRecordSource(out).describe()
    assert info.num_examples == {"unsupervised": 3, "train": 4, "test": 2}
    assert info.num_classes == 10


def test_convert_stl10_errors_name_the_folder_at_fault_and_write_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="binary_dir"):
        converters.convert_stl10(str(tmp_path / "missing"), str(tmp_path / "out"), {})
    with pytest.raises(SettingError, match="holds no STL-10"):
        converters.convert_stl10(str(tmp_path), str(tmp_path / "out"), {})
    (tmp_path / "train_X.bin").write_bytes(b"\0" * 100)
    with pytest.raises(SettingError, match="train_X.bin holds 100 bytes"):
        converters.convert_stl10(str(tmp_path), str(tmp_path / "out"), {})
    _write_stl10(tmp_path, 2)
    (tmp_path / "train_y.bin").write_bytes(bytes([1, 2, 3]))
    with pytest.raises(SettingError, match="train_y.bin has 3 labels for 2 images"):
        converters.convert_stl10(str(tmp_path), str(tmp_path / "out"), {})
    _write_stl10(tmp_path, 2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "labels.txt").write_text("mine")
    with pytest.raises(SettingError, match="already holds labels.txt") as error:
        converters.convert_stl10(str(tmp_path), str(tmp_path / "out"), {})
    assert error.value.setting == "output_dir" and os.listdir(tmp_path / "out") == ["labels.txt"]


def test_shard_counts_name_the_written_prefixes():
    assert converters.shard_counts(8, 2, 64) == {"train": 8, "validation": 2, "unlabeled": 64}
