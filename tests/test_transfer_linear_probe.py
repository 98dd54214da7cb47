import glob
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.transfer.feature_source import features_of
from spot_tf.transfer.linear_probe import LinearProbe, run_linear_eval
from spot_tf.transfer.toy_data import colour_dataset


@pytest.fixture(scope="module")
def discriminator():
    keras.utils.set_random_seed(0)
    disc = Discriminator(32)
    disc(tf.zeros((1, 32, 32, 3)))
    return disc


def test_learns_a_separable_problem_and_keeps_the_network_frozen(discriminator, tmp_path):
    before = [w.numpy().copy() for w in discriminator.weights]
    train = colour_dataset(num_classes=4, examples=64, batch_size=8, seed=0).shuffle(8, seed=0)
    test = colour_dataset(num_classes=4, examples=32, batch_size=8, seed=1)
    results = run_linear_eval(features_of(discriminator), train, test, 4, tmp_path, epochs=3, verbose=0)
    assert tuple(results) == CONV_LAYERS
    assert max(r["top1"] for r in results.values()) > 90.0
    for name in CONV_LAYERS:
        assert 0.0 <= results[name]["top1"] <= results[name]["top5"] == 100.0  # 4 classes: top-5 is all
    for weight, value in zip(discriminator.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value, err_msg=weight.path)
    with open(tmp_path / "results.json") as f:
        written = json.load(f)
    assert written == results and all(set(r) == {"top1", "top5"} for r in written.values())
    assert (tmp_path / "results.md").exists() and (tmp_path / "top1.png").exists()
    assert glob.glob(str(tmp_path / "logs" / "events.out.tfevents.*"))


def test_a_random_labelling_is_not_learned(discriminator, tmp_path):
    # The test labels are independent of the images: a probe that "learns" them would be a leak.
    train = colour_dataset(num_classes=4, examples=64, batch_size=8, seed=0)
    images = np.concatenate([x for x, _ in colour_dataset(num_classes=4, examples=200, batch_size=50, seed=1)])
    labels = np.random.default_rng(0).integers(0, 4, len(images)).astype(np.int32)
    test = tf.data.Dataset.from_tensor_slices((images, labels)).batch(50)
    results = run_linear_eval(features_of(discriminator), train, test, 4, tmp_path, epochs=1, steps_per_epoch=4,
                              layers=("conv_5",), verbose=0)
    assert set(results) == {"conv_5"} and results["conv_5"]["top1"] < 45.0


def test_probe_dimensions_at_227():
    shapes = {"conv_1": (57, 57, 96), "conv_2": (29, 29, 256), "conv_3": (15, 15, 384), "conv_4": (15, 15, 384),
              "conv_5": (15, 15, 256)}
    probe = LinearProbe(shapes, num_classes=1000)
    assert [head.layers[-1].kernel.shape for head in probe.heads] == [
        (9600, 1000), (9216, 1000), (9600, 1000), (9600, 1000), (9216, 1000)]


def test_bad_arguments_are_named(discriminator, tmp_path):
    ds = colour_dataset(examples=8)
    features = features_of(discriminator)
    with pytest.raises(ValueError, match="num_classes"):
        run_linear_eval(features, ds, ds, 1, tmp_path, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="fc_1"):
        run_linear_eval(features, ds, ds, 4, tmp_path, epochs=1, layers=("conv_1", "fc_1"), verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        run_linear_eval(features, ds.take(0), ds, 4, tmp_path, epochs=1, verbose=0)


def test_serialization_and_keras_file(tmp_path):
    shapes = {"conv_1": (4, 4, 3), "conv_5": (2, 2, 5)}
    features = {name: tf.random.stateless_normal((2,) + shape, seed=(i, 1)) for i, (name, shape) in
                enumerate(shapes.items())}
    run_layer_test(LinearProbe(shapes, num_classes=3, target_features=20), features, tmp_path)
