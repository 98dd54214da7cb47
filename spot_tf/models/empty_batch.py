"""Inference on a batch that may hold no image.

oneDNN's Conv2D, which TensorFlow runs on CPUs with AVX-512-VNNI, AVX-512-BF16 or AMX (current Xeons,
AMD Zen 4), returns its input unchanged for a batch of zero images (TensorFlow 2.21: an empty
[0, 220, 226, 3] batch through an 11x11 stride-4 convolution comes out [0, 220, 226, 3], not
[0, 53, 54, 48]), and the next layer fails on the channel count. A replica gets an empty batch at the
end of a test set that does not divide over the replicas. So the evaluations' forward passes that
start with a convolution run an empty batch as one zero image and keep none of its outputs.
"""

import tensorflow as tf


def call_allowing_empty(fn, images, training):
    """``fn(images)``, where in inference an empty batch is run as one zero image and cut back to no row.

    A batch whose size is known when traced and not zero (fit()'s batches) runs ``fn`` as it is.

    Args:
      fn: images -> a tensor or a nest of tensors, each with the batch as its first axis.
      images: [B, ...] tensor.
      training: run ``fn`` as it is: the zero image would enter batch norm's statistics.
    """
    if training or images.shape[0]:
        return fn(images)
    count = tf.shape(images)[0]
    one = tf.zeros(tf.concat([[1], tf.shape(images)[1:]], axis=0), images.dtype)
    safe = tf.cond(count > 0, lambda: images, lambda: one)
    safe.set_shape(tf.TensorShape([None]).concatenate(images.shape[1:]))
    return tf.nest.map_structure(lambda output: output[:count], fn(safe))
