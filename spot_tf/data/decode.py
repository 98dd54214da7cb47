"""Decoding of encoded images (JPEG, PNG, greyscale, RGBA) to RGB; a bad image raises (see
never_raise.py for how the pipeline survives that).

``decode_crop`` decodes a JPEG's training crop alone (``fused``); other formats are decoded whole
and sliced. The pixels are those of the window of the whole image's decode, to the last bit (the
window is widened a little, see ``_UPSAMPLING_MARGIN``). It saves less than the crop's share of the
image suggests: libjpeg stops at the window's last row, but must still entropy-decode (about 60%
of a decode) every row above it and every column beside it, and reading the shape first costs about
a twentieth of a decode (benchmarks/bench_input.py). It also refuses fewer corrupt images: a JPEG
whose scan data holds a bogus marker fails the whole decode, which reads to the end of the image,
but a window that stops above the last rows decodes, grey from the marker on. (A JPEG cut short is
decoded whole, see ``_is_whole_jpeg``, so it is refused as before.)
"""

import tensorflow as tf

# Fancy (interpolating) chroma upsampling computes a pixel from its chroma sample and the next one
# left or right; at the edge of a decoded region libjpeg repeats the edge sample instead, which
# changes the region's first and last columns (by up to 8 levels in photos). So the region reaches
# one chroma sample (at most 4 columns: JPEG sampling factors go up to 4) past each side of the
# window, or to the image's edge, where the whole image's decode repeats the edge sample too. Rows
# need no margin: libjpeg decodes the rows it skips to as their context.
_UPSAMPLING_MARGIN = 4


def decode_image(encoded):
    """Decodes JPEG/PNG/GIF/BMP bytes to uint8 [H, W, 3]."""
    # channels=3 turns greyscale into RGB and drops an alpha channel.
    return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def _is_whole_jpeg(encoded):
    """Whether ``encoded`` is a JPEG that ends with its EOI marker (FF D9), as nearly all do.

    The whole image's decode fails on a JPEG cut short, even by its EOI alone, but that of a window
    above the cut does not. So a JPEG with no EOI at its end (cut short, or with bytes after the
    image) is decoded whole: it is skipped exactly when it would be without the fused decode.
    """
    ends_with_eoi = tf.strings.substr(
        encoded, tf.maximum(tf.strings.length(encoded) - 2, 0), 2) == b"\xff\xd9"
    return tf.io.is_jpeg(encoded) & ends_with_eoi


def _whole_then_slice(encoded, window):
    image = decode_image(encoded)
    begin, size = window(tf.shape(image))
    return tf.slice(image, begin, size)


def _jpeg_window(encoded, window):
    """The window of a JPEG, decoded alone."""
    # The shape of the RGB decode (the file may hold 1 or 4 channels): the window must not differ.
    shape = tf.concat([tf.io.extract_jpeg_shape(encoded)[:2], [3]], axis=0)
    begin, size = window(shape)
    left = tf.maximum(begin[1] - _UPSAMPLING_MARGIN, 0)
    right = tf.minimum(begin[1] + size[1] + _UPSAMPLING_MARGIN, shape[1])
    wide = tf.io.decode_and_crop_jpeg(encoded, tf.stack([begin[0], left, size[0], right - left]),
                                      channels=3)
    return wide[:, begin[1] - left:begin[1] - left + size[1]]


def decode_crop(encoded, window, fused=False):
    """Decodes a window of an image to uint8 [h, w, 3].

    Args:
      encoded: string tensor, JPEG/PNG/GIF/BMP bytes.
      window: function of the RGB image's shape (int32 [3]) -> ``(begin, size)`` for ``tf.slice``;
        it must depend on nothing else, as it may be given the shape before any pixel is decoded.
      fused: decode only the window of a JPEG (``tf.io.decode_and_crop_jpeg``): the same pixels,
        but fewer corrupt JPEGs refused (see the module docstring). False decodes every image
        whole, then slices.
    """
    if not fused:
        return _whole_then_slice(encoded, window)
    return tf.cond(_is_whole_jpeg(encoded), lambda: _jpeg_window(encoded, window),
                   lambda: _whole_then_slice(encoded, window))
