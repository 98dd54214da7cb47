"""The reference pre-processing of Jenni & Favaro (``Preprocessor.py`` of the TF1 code).

Train: random crop (sample-distorted bounding box), bilinear or bicubic resize at random, random
left-right flip, colour augmentation (brightness and saturation in random order), scale to [-1, 1].
Test: central 85% crop, bilinear resize, scale to [-1, 1].

Every random choice is drawn from a stateless op keyed by a per-example ``seed`` (shape [2]), so the
same seed always gives the same image and different seeds give independent draws.
"""

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


def random_crop_and_resize(image, image_size, seed):
    """Distorted-bounding-box crop of the whole image, then bilinear or bicubic resize (p=0.5)."""
    box_seed, resize_seed = tf.unstack(tf.random.split(seed, 2))
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=[[[0.0, 0.0, 1.0, 1.0]]], seed=box_seed,
        min_object_covered=0.1,  # TF1's default; the area range is the tighter bound here.
        aspect_ratio_range=ASPECT_RATIO_RANGE, area_range=AREA_RANGE,
        use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, size)
    return tf.cond(_coin(resize_seed),
                   lambda: _resize_tf1(image, image_size, "bilinear"),
                   lambda: _resize_tf1(image, image_size, "bicubic"))


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


def preprocess_train(image, image_size, seed):
    """Training augmentation of one uint8 HWC RGB image -> float32 [S, S, 3] in [-1, 1].

    Args:
      image: uint8 tensor [H, W, 3].
      image_size: output side S (int).
      seed: int32/int64 tensor of shape [2], the per-example stateless seed.
    """
    crop_seed, flip_seed, color_seed = tf.unstack(tf.random.split(seed, 3))
    image = random_crop_and_resize(image, image_size, crop_seed)
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    image = color_augment(image / 255.0, color_seed)
    return to_signed_range(image)


def preprocess_test(image, image_size):
    """Test pre-processing: central 85% crop, TF1 bilinear resize, scale to [-1, 1]."""
    image = tf.image.central_crop(image, CENTRAL_FRACTION)
    image = _resize_tf1(image, image_size, "bilinear") / 255.0
    return to_signed_range(image)
