"""Tests of spot_tf/data/preprocessing.py: the reference augmentation."""

import numpy as np
import tensorflow as tf

from spot_tf.data import preprocessing

SIZE = 32


def _image(height=48, width=40, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_train_shape_range_and_seeding():
    image = _image()
    a = preprocessing.preprocess_train(image, SIZE, tf.constant([1, 2], tf.int64))
    b = preprocessing.preprocess_train(image, SIZE, tf.constant([1, 2], tf.int64))
    c = preprocessing.preprocess_train(image, SIZE, tf.constant([1, 3], tf.int64))
    assert a.shape == (SIZE, SIZE, 3) and a.dtype == tf.float32
    assert -1.0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(a)) <= 1.0
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())


def test_train_draws_vary_over_seeds():
    """Across seeds, both resize methods, both colour orders, flips and crops all occur."""
    image = _image()
    outputs = {preprocessing.preprocess_train(image, SIZE, tf.constant([0, i], tf.int64))
               .numpy().tobytes() for i in range(20)}
    assert len(outputs) == 20


def test_test_path_is_central_crop_and_tf1_bilinear():
    image = _image(40, 40)
    out = preprocessing.preprocess_test(image, SIZE)
    np.testing.assert_array_equal(out.numpy(), preprocessing.preprocess_test(image, SIZE).numpy())
    # 85% of 40 is 34 px starting at row/col 3; TF1 bilinear (no half-pixel centres) then samples
    # pixel 0 of the crop exactly at output pixel 0.
    crop = image.numpy()[3:37, 3:37].astype(np.float32)
    np.testing.assert_allclose(out.numpy()[0, 0], crop[0, 0] / 127.5 - 1.0, atol=1e-5)
    expected = tf.compat.v1.image.resize_bilinear(crop[None], [SIZE, SIZE])[0] / 127.5 - 1.0
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


def test_resize_is_not_half_pixel():
    x = tf.constant(np.arange(16, dtype=np.float32).reshape(4, 4, 1) * np.ones(3, np.float32))
    out = preprocessing._resize_tf1(x, 2, "bilinear")
    # align_corners=False, half_pixel_centers=False: output (i, j) samples input (2i, 2j).
    np.testing.assert_allclose(out.numpy()[..., 0], [[0, 2], [8, 10]])


def test_color_augment_changes_colours_but_not_grey_saturation():
    grey = tf.fill([8, 8, 3], 0.5)
    out = preprocessing.color_augment(grey, tf.constant([3, 4], tf.int64))
    # Saturation leaves grey grey; brightness shifts all channels by the same delta (<= 32/255).
    np.testing.assert_allclose(out.numpy()[..., 0], out.numpy()[..., 2], atol=1e-6)
    assert abs(float(out[0, 0, 0]) - 0.5) <= 32 / 255 + 1e-6


def test_crop_window_comes_from_the_shape_and_seed_alone():
    """The box the fused decode reads: the reference area and aspect ranges, same seed same box."""
    height, width = 375, 500
    boxes = set()
    for i in range(50):
        seed = tf.constant([1, i], tf.int64)
        begin, size = (t.numpy().tolist() for t in preprocessing.train_crop_window(
            tf.constant([height, width, 3]), preprocessing.train_seeds(seed)))
        again = preprocessing.train_crop_window(tf.constant([height, width, 3]),
                                                preprocessing.train_seeds(seed))
        assert [t.numpy().tolist() for t in again] == [begin, size]
        (top, left, _), (h, w, _) = begin, size
        assert 0 <= top and top + h <= height and 0 <= left and left + w <= width
        assert preprocessing.AREA_RANGE[0] <= h * w / (height * width) <= 1.0
        # Whole pixels round the aspect ratio, and a draw that fails takes the whole image (4:3).
        assert preprocessing.ASPECT_RATIO_RANGE[0] - 0.01 <= w / h <= 4 / 3
        boxes.add((top, left, h, w))
    assert len(boxes) > 45


def test_train_is_the_augmentation_of_the_window():
    image = _image(60, 50)
    seeds = preprocessing.train_seeds(tf.constant([4, 2], tf.int64))
    begin, size = preprocessing.train_crop_window(tf.shape(image), seeds)
    crop = tf.slice(image, begin, size)
    np.testing.assert_array_equal(
        preprocessing.preprocess_train(image, SIZE, tf.constant([4, 2], tf.int64)).numpy(),
        preprocessing.augment_train_crop(crop, SIZE, seeds).numpy())
