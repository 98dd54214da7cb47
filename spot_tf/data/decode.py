"""Decoding of encoded images (JPEG, PNG, greyscale, RGBA) to RGB, without ever raising.

One corrupt image must not stop a week-long run, yet ``ignore_errors()`` on a TFRecord reader can
hang and hides what it dropped. So the decode runs in a one-element nested dataset whose errors are
dropped, and a fallback element with ``ok=False`` takes its place; the pipeline filters (and counts)
the failures after the map.
"""

import threading

from absl import logging
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


class DecodeErrors:
    """Counts and logs the images the pipeline skipped because they did not decode."""

    def __init__(self, name="", log_first=10, log_every=100):
        self.name = name
        self.count = 0
        self.origins = []  # The first ``log_first`` offenders, for reports and tests.
        self._log_first = log_first
        self._log_every = log_every
        self._lock = threading.Lock()

    def record(self, origin):
        """Called (through ``tf.py_function``) once per skipped image; returns False for filter()."""
        origin = origin.numpy().decode("utf-8", "replace")
        with self._lock:
            self.count += 1
            count = self.count
            if len(self.origins) < self._log_first:
                self.origins.append(origin)
        if count <= self._log_first or count % self._log_every == 0:
            logging.warning("%s: skipped an image that does not decode (%d skipped so far): %s",
                            self.name, count, origin)
        return False

    def keep(self, ok, origin, strict):
        """The filter() predicate: True for decoded images; counts the rest, or fails if ``strict``."""
        if strict:
            with tf.control_dependencies([tf.debugging.Assert(
                ok, ["Image does not decode (strict_decode is on):", origin])]):
                return tf.identity(ok)
        return tf.cond(ok, lambda: tf.constant(True),
                       lambda: tf.reshape(tf.py_function(self.record, [origin], tf.bool), []))
