"""Tests of spot_tf/data/tfrecord_writer.py: ImageNet-schema examples and sharded writing."""

import io
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from spot_tf.data import tfrecord_writer


def _png(mode, size=(10, 6)):
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("image", [
    np.zeros((6, 10, 3), np.uint8), np.zeros((6, 10), np.uint8), np.zeros((6, 10, 1), np.uint8),
    np.zeros((6, 10, 4), np.uint8), _png("RGBA"), _png("L"), _png("RGB")])
def test_example_is_rgb_jpeg_in_imagenet_schema(image):
    example = tfrecord_writer.image_example(image, 7, filename="f.JPEG", synset="n1", text="one")
    feature = example.features.feature
    encoded = feature["image/encoded"].bytes_list.value[0]
    assert Image.open(io.BytesIO(encoded)).format == "JPEG"
    assert Image.open(io.BytesIO(encoded)).mode == "RGB"
    assert feature["image/height"].int64_list.value == [6]
    assert feature["image/width"].int64_list.value == [10]
    assert feature["image/channels"].int64_list.value == [3]
    assert feature["image/class/label"].int64_list.value == [7]
    for key, value in [("image/format", b"JPEG"), ("image/colorspace", b"RGB"),
                       ("image/filename", b"f.JPEG"), ("image/class/synset", b"n1"),
                       ("image/class/text", b"one")]:
        assert feature[key].bytes_list.value == [value]


def test_rgb_jpeg_bytes_are_kept():
    buffer = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 20, 30)).save(buffer, format="JPEG")
    assert tfrecord_writer.to_rgb_jpeg(buffer.getvalue()) == (buffer.getvalue(), 4, 5)


def test_write_sharded_and_labels(tmp_path):
    paths = tfrecord_writer.write_sharded(
        list(range(10)), lambda i: tfrecord_writer.image_example(np.zeros((4, 4, 3), np.uint8), i),
        str(tmp_path), "train", 3, num_workers=2)
    assert [os.path.basename(p) for p in paths] == [
        "train-00000-of-00003", "train-00001-of-00003", "train-00002-of-00003"]
    labels = [tf.train.Example.FromString(r.numpy()).features.feature["image/class/label"]
              .int64_list.value[0] for r in tf.data.TFRecordDataset(paths)]
    assert labels == list(range(10))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    tfrecord_writer.write_labels_file(str(tmp_path), ["b", "a"])
    assert tfrecord_writer.read_labels_file(str(tmp_path)) == ("b", "a")
    assert tfrecord_writer.read_labels_file(str(tmp_path / "nowhere")) is None


@pytest.mark.parametrize("size, shorter, stored", [
    ((500, 375), 256, (341, 256)), ((375, 500), 256, (256, 341)), ((300, 300), 256, (256, 256)),
    ((200, 150), 256, (200, 150)), ((500, 375), 0, (500, 375)), ((1000, 100), 50, (500, 50))])
def test_stored_size_shrinks_the_shorter_side_and_never_enlarges(size, shorter, stored):
    assert tfrecord_writer.stored_size(*size, shorter) == stored


def _jpeg(size):
    buffer = io.BytesIO()
    pixels = np.random.RandomState(0).randint(0, 256, (size[1], size[0], 3), np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_a_jpeg_is_stored_shrunk_to_its_shorter_side_and_a_small_one_as_it_is():
    large, small = _jpeg((50, 40)), _jpeg((25, 20))
    encoded, height, width = tfrecord_writer.to_rgb_jpeg(large, resize_shorter=20)
    assert (height, width) == (20, 25) and tf.io.decode_jpeg(encoded).shape == (20, 25, 3)
    assert tfrecord_writer.to_rgb_jpeg(small, resize_shorter=20) == (small, 20, 25)
    assert tfrecord_writer.to_rgb_jpeg(large) == (large, 40, 50)
    example = tfrecord_writer.image_example(np.zeros((40, 50, 3), np.uint8), 1, resize_shorter=10)
    assert example.features.feature["image/height"].int64_list.value == [10]
    assert example.features.feature["image/width"].int64_list.value == [12]
