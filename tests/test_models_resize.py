import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models.device_kernels import cpu_has_native_bf16
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


def _gradient_graph_ops(x):
    """Op types of the graph that computes upsample2x_bilinear_tf1(x) and its gradient."""
    @tf.function
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = upsample2x_bilinear_tf1(x)
        return tape.gradient(y, x, output_gradients=tf.ones_like(y))
    return {op.type for op in forward_backward.get_concrete_function(x).graph.get_operations()}


@pytest.mark.parametrize("shape", [(2, 6, 5, 4), (1, 1, 1, 3), (3, 1, 4, 2)])
def test_bf16_gradient_is_the_float32_gradient_rounded_once(shape):
    x = tf.cast(tf.random.stateless_normal(shape, seed=(7, 8)), tf.bfloat16)
    d_out = tf.cast(tf.random.stateless_normal((shape[0], 2 * shape[1], 2 * shape[2], shape[3]), seed=(9, 10)),
                    tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = upsample2x_bilinear_tf1(x)
    grad = tape.gradient(y, x, output_gradients=d_out)
    assert y.dtype == grad.dtype == tf.bfloat16
    x32 = tf.cast(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x32)
        y32 = tf.compat.v1.image.resize_bilinear(x32, (2 * shape[1], 2 * shape[2]), align_corners=False,
                                                 half_pixel_centers=False)
    grad32 = tape.gradient(y32, x32, output_gradients=tf.cast(d_out, tf.float32))
    np.testing.assert_array_equal(y.numpy(), tf.cast(y32, tf.bfloat16).numpy())
    ops = _gradient_graph_ops(x)
    if cpu_has_native_bf16():
        # The depthwise convolution: the same float32 sums of the same bfloat16 gradient, rounded to bfloat16
        # once (one ulp of slack for the order of the sums).
        assert "DepthwiseConv2dNative" in ops and "ResizeBilinearGrad" not in ops
        np.testing.assert_allclose(tf.cast(grad, tf.float32), grad32, rtol=2 ** -7, atol=1e-6)
    else:
        # Without native bfloat16 the op's own gradient, which sums in float32: exactly grad32 rounded once.
        assert "ResizeBilinearGrad" in ops and "DepthwiseConv2dNative" not in ops
        np.testing.assert_array_equal(grad.numpy(), tf.cast(grad32, tf.bfloat16).numpy())


def test_bf16_gradient_is_a_depthwise_convolution_without_a_float32_copy(native_bf16_cpu):
    # ResizeBilinearGrad took a float32 copy of the gradient and was the slowest op of the bf16 decoder.
    # Only the graph is checked here: on a CPU without native bfloat16 the depthwise convolution does not sum
    # in float32, so its numerics are checked (above) only where the rewrite runs unforced.
    ops = _gradient_graph_ops(tf.zeros((2, 6, 6, 4), tf.bfloat16))
    assert "ResizeBilinearGrad" not in ops and "DepthwiseConv2dNative" in ops
    # float32 keeps the op's own gradient (bit-identical to the original).
    ops = _gradient_graph_ops(tf.zeros((2, 6, 6, 4), tf.float32))
    assert "ResizeBilinearGrad" in ops and "DepthwiseConv2dNative" not in ops
