import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.models.conv5_classifier import Conv5Classifier, head_map, trained_layers
from spot_tf.optim.regularization import l2_term


def _discriminator(size, **kwargs):
    keras.utils.set_random_seed(0)
    disc = Discriminator(size, **kwargs)
    disc(tf.zeros((1, size, size, 3)))
    return disc


def test_classifier_spans_the_head_map_as_the_original():
    disc = _discriminator(64, pool5=True)
    head = head_map(disc, tf.zeros((2, 64, 64, 3)), training=False)
    assert head.shape == (2, 2, 2, 256)  # conv_5 4x4, pool_5 2x2
    classifier = Conv5Classifier(10, head.shape[1:3], seed=0)
    assert classifier(head).shape == (2, 10)
    kernel, bias = classifier.fc1.conv.kernel.numpy(), classifier.fc1.conv.bias.numpy()
    assert kernel.shape == (2, 2, 256, 10) and not bias.any()
    # Truncated normal of stddev 0.005: std 0.88 * 0.005, nothing beyond two stddevs.
    assert abs(kernel.std() - 0.005 * 0.88) < 3e-4 and np.abs(kernel).max() <= 0.01
    # slim's L2 5e-5 (5e-5 * sum(w**2) / 2) on the kernel, none on the bias.
    np.testing.assert_allclose(float(l2_term(classifier)), 2.5e-5 * np.sum(kernel.astype(np.float64) ** 2),
                               rtol=1e-4)
    # One linear map of the whole head map: the logits are flatten(map) @ flatten(kernel) + bias.
    maps = tf.random.stateless_normal((3, 2, 2, 256), seed=(1, 2))
    expected = maps.numpy().reshape(3, -1) @ kernel.reshape(-1, 10) + bias
    np.testing.assert_allclose(classifier(maps).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_head_map_is_conv_5_without_pool_5():
    disc = _discriminator(32)
    images = tf.random.stateless_uniform((2, 32, 32, 3), (3, 4), -1, 1)
    head = head_map(disc, images, training=False)
    np.testing.assert_array_equal(head.numpy(), disc.features(images, training=False)["conv_5"].numpy())
    assert head.shape == (2, 2, 2, 256)


def test_seed_fixes_the_kernel():
    a, b, c = (Conv5Classifier(3, (2, 2), seed=s) for s in (1, 1, 2))
    for layer in (a, b, c):
        layer.build((None, 2, 2, 4))
    np.testing.assert_array_equal(a.fc1.conv.kernel.numpy(), b.fc1.conv.kernel.numpy())
    assert not np.array_equal(a.fc1.conv.kernel.numpy(), c.fc1.conv.kernel.numpy())


def test_trained_layers_and_bad_arguments():
    assert trained_layers(0) == ()
    assert trained_layers(1) == ("conv_5",)
    assert trained_layers(2) == ("conv_4", "conv_5")
    assert trained_layers(5) == CONV_LAYERS
    for bad in (-1, 6, 1.0, "1", None):
        with pytest.raises(ValueError, match="finetune_layers"):
            trained_layers(bad)


def test_classifier_serialization_and_keras_file(tmp_path):
    head = tf.random.stateless_normal((2, 2, 2, 6), seed=(5, 6))
    run_layer_test(Conv5Classifier(3, (2, 2), seed=1), head, tmp_path)
