import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models import SpotModel, feature_grid, needs_pool5


@pytest.mark.parametrize("size", [32, 64, 96])
def test_output_shapes(size):
    model = SpotModel(image_size=size, ae_depth=4)
    x = tf.random.uniform((2, size, size, 3), -1, 1)
    out = model(x, training=False)
    g = size // 16
    assert out["reconstruction"].shape == (2, size, size, 3)
    assert out["repaired"].shape == (2, size, size, 3)
    assert out["logits"].shape == (4, 2)
    assert out["mask_logits"].shape == (4, g * g)
    assert out["mask"].shape == (2, g, g, 1)


def test_depth5_pools_conv5_to_the_encoder_grid():
    assert needs_pool5(128, 5) and not needs_pool5(96, 4)
    model = SpotModel(image_size=64, ae_depth=5)
    out = model(tf.zeros((1, 64, 64, 3)))
    assert out["mask_logits"].shape == (2, 4)


def test_given_mask_is_used_and_all_kept_repairs_nothing():
    model = SpotModel(image_size=32)
    x = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=3)
    out = model(x, mask=tf.ones((2, 2, 2, 1)), training=False)
    np.testing.assert_allclose(out["repaired"], out["reconstruction"], atol=1e-6)
    np.testing.assert_array_equal(out["mask"], np.ones((2, 2, 2, 1)))


def test_geometry_errors_name_the_sizes():
    with pytest.raises(ValueError, match="multiple of"):
        feature_grid(100, 4)
    with pytest.raises(ValueError, match="conv_5 grid"):
        SpotModel(image_size=96, ae_depth=4, disc_padding="valid")


def test_serialization_and_keras_file(tmp_path):
    model = SpotModel(image_size=32, keep_prob=0.5, repair_preactivation=True, dropout_rate=0.25)
    images = tf.random.stateless_uniform((2, 32, 32, 3), (1, 2), -1, 1)
    mask = tf.cast(tf.random.stateless_uniform((2, 2, 2, 1), (3, 4)) < 0.5, tf.float32)
    run_layer_test(model, images, tmp_path, call_kwargs={"mask": mask, "training": False})
