import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.damage import FeatureDamage, draw_keep_mask, mask_labels, mask_to_image


def test_kept_entries_pass_and_dropped_get_the_3x3_average():
    phi = tf.random.stateless_normal((2, 6, 6, 5), seed=(1, 2))
    mask = tf.cast(tf.random.stateless_uniform((2, 6, 6, 1), seed=(3, 4)) < 0.3, tf.float32)
    damaged, out_mask = FeatureDamage()(phi, keep_mask=mask)
    np.testing.assert_array_equal(out_mask, mask)
    kept = np.broadcast_to(mask.numpy() > 0, phi.shape)
    np.testing.assert_array_equal(damaged.numpy()[kept], phi.numpy()[kept])
    # Corner (0, 0) averages only its 4 in-image neighbours.
    b = int(np.argmin(mask.numpy()[:, 0, 0, 0]))
    if mask[b, 0, 0, 0] == 0:
        np.testing.assert_allclose(damaged[b, 0, 0], np.mean(phi.numpy()[b, :2, :2], axis=(0, 1)), rtol=1e-5)
    inner = np.argwhere(mask.numpy()[:, 1:-1, 1:-1, 0] == 0)[0]
    bb, h, w = inner[0], inner[1] + 1, inner[2] + 1
    np.testing.assert_allclose(damaged[bb, h, w], np.mean(phi.numpy()[bb, h - 1:h + 2, w - 1:w + 2], axis=(0, 1)),
                               rtol=1e-5)


def test_drawn_mask_is_shared_by_channels_and_keeps_about_keep_prob():
    damage = FeatureDamage(keep_prob=0.3, seed=1)
    phi = tf.random.stateless_normal((64, 6, 6, 8), seed=(5, 6))
    damaged, mask = damage(phi)
    assert mask.shape == (64, 6, 6, 1)
    assert set(np.unique(mask.numpy())) <= {0.0, 1.0}
    assert abs(float(tf.reduce_mean(mask)) - 0.3) < 0.03
    # No 1/keep rescaling: kept entries equal phi exactly.
    kept = np.broadcast_to(mask.numpy() > 0, phi.shape)
    np.testing.assert_array_equal(damaged.numpy()[kept], phi.numpy()[kept])


def test_seeded_masks_are_reproducible_and_differ_by_seed():
    a = draw_keep_mask((4, 6, 6), 0.3, tf.constant([1, 2]))
    b = draw_keep_mask((4, 6, 6), 0.3, tf.constant([1, 2]))
    c = draw_keep_mask((4, 6, 6), 0.3, tf.constant([1, 3]))
    np.testing.assert_array_equal(a, b)
    assert np.any(a.numpy() != c.numpy())


def test_bad_keep_prob():
    with pytest.raises(ValueError, match="keep_prob"):
        FeatureDamage(keep_prob=0.0)


def test_serialization_and_keras_file(tmp_path):
    phi = tf.random.stateless_normal((2, 3, 3, 4), seed=(7, 8))
    mask = tf.cast(tf.random.stateless_uniform((2, 3, 3, 1), seed=(9, 10)) < 0.5, tf.float32)
    run_layer_test(FeatureDamage(keep_prob=0.5, seed=3), (phi, mask), tmp_path)


def test_mask_labels_are_all_kept_for_the_real_half_then_the_mask_cell_by_cell():
    mask = np.random.default_rng(0).uniform(size=(3, 2, 4, 1)) < 0.5
    labels = mask_labels(tf.constant(mask))
    assert labels.dtype == tf.float32 and labels.shape == (6, 8)
    np.testing.assert_array_equal(labels[:3], np.ones((3, 8)))
    # Row-major cells, as the discriminator flattens its mask logits.
    np.testing.assert_array_equal(labels[3:], mask.reshape(3, 8).astype(np.float32))


def test_mask_to_image_repeats_each_cell_over_its_pixels():
    mask = tf.constant([[[[1.0], [0.0]], [[0.0], [1.0]]]])
    image = mask_to_image(tf.cast(mask, tf.bfloat16), 6)
    assert image.dtype == tf.float32 and image.shape == (1, 6, 6, 1)
    np.testing.assert_array_equal(image[0, :, :, 0], np.kron([[1, 0], [0, 1]], np.ones((3, 3))))
    np.testing.assert_array_equal(mask_to_image(mask, 2), mask)
    with pytest.raises(ValueError, match="multiple"):
        mask_to_image(mask, 5)
