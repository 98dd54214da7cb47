"""Tests of spot_tf/models/empty_batch.py: inference on a batch that may hold no image."""

import numpy as np
import tensorflow as tf

from spot_tf.models.discriminator import Discriminator
from spot_tf.models.empty_batch import call_allowing_empty


def _conv(images):
    return {"maps": tf.nn.conv2d(images, tf.ones([3, 3, 3, 8]), 2, "VALID"), "sum": tf.reduce_sum(images, [1, 2, 3])}


def test_an_empty_batch_gives_empty_outputs_of_the_right_shape():
    run = tf.function(lambda images: call_allowing_empty(_conv, images, training=False),
                      input_signature=[tf.TensorSpec([None, 9, 9, 3], tf.float32)])
    empty = run(tf.zeros([0, 9, 9, 3]))
    assert empty["maps"].shape == (0, 4, 4, 8) and empty["sum"].shape == (0,)
    images = tf.random.stateless_uniform([2, 9, 9, 3], [1, 2])
    full = run(images)
    np.testing.assert_array_equal(full["maps"], _conv(images)["maps"])
    np.testing.assert_array_equal(call_allowing_empty(_conv, tf.zeros([0, 9, 9, 3]), False)["maps"].shape,
                                  (0, 4, 4, 8))  # Eagerly too.


def test_training_and_known_batches_run_fn_as_it_is():
    calls = []

    def fn(images):
        calls.append(images)
        return images

    images = tf.zeros([0, 4, 4, 3])
    assert call_allowing_empty(fn, images, training=True) is images and calls == [images]
    known = tf.ones([2, 4, 4, 3])
    assert call_allowing_empty(fn, known, training=False) is known


def test_the_discriminator_evaluates_an_empty_batch():
    disc = Discriminator(64, padding="valid")
    features = tf.function(lambda images: disc.features(images, training=False),
                           input_signature=[tf.TensorSpec([None, 64, 64, 3], tf.float32)])
    one = features(tf.zeros([1, 64, 64, 3]))
    empty = features(tf.zeros([0, 64, 64, 3]))
    for name, maps in one.items():
        assert empty[name].shape == (0,) + tuple(maps.shape[1:]), name
    outputs = tf.function(lambda images: disc(images, training=False),
                          input_signature=[tf.TensorSpec([None, 64, 64, 3], tf.float32)])(tf.zeros([0, 64, 64, 3]))
    assert outputs["logits"].shape == (0, 2)
