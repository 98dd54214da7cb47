"""Tests of spot_tf/data/decode.py: decoding that never raises, and failure counting."""

import numpy as np
import pytest
import tensorflow as tf

from spot_tf.data import decode


def _encode(array, fmt):
    return (tf.io.encode_png(array) if fmt == "png" else tf.io.encode_jpeg(array)).numpy()


@pytest.mark.parametrize("channels,fmt", [(3, "jpeg"), (1, "jpeg"), (3, "png"), (4, "png"),
                                          (1, "png")])
def test_decodes_to_rgb(channels, fmt):
    array = np.full((6, 5, channels), 200, np.uint8)
    image, ok = decode.decode_image(_encode(array, fmt))
    assert bool(ok) and image.shape == (6, 5, 3) and image.dtype == tf.uint8


@pytest.mark.parametrize("data", [b"", b"garbage", None])
def test_bad_bytes_give_not_ok(data):
    if data is None:  # A truncated JPEG.
        data = _encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), "jpeg")[:300]
    _, ok = decode.decode_image(data)
    assert not bool(ok)
