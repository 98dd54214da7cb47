import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.optim.regularization import l2_term
from spot_tf.transfer.finetune import Conv5Classifier, head_map, run_finetune, trained_layers
from spot_tf.transfer.toy_data import colour_dataset


def _discriminator(size=32, **kwargs):
    keras.utils.set_random_seed(0)
    disc = Discriminator(size, **kwargs)
    disc(tf.zeros((1, size, size, 3)))
    return disc


def _weights(disc):
    return {w.path: w.numpy().copy() for w in disc.weights}


def _changed(disc, before):
    return {path.split("/")[1] for path, value in _weights(disc).items() if not np.array_equal(value, before[path])}


def _changed_weights(disc, before):
    return {path for path, value in _weights(disc).items() if not np.array_equal(value, before[path])}


def _run(disc, out_dir, **kwargs):
    train = colour_dataset(num_classes=4, examples=64, batch_size=8, seed=0).shuffle(8, seed=0)
    test = colour_dataset(num_classes=4, examples=32, batch_size=8, seed=1)
    return run_finetune(disc, train, test, 4, out_dir, verbose=0, **kwargs)


def test_linear_only_learns_and_re_estimates_only_conv5s_batch_norm_statistics(tmp_path):
    disc = _discriminator()
    disc.conv_5.trainable = False  # even so: the original runs the discriminator in training mode
    before = _weights(disc)
    # Enough steps for the moving statistics (momentum 0.975) to reach the labelled images'.
    results = _run(disc, tmp_path, finetune_layers=0, steps=100, seed=1)
    changed = _changed_weights(disc, before)
    # Only the moving statistics move (re-estimated on the labelled images); no weight is trained.
    assert changed and {path.rsplit("/", 1)[1] for path in changed} == {"moving_mean", "moving_variance"}
    assert {path.split("/")[1] for path in changed} == {"conv_5"}
    assert disc.conv_5.trainable is False
    assert results["conv_5"]["top1"] > 90.0
    with open(tmp_path / "results.json") as f:
        assert json.load(f) == results
    assert set(results) == {"conv_5"} and set(results["conv_5"]) == {"top1", "top5"}
    assert (tmp_path / "results.md").exists() and (tmp_path / "top1.png").exists()


def test_one_finetuned_layer_changes_only_conv5(tmp_path):
    disc = _discriminator()
    disc.conv_2.trainable = False  # the caller's flags come back afterwards
    before = _weights(disc)
    _run(disc, tmp_path, finetune_layers=1, steps=3)
    assert _changed(disc, before) == {"conv_5"}
    assert [getattr(disc, name).trainable for name in CONV_LAYERS] == [True, False, True, True, True]


def test_trained_layers_and_bad_arguments(tmp_path):
    assert trained_layers(0) == () and trained_layers(2) == ("conv_4", "conv_5")
    assert trained_layers(5) == CONV_LAYERS
    disc = _discriminator()
    for bad in (-1, 6, 1.0):
        with pytest.raises(ValueError, match="finetune_layers"):
            _run(disc, tmp_path, finetune_layers=bad, steps=1)
    ds = colour_dataset(examples=8)
    with pytest.raises(ValueError, match="num_classes"):
        run_finetune(disc, ds, ds, 1, tmp_path, steps=1, verbose=0)


def test_classifier_spans_the_head_map_as_the_original():
    disc = _discriminator(64, pool5=True)
    head = head_map(disc, tf.zeros((2, 64, 64, 3)), training=False)
    assert head.shape == (2, 2, 2, 256)  # conv_5 4x4, pool_5 2x2
    classifier = Conv5Classifier(10, head.shape[1:3], seed=0)
    assert classifier(head).shape == (2, 10)
    kernel, bias = classifier.fc1.conv.kernel.numpy(), classifier.fc1.conv.bias.numpy()
    assert kernel.shape == (2, 2, 256, 10) and not bias.any()
    assert abs(kernel.std() - 0.005 * 0.88) < 3e-4 and np.abs(kernel).max() <= 0.01
    # slim's L2 5e-5 (5e-5 * sum(w**2) / 2) on the kernel, none on the bias.
    np.testing.assert_allclose(float(l2_term(classifier)), 2.5e-5 * np.sum(kernel.astype(np.float64) ** 2),
                               rtol=1e-4)


def test_classifier_serialization_and_keras_file(tmp_path):
    head = tf.random.stateless_normal((2, 2, 2, 6), seed=(5, 6))
    run_layer_test(Conv5Classifier(3, (2, 2), seed=1), head, tmp_path)
