"""Tests of spot_tf/models/alexnet_head.py."""
import numpy as np
import pytest

from spot_tf.models.alexnet_head import AlexNetHead


def test_logits_and_the_trained_layers():
    head = AlexNetHead(20, (13, 13, 256), padding="valid", seed=0)
    assert head(np.ones((2, 13, 13, 256), np.float32)).shape == (2, 20)
    assert head.fc6.kernel.shape == (6 * 6 * 256, 4096)  # AlexNet's pool5 at 227 px, valid padding
    assert head.layers_from("fc8") == [head.fc8]
    assert head.layers_from("all") == head.layers_from("fc6") == [head.fc6, head.fc7, head.fc8]
    with pytest.raises(ValueError, match="train_from"):
        head.layers_from("conv_5")


def test_initialised_as_the_reference():
    head = AlexNetHead(20, (15, 15, 256), seed=1)
    assert head.fc6.kernel.shape[0] == 8 * 8 * 256  # same padding: ceil(15 / 2)
    for layer, std in ((head.fc6, 0.005), (head.fc7, 0.005), (head.fc8, 0.01)):
        assert abs(float(np.std(layer.kernel.numpy())) - std) < 0.1 * std
        np.testing.assert_allclose(layer.bias.numpy(), 0.1)


def test_dropout_only_in_training_and_config_round_trip():
    head = AlexNetHead(5, (2, 2, 8), dropout_rate=0.5, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 2, 2, 8)).astype(np.float32)
    np.testing.assert_array_equal(head(x).numpy(), head(x).numpy())
    assert not np.allclose(head(x, training=True).numpy(), head(x).numpy())
    clone = AlexNetHead.from_config(head.get_config())
    assert clone.map_shape == (2, 2, 8) and clone.num_classes == 5
