"""The reference pre-processing of Jenni & Favaro (``Preprocessor.py`` of the TF1 code).

Train: random crop (sample-distorted bounding box), bilinear or bicubic resize at random, random
left-right flip, colour augmentation (brightness and saturation in random order), scale to [-1, 1].
Test: central 85% crop, bilinear resize, scale to [-1, 1].

Every random choice is drawn from a stateless op keyed by a per-example ``seed`` (shape [2]), so the
same seed always gives the same image and different seeds give independent draws. The crop box is
drawn from the image's shape alone (``train_crop_window``), apart from the rest of the augmentation
(``augment_train_crop``), so that the decoder can read the crop alone.
"""

import collections

import tensorflow as tf

AREA_RANGE = (0.333, 1.0)
ASPECT_RATIO_RANGE = (0.75, 1.33)
BRIGHTNESS_MAX_DELTA = 32.0 / 255.0
SATURATION_RANGE = (0.5, 1.5)
CENTRAL_FRACTION = 0.85


def _resize_tf1(image, size, method):
    """Resizes one HWC image like TF1 (align_corners=False, half_pixel_centers=False).

    TF2's ``tf.image.resize`` samples at half-pixel centres, which is not what the reference did;
    the raw ops are what ``tf.compat.v1.image.resize_bilinear/bicubic`` call, minus their warning.
    """
    resize = {"bilinear": tf.raw_ops.ResizeBilinear, "bicubic": tf.raw_ops.ResizeBicubic}[method]
    image = resize(images=image[tf.newaxis], size=[size, size], align_corners=False,
                   half_pixel_centers=False)[0]
    return tf.ensure_shape(image, [size, size, 3])


def _coin(seed):
    """A stateless fair coin: True with probability 0.5."""
    return tf.random.stateless_uniform([], seed) > 0.5


# One seed per random choice of the training augmentation.
TrainSeeds = collections.namedtuple("TrainSeeds", ["box", "resize", "flip", "color"])


def train_seeds(seed):
    """Splits a per-example seed (int32/int64 [2]) into the ``TrainSeeds`` of its augmentation."""
    crop_seed, flip_seed, color_seed = tf.unstack(tf.random.split(seed, 3))
    box_seed, resize_seed = tf.unstack(tf.random.split(crop_seed, 2))
    return TrainSeeds(box_seed, resize_seed, flip_seed, color_seed)


def train_crop_window(image_shape, seeds):
    """The training crop, a sample-distorted bounding box of the whole image.

    Drawn from the image's shape alone, so that a JPEG's crop can be decoded without the rest of it
    (see decode.py).

    Args:
      image_shape: int32 [3], the image's [H, W, 3].
      seeds: the example's ``train_seeds``.

    Returns:
      ``(begin, size)`` for ``tf.slice``.
    """
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        image_shape, bounding_boxes=[[[0.0, 0.0, 1.0, 1.0]]], seed=seeds.box,
        min_object_covered=0.1,  # TF1's default; the area range is the tighter bound here.
        aspect_ratio_range=ASPECT_RATIO_RANGE, area_range=AREA_RANGE,
        use_image_if_no_bounding_boxes=True)
    return begin, size


def color_augment(image, seed):
    """Brightness (+-32/255) and saturation (0.5-1.5) in random order, on [0, 1] floats."""
    order_seed, bright_seed, sat_seed = tf.unstack(tf.random.split(seed, 3))

    def brightness(x):
        return tf.image.stateless_random_brightness(x, BRIGHTNESS_MAX_DELTA, bright_seed)

    def saturation(x):
        return tf.image.stateless_random_saturation(x, *SATURATION_RANGE, seed=sat_seed)

    return tf.cond(_coin(order_seed),
                   lambda: saturation(brightness(image)),
                   lambda: brightness(saturation(image)))


def to_signed_range(image):
    """Maps [0, 1] floats to [-1, 1], clipping what bicubic or colour jitter pushed out."""
    return tf.clip_by_value(image * 2.0 - 1.0, -1.0, 1.0)


def augment_train_crop(crop, image_size, seeds):
    """The training augmentation after the crop -> float32 [S, S, 3] in [-1, 1].

    Bilinear or bicubic resize at random, random left-right flip, colour augmentation.

    Args:
      crop: uint8 [h, w, 3], the ``train_crop_window`` of the image for the same ``seeds``.
      image_size: output side S (int).
      seeds: the example's ``train_seeds``.
    """
    image = tf.cond(_coin(seeds.resize),
                    lambda: _resize_tf1(crop, image_size, "bilinear"),
                    lambda: _resize_tf1(crop, image_size, "bicubic"))
    image = tf.image.stateless_random_flip_left_right(image, seeds.flip)
    image = color_augment(image / 255.0, seeds.color)
    return to_signed_range(image)


def preprocess_train(image, image_size, seed):
    """Training augmentation of one uint8 HWC RGB image -> float32 [S, S, 3] in [-1, 1].

    Args:
      image: uint8 tensor [H, W, 3].
      image_size: output side S (int).
      seed: int32/int64 tensor of shape [2], the per-example stateless seed.
    """
    seeds = train_seeds(seed)
    begin, size = train_crop_window(tf.shape(image), seeds)
    return augment_train_crop(tf.slice(image, begin, size), image_size, seeds)


def preprocess_test(image, image_size):
    """Test pre-processing: central 85% crop, TF1 bilinear resize, scale to [-1, 1]."""
    image = tf.image.central_crop(image, CENTRAL_FRACTION)
    image = _resize_tf1(image, image_size, "bilinear") / 255.0
    return to_signed_range(image)
