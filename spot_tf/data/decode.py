"""Decoding of encoded images (JPEG, PNG, greyscale, RGBA) to RGB, without ever raising.

One corrupt image must not stop a week-long run, and ``ignore_errors()`` on the whole pipeline would
hide what it dropped. So the decode runs in a one-element nested dataset whose errors are dropped,
and a fallback element with ``ok=False`` takes its place; the pipeline drops (and counts, see
skips.py) the failures after the map.
"""

import tensorflow as tf

# What a failed decode yields; big enough for any crop or resize to run before it is filtered out.
# (Made per call, not at import: MultiWorkerMirroredStrategy must come before any TF op runs.)
_PLACEHOLDER_SHAPE = (8, 8, 3)


def _decode_rgb(encoded):
    # channels=3 turns greyscale into RGB and drops an alpha channel.
    return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def decode_image(encoded):
    """Decodes JPEG/PNG/GIF/BMP bytes to uint8 [H, W, 3]; returns ``(image, ok)``, never raises."""
    decoded = tf.data.Dataset.from_tensors(encoded).map(
        lambda x: (_decode_rgb(x), True)).ignore_errors()
    fallback = tf.data.Dataset.from_tensors((tf.zeros(_PLACEHOLDER_SHAPE, tf.uint8), False))
    image, ok = decoded.concatenate(fallback).take(1).get_single_element()
    return tf.ensure_shape(image, [None, None, 3]), ok
