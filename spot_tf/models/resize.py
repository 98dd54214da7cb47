"""The original's 2x resizes.

The decoder upsamples with TF1's `tf.image.resize_images(..., BILINEAR)`: align_corners=False and
half_pixel_centers=False, so output pixel i samples input position i / 2. For a factor of 2 that is
out[2k] = in[k] and out[2k+1] = in[k] + (in[min(k + 1, n - 1)] - in[k]) / 2. Keras' UpSampling2D and
TF2's tf.image.resize sample at half-pixel centres instead and do not reproduce the original decoder.
"""
import tensorflow as tf
from keras import ops

from spot_tf.models.device_kernels import RESIZE_GRADIENT, use_cpu_rewrite


def upsample2x_bilinear_tf1(x):
    """2x bilinear upsampling of an NHWC tensor exactly as TF1's default `resize_bilinear`.

    Runs the very op the original graph runs (`ResizeBilinear`, half_pixel_centers=False), whose
    CPU kernels (and XLA lowering) are 2-4x faster, forward and backward, than building the result
    from slices, stacks and reshapes. The op computes in float32; the result keeps `x`'s dtype.
    In bfloat16 on a CPU (static spatial size) the gradient is a strided depthwise convolution instead of
    `ResizeBilinearGrad` (see `_upsample2x_bilinear_tf1_bf16`); float32, and GPUs, keep the op's own gradient.
    """
    height, width = x.shape[1], x.shape[2]
    if (x.dtype == tf.bfloat16 and height is not None and width is not None and x.shape[3] is not None
            and use_cpu_rewrite(RESIZE_GRADIENT)):
        return _upsample2x_bilinear_tf1_bf16(x)
    if height is None or width is None:
        size = tf.shape(x)[1:3] * 2
    else:
        size = [2 * height, 2 * width]
    out = tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=False, half_pixel_centers=False)
    return tf.cast(out, x.dtype)


def _edge_weights(n, dtype):
    # The last output row (column) copies the last input row entirely (the clamped neighbour):
    # its gradient counts twice in the [0.5, 1, 0.5] window below, where every other odd row is shared.
    return tf.constant([1.0] * (2 * n - 1) + [2.0], dtype)


@tf.custom_gradient
def _upsample2x_bilinear_tf1_bf16(x):
    """The same forward op, with the adjoint of the 2x upsampling as the gradient.

    Along each axis out[2k] = in[k] and out[2k+1] = (in[k] + in[k+1]) / 2 (in[n] = in[n-1]), so
    d_in[k] = 0.5 d_out[2k-1] + d_out[2k] + 0.5 d_out[2k+1], with d_out[2n-1] counted at weight 1:
    a stride-2 3x3 depthwise convolution (kernel [0.5, 1, 0.5] x [0.5, 1, 0.5]) of the gradient
    padded by one zero row and column in front, after doubling its last row and column. oneDNN runs it
    in bfloat16 with float32 accumulation; its weights and the doubling are exact in bfloat16, so the
    result is the float32 `ResizeBilinearGrad` of the same bfloat16 gradient, rounded once to bfloat16
    (as that op's output is). It is 3-4x faster for the upsampling's forward and backward together,
    mostly because `ResizeBilinearGrad` is slow and takes a float32 copy of the gradient.
    """
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    out = tf.raw_ops.ResizeBilinear(images=x, size=[2 * height, 2 * width], align_corners=False,
                                    half_pixel_centers=False)

    def grad(d_out):
        d_out = tf.cast(d_out, x.dtype)
        taps = tf.constant([0.5, 1.0, 0.5], x.dtype)
        kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None], [1, 1, channels, 1])
        edges = _edge_weights(height, x.dtype)[:, None] * _edge_weights(width, x.dtype)[None, :]
        padded = tf.pad(d_out * edges[None, :, :, None], [[0, 0], [1, 0], [1, 0], [0, 0]])
        return tf.nn.depthwise_conv2d(padded, kernel, [1, 2, 2, 1], "VALID")

    return tf.cast(out, x.dtype), grad


def upsample_nearest(x, factor=2):
    """Nearest-neighbour upsampling of an NHWC tensor by an integer factor (TF1's for integer factors)."""
    if factor == 1:
        return x
    return ops.repeat(ops.repeat(x, factor, axis=1), factor, axis=2)
