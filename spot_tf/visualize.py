"""Image grids for TensorBoard and the demo: montages, conv_1 filters, dropped cells marked."""
import numpy as np
import tensorflow as tf

from spot_tf.models import mask_to_image


def to_unit_range(images):
    """[-1, 1] images -> [0, 1] float32."""
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)


def montage(images, columns=8, pad=1):
    """Tiles a batch [N, H, W, C] into one image [1, rows*(H+pad), columns*(W+pad), C]."""
    images = tf.convert_to_tensor(images)
    n = int(images.shape[0])
    rows = -(-n // columns)
    images = tf.pad(images, [[0, rows * columns - n], [0, pad], [0, pad], [0, 0]], constant_values=1.0)
    h, w, c = images.shape[1:]
    grid = tf.reshape(images, [rows, columns, h, w, c])
    grid = tf.transpose(grid, [0, 2, 1, 3, 4])
    return tf.reshape(grid, [1, rows * h, columns * w, c])


def filter_grid(kernel, columns=16):
    """conv_1 kernels [kh, kw, 3, N] as a montage, each filter stretched to [0, 1]."""
    filters = tf.transpose(tf.cast(kernel, tf.float32), [3, 0, 1, 2])
    low = tf.reduce_min(filters, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(filters, axis=[1, 2, 3], keepdims=True)
    return montage((filters - low) / tf.maximum(high - low, 1e-12), columns)


def mark_dropped(images, keep_mask, color=(1.0, 0.0, 0.0), alpha=0.35):
    """Tints the image regions whose feature cell was dropped (keep_mask [B, h, w, 1], 1 = kept)."""
    images = to_unit_range(images)
    dropped = 1.0 - mask_to_image(keep_mask, images.shape[1])
    tint = tf.constant(color, tf.float32)
    return images * (1.0 - alpha * dropped) + alpha * dropped * tint


def real_vs_repaired_grid(images, repaired, keep_mask, count=8):
    """Rows: input, input with dropped cells marked, repaired; one column per image. Returns uint8 HWC."""
    count = min(count, int(images.shape[0]))
    rows = tf.concat([to_unit_range(images[:count]), mark_dropped(images[:count], keep_mask[:count]),
                      to_unit_range(repaired[:count])], axis=0)
    grid = montage(rows, columns=count, pad=2)[0]
    return np.asarray(tf.image.convert_image_dtype(grid, tf.uint8, saturate=True))


def voc_palette():
    """[256, 3] uint8: the VOC devkit's colour map (labelcolormap.m), as its palette PNG masks carry it:
    the bits of index i, three at a time, spread over red, green and blue from the top bit down."""
    palette = np.zeros((256, 3), np.uint8)
    for index in range(256):
        value = index
        for shift in range(7, -1, -1):
            for channel in range(3):
                palette[index, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
    return palette


def colour_labels(labels):
    """int [..., H, W] class indices -> float32 [..., H, W, 3] VOC palette colours in [0, 1]."""
    palette = tf.constant(voc_palette(), tf.float32) / 255.0
    return tf.gather(palette, tf.clip_by_value(tf.cast(labels, tf.int32), 0, 255))
