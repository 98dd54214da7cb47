import numpy as np
import tensorflow as tf

from spot_tf.models.resize import upsample2x_bilinear_tf1, upsample_nearest


def test_bilinear_matches_tf1_resize():
    x = tf.random.stateless_normal((2, 6, 5, 4), seed=(1, 2))
    ref = tf.compat.v1.image.resize_bilinear(x, (12, 10), align_corners=False, half_pixel_centers=False)
    np.testing.assert_allclose(upsample2x_bilinear_tf1(x), ref, atol=1e-6)


def test_bilinear_differs_from_half_pixel_resize():
    # The TF2 / Keras default samples at half-pixel centres: not the original decoder.
    x = tf.random.stateless_normal((1, 6, 6, 1), seed=(3, 4))
    assert np.max(np.abs(upsample2x_bilinear_tf1(x) - tf.image.resize(x, (12, 12), "bilinear"))) > 0.05


def test_bilinear_keeps_dtype():
    x = tf.cast(tf.random.stateless_normal((1, 3, 3, 2), seed=(5, 6)), tf.bfloat16)
    assert upsample2x_bilinear_tf1(x).dtype == tf.bfloat16


def test_nearest_repeats_each_cell():
    x = tf.reshape(tf.range(4.0), (1, 2, 2, 1))
    out = upsample_nearest(x, 2)[0, :, :, 0].numpy()
    np.testing.assert_array_equal(out, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    ref = tf.compat.v1.image.resize_nearest_neighbor(x, (8, 8))
    np.testing.assert_array_equal(upsample_nearest(x, 4), ref)
