import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.discriminator import (CONV_LAYERS, Discriminator, LocalResponseNormalization, conv5_grid,
                                          head_grid)


def test_shapes_and_named_conv_activations_at_96():
    disc = Discriminator(96)
    out = disc(tf.random.uniform((3, 96, 96, 3), -1, 1), training=False)
    expected = {"conv_1": (3, 24, 24, 96), "conv_2": (3, 12, 12, 256), "conv_3": (3, 6, 6, 384),
                "conv_4": (3, 6, 6, 384), "conv_5": (3, 6, 6, 256), "mask_logits": (3, 36), "logits": (3, 2)}
    assert {k: tuple(v.shape) for k, v in out.items()} == expected
    assert tuple(CONV_LAYERS) == tuple(f"conv_{i}" for i in range(1, 6))
    assert sum(int(np.prod(v.shape)) for v in disc.trainable_weights) == 40_097_411


def test_batch_norm_only_on_conv5_and_fc1_and_without_scale():
    disc = Discriminator(32)
    disc(tf.zeros((1, 32, 32, 3)))
    names = disc.tf1_variables()
    bn = sorted({n.split("/BatchNorm")[0] for n in names if "BatchNorm" in n})
    assert bn == ["discriminator/conv_5/conv_0", "discriminator/conv_5/conv_1", "discriminator/fc_1"]
    assert not any(n.endswith("gamma") for n in names)
    assert "discriminator/fc_1/biases" not in names and "discriminator/drop_pred/biases" in names


def test_biases_start_at_point_one():
    disc = Discriminator(32)
    disc(tf.zeros((1, 32, 32, 3)))
    for name, var in disc.tf1_variables().items():
        if name.endswith("biases"):
            np.testing.assert_allclose(var.numpy(), 0.1)


def test_input_scaling_subtracts_the_rgb_mean():
    disc = Discriminator(32)
    scaled = disc.scale_images(tf.fill((1, 1, 1, 3), 1.0))
    np.testing.assert_allclose(scaled[0, 0, 0], [255 - 123.68, 255 - 116.78, 255 - 103.94], rtol=1e-6)


def test_lrn_matches_tf_and_keeps_dtype():
    x = tf.random.stateless_normal((1, 4, 4, 8), seed=(1, 2)) * 100
    lrn = LocalResponseNormalization()
    np.testing.assert_allclose(lrn(x), tf.nn.local_response_normalization(x, 2, 1.0, 2e-5, 0.75), rtol=1e-6)
    assert LocalResponseNormalization(dtype="mixed_bfloat16")(x).dtype == tf.bfloat16


def test_grids_for_padding_and_pool5():
    assert conv5_grid(96, "same") == 6 and head_grid(128, "same", pool5=True) == 4
    assert conv5_grid(227, "valid") == 13
    disc = Discriminator(64, padding="valid")
    out = disc(tf.zeros((2, 64, 64, 3)))
    assert out["conv_5"].shape[1] == conv5_grid(64, "valid")


def test_fixed_dropout_mask_and_seed():
    disc = Discriminator(32)
    x = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=1)
    ones = disc(x, training=True, dropout_mask=tf.ones((2, 1, 1, 4096)))["logits"]
    scaled = disc(x, training=True, dropout_mask=tf.fill((2, 1, 1, 4096), 0.5))["logits"]
    assert not np.allclose(ones, scaled)
    a = disc(x, training=True, dropout_seed=tf.constant([1, 2]))["logits"]
    b = disc(x, training=True, dropout_seed=tf.constant([1, 2]))["logits"]
    np.testing.assert_allclose(a, b)


def test_features_accept_other_sizes():
    disc = Discriminator(96)
    feats = disc.features(tf.zeros((1, 227, 227, 3)))
    assert feats["conv_5"].shape == (1, 15, 15, 256)


def test_bad_padding_and_too_small():
    with pytest.raises(ValueError, match="padding"):
        Discriminator(96, padding="full")
    with pytest.raises(ValueError, match="too small"):
        Discriminator(16, padding="valid")


def test_a_tuple_of_batches_equals_their_concatenation():
    disc = Discriminator(32)
    a = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=5)
    b = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=6)
    split = disc((a, b), training=True, dropout_mask=tf.ones((4, 1, 1, 4096)))
    joined = disc(tf.concat([a, b], 0), training=True, dropout_mask=tf.ones((4, 1, 1, 4096)))
    for key in ("conv_1", "conv_5", "mask_logits", "logits"):
        np.testing.assert_allclose(split[key], joined[key], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make,shape", [
    (lambda: LocalResponseNormalization(depth_radius=3, bias=2.0, alpha=1e-3, beta=0.5), (2, 3, 3, 8)),
    (lambda: Discriminator(32, dropout_rate=0.25), (2, 32, 32, 3)),
], ids=["LocalResponseNormalization", "Discriminator"])
def test_serialization_and_keras_file(make, shape, tmp_path):
    x = tf.random.stateless_uniform(shape, (1, 2), -1, 1)
    run_layer_test(make(), x, tmp_path, call_kwargs={"training": False})


def test_a_keras_file_gives_the_same_conv_features(tmp_path):
    keras.utils.set_random_seed(4)
    disc = Discriminator(32)
    # Only features(): the model must still be built whole, or the file would hold no weights.
    disc.features(tf.zeros((1, 32, 32, 3)), training=False)
    assert disc.built and disc.fc_1.built
    # Non-trivial batch-norm statistics, so that they must be saved and used in inference mode.
    for unit in disc.conv_5.units:
        unit.bn.moving_mean.assign(tf.random.uniform(unit.bn.moving_mean.shape))
        unit.bn.moving_variance.assign(tf.random.uniform(unit.bn.moving_variance.shape, 0.5, 2.0))
    images = tf.random.stateless_uniform((3, 32, 32, 3), (5, 6), -1, 1)
    expected = disc.features(images, training=False)
    disc.save(tmp_path / "discriminator.keras")
    loaded = keras.saving.load_model(tmp_path / "discriminator.keras")
    assert isinstance(loaded, Discriminator)
    got = loaded.features(images, training=False)
    for name in CONV_LAYERS:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, atol=1e-6, err_msg=name)
