"""Tests of spot_tf/data/decode.py: decoding to RGB, and the fused JPEG crop."""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from spot_tf.data import decode
from spot_tf.data import preprocessing


def _encode(array, fmt):
    return (tf.io.encode_png(array) if fmt == "png" else tf.io.encode_jpeg(array)).numpy()


@pytest.mark.parametrize("channels,fmt", [(3, "jpeg"), (1, "jpeg"), (3, "png"), (4, "png"),
                                          (1, "png")])
def test_decodes_to_rgb(channels, fmt):
    array = np.full((6, 5, channels), 200, np.uint8)
    image = decode.decode_image(_encode(array, fmt))
    assert image.shape == (6, 5, 3) and image.dtype == tf.uint8


@pytest.mark.parametrize("data", [b"", b"garbage", None])
def test_bad_bytes_raise(data):
    if data is None:  # A truncated JPEG.
        data = _encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), "jpeg")[:300]
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode.decode_image(data)


def noise_jpeg(mode="RGB", height=75, width=101, **save_options):
    """A JPEG (PIL: 4:2:0 unless ``subsampling`` says otherwise) of colour noise: the chroma
    changes from each pixel to the next, so any error of the chroma upsampling shows."""
    pixels = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format="JPEG", quality=90, **save_options)
    return buffer.getvalue()


def _fixed(begin, size):
    return lambda shape: (tf.constant(begin + [0]), tf.constant(size + [-1]))


def _both_paths(encoded, window):
    """(fused crop, whole-decode crop), both decoded."""
    fused, whole = (decode.decode_crop(encoded, window, fused=f) for f in (True, False))
    return fused.numpy(), whole.numpy()


JPEG_KINDS = {"4:2:0": {}, "4:2:2": {"subsampling": 1}, "4:4:4": {"subsampling": 0},
              "progressive": {"progressive": True}, "grey": {"mode": "L"}, "cmyk": {"mode": "CMYK"}}


@pytest.mark.parametrize("kind", sorted(JPEG_KINDS))
def test_fused_crop_is_the_window_of_the_whole_decode(kind):
    encoded = noise_jpeg(**JPEG_KINDS[kind])
    assert bool(decode._is_whole_jpeg(encoded))  # Else the fused path would not be taken.

    def training_window(i):
        seeds = preprocessing.train_seeds(tf.constant([7, i], tf.int64))
        return lambda shape: preprocessing.train_crop_window(shape, seeds)

    # Training crops, then the edges: odd offsets, one column at either side, the whole image.
    windows = [training_window(i) for i in range(40)] + [
        _fixed(begin, size) for begin, size in [([3, 5], [9, 17]), ([0, 0], [75, 1]),
                                                ([0, 100], [75, 1]), ([0, 0], [75, 101])]]
    crop_shapes = set()
    for window in windows:
        fused, whole = _both_paths(encoded, window)
        np.testing.assert_array_equal(fused, whole)  # Tolerance 0.
        crop_shapes.add(fused.shape)
    assert len(crop_shapes) > 30  # The windows differ.


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_windows_come_from_the_whole_decode(channels):
    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, channels), np.uint8)
    encoded = _encode(pixels, "png")
    assert not bool(decode._is_whole_jpeg(encoded))
    fused, whole = _both_paths(encoded, _fixed([2, 3], [10, 20]))
    np.testing.assert_array_equal(fused, whole)
    full = decode.decode_image(encoded)
    np.testing.assert_array_equal(fused, full.numpy()[2:12, 3:23])


@pytest.mark.parametrize("cut", [2, 1000])
def test_a_jpeg_cut_short_is_refused_even_above_the_cut(cut):
    encoded = noise_jpeg()[:-cut]  # Without its EOI alone, or without the last rows too.
    assert not bool(decode._is_whole_jpeg(encoded))
    for fused in (True, False):
        with pytest.raises(tf.errors.InvalidArgumentError):
            decode.decode_crop(encoded, _fixed([0, 0], [8, 8]), fused=fused)
    # What the rule guards against: the first rows alone do decode.
    assert tf.io.decode_and_crop_jpeg(encoded, [0, 0, 8, 8], channels=3).shape == (8, 8, 3)


def test_bytes_after_the_image_are_decoded_whole():
    encoded = noise_jpeg() + b"\0" * 16
    assert bool(tf.io.is_jpeg(encoded)) and not bool(decode._is_whole_jpeg(encoded))
    fused, whole = _both_paths(encoded, _fixed([4, 4], [30, 30]))
    np.testing.assert_array_equal(fused, whole)


@pytest.mark.parametrize("data", [b"", b"garbage", b"\xff\xd8\xff garbage \xff\xd9"])
def test_bad_bytes_give_no_crop(data):
    for fused in (True, False):
        with pytest.raises(tf.errors.InvalidArgumentError):
            decode.decode_crop(data, _fixed([0, 0], [4, 4]), fused=fused)
