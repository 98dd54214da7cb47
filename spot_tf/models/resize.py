"""The original's 2x resizes, as plain ops (XLA-friendly and dtype-preserving).

The decoder upsamples with TF1's `tf.image.resize_images(..., BILINEAR)`: align_corners=False and
half_pixel_centers=False, so output pixel i samples input position i / 2. For a factor of 2 that is
out[2k] = in[k] and out[2k+1] = (in[k] + in[min(k + 1, n - 1)]) / 2. Keras' UpSampling2D and TF2's
tf.image.resize sample at half-pixel centres instead and do not reproduce the original decoder.
"""
from keras import ops


def _upsample_axis_bilinear(x, axis):
    lead = (slice(None),) * axis
    nxt = ops.concatenate([x[lead + (slice(1, None),)], x[lead + (slice(-1, None),)]], axis=axis)
    odd = (x + nxt) * ops.cast(0.5, x.dtype)
    # Interleave x and odd along `axis`.
    stacked = ops.stack([x, odd], axis=axis + 1)
    shape = list(ops.shape(x))
    shape[axis] = shape[axis] * 2
    return ops.reshape(stacked, shape)


def upsample2x_bilinear_tf1(x):
    """2x bilinear upsampling of an NHWC tensor exactly as TF1's default `resize_bilinear`."""
    return _upsample_axis_bilinear(_upsample_axis_bilinear(x, 1), 2)


def upsample_nearest(x, factor=2):
    """Nearest-neighbour upsampling of an NHWC tensor by an integer factor (TF1's for integer factors)."""
    if factor == 1:
        return x
    return ops.repeat(ops.repeat(x, factor, axis=1), factor, axis=2)
