"""The image pre-processing of the two PASCAL VOC 2007 classification protocols.

* ``finetune``: Krähenbühl et al.'s fine-tuning (philkr/voc-classification, its crop layer in
  philkr/caffe): the images keep their resolution; a square window of side ``crop * s``,
  s ~ U[0.5, 2] (capped by the image's shorter side), at a uniform random position, is resized
  bilinearly to ``crop`` px and mirrored with probability 1/2. The test runs the same random layer:
  ``random_crops_view`` gives an image's 10 crops, whose logits the trainer sums.
* ``svm``: Goyal et al.'s frozen-feature benchmark (fair_self_supervision_benchmark, VISSL
  svm_voc07): shorter side to 256 px, then both sides to 227 (the aspect ratio lost), no crop, no
  flip. At another ``crop`` the 256 scale with it, as in probe_views.

Every view takes one decoded uint8 [H, W, 3] image and returns float32 in [-1, 1]; the random ones
are stateless, keyed by a per-example ``seed`` (shape [2]).
"""

import tensorflow as tf

from spot_tf.data import probe_views
from spot_tf.data.preprocessing import to_signed_range

SCALE_RANGE = (0.5, 2.0)
TEST_CROPS = 10
# The crop side of both protocols (AlexNet's): the 256 px of the SVM view are relative to it.
CROP = 227


def _finish(image, crop_size):
    return to_signed_range(tf.ensure_shape(image, [crop_size, crop_size, 3]) / 255.0)


def random_crop_view(image, crop_size, seed):
    """One random square window of side ``crop_size * s`` resized to ``crop_size``, maybe mirrored.

    Args:
      image: uint8 [H, W, 3].
      crop_size: output side S (int).
      seed: int32/int64 [2], the per-example stateless seed.

    Returns:
      float32 [S, S, 3] in [-1, 1].
    """
    scale_seed, top_seed, left_seed, flip_seed = tf.unstack(tf.random.split(seed, 4))
    height, width = tf.unstack(tf.shape(image)[:2])
    scale = tf.random.stateless_uniform([], scale_seed, *SCALE_RANGE)
    window = tf.cast(tf.round(scale * crop_size), tf.int32)
    window = tf.clip_by_value(window, 1, tf.minimum(height, width))
    top = tf.random.stateless_uniform([], top_seed, 0, height - window + 1, tf.int32)
    left = tf.random.stateless_uniform([], left_seed, 0, width - window + 1, tf.int32)
    crop = image[top:top + window, left:left + window]
    # Bilinear without antialiasing, as OpenCV's resize in Caffe's layers.
    crop = tf.image.resize(tf.cast(crop, tf.float32), [crop_size, crop_size], method="bilinear")
    crop = tf.image.stateless_random_flip_left_right(crop, flip_seed)
    return _finish(tf.clip_by_value(crop, 0.0, 255.0), crop_size)


def random_crops_view(image, crop_size, seed, crops=TEST_CROPS):
    """``crops`` independent ``random_crop_view``s of one image -> float32 [crops, S, S, 3]."""
    seeds = tf.random.split(seed, crops)
    return tf.stack([random_crop_view(image, crop_size, seeds[i]) for i in range(crops)])


def svm_view(image, crop_size):
    """Shorter side to 256 (at 227 px crops), then both sides to ``crop_size`` -> float32 [S, S, 3]."""
    image = probe_views.shorter_side(image, probe_views.side(crop_size, CROP))
    return _finish(probe_views.resize_pixels(image, crop_size, crop_size), crop_size)


VIEWS = ("finetune", "svm")


def check_view(view):
    if view not in VIEWS:
        raise ValueError(f"Unknown VOC view {view!r}: expected one of {VIEWS}.")


def view(image, crop_size, name, training, seed):
    """The ``name`` protocol's training or test view of one image (see the module docstring)."""
    check_view(name)
    if name == "svm":
        return svm_view(image, crop_size)
    if training:
        return random_crop_view(image, crop_size, seed)
    return random_crops_view(image, crop_size, seed)
