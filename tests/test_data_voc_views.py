"""Tests of spot_tf/data/voc_views.py."""
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.data import voc_views


def _image(height=60, width=90):
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return tf.constant(np.stack([rows * 4 % 256, cols * 2 % 256, (rows + cols) % 256], -1).astype(np.uint8))


def test_random_crops_are_seeded_and_in_range():
    image, seed = _image(), tf.constant([3, 7], tf.int64)
    crop = voc_views.random_crop_view(image, 32, seed)
    assert crop.shape == (32, 32, 3) and crop.dtype == tf.float32
    assert float(tf.reduce_min(crop)) >= -1.0 and float(tf.reduce_max(crop)) <= 1.0
    np.testing.assert_array_equal(crop.numpy(), voc_views.random_crop_view(image, 32, seed).numpy())
    other = voc_views.random_crop_view(image, 32, tf.constant([3, 8], tf.int64))
    assert not np.array_equal(crop.numpy(), other.numpy())


def test_the_window_side_is_the_crop_times_half_to_two_capped_by_the_image():
    # An image whose row index is its red value: a window's side is read off its first column.
    height = 200
    image = tf.constant(np.repeat(np.arange(height, dtype=np.uint8)[:, None, None], 200, 1).repeat(3, 2))
    spans = []
    for i in range(200):
        crop = voc_views.random_crop_view(image, 20, tf.constant([i, 0], tf.int64))
        red = (crop[:, 0, 0].numpy() + 1.0) * 127.5
        spans.append((red[-1] - red[0]) * 20 / 19)
    # Side s * 20 px, s ~ U[0.5, 2]: the rows spanned lie in [10, 40] (bilinear edges blur a pixel).
    assert 9 <= min(spans) < 13 and 37 < max(spans) <= 41
    small = tf.constant(np.zeros((12, 30, 3), np.uint8))
    assert voc_views.random_crop_view(small, 20, tf.constant([1, 2], tf.int64)).shape == (20, 20, 3)


def test_the_test_view_is_ten_different_crops():
    crops = voc_views.view(_image(), 24, "finetune", False, tf.constant([0, 5], tf.int64))
    assert crops.shape == (10, 24, 24, 3)
    assert len({crop.tobytes() for crop in crops.numpy()}) == 10


def test_the_svm_view_squashes_the_whole_image():
    image = _image(40, 120)
    view = voc_views.view(image, 32, "svm", True, tf.constant([0, 0], tf.int64))
    assert view.shape == (32, 32, 3)
    np.testing.assert_array_equal(view.numpy(), voc_views.svm_view(image, 32).numpy())
    # Left and right ends of the image both stay in view (no crop): the green ramp spans the width.
    green = (view[16, :, 1].numpy() + 1.0) * 127.5
    assert green[0] < 20 and green[-1] > 200
    with pytest.raises(ValueError, match="Unknown VOC view"):
        voc_views.check_view("detection")
