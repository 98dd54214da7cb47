"""Tests of spot_tf/transfer/voc_svm.py on a toy feature extractor."""
import json
import os

import numpy as np
import tensorflow as tf

from spot_tf.transfer import voc_svm

CLASSES = ("red", "green", "blue")


def _features(images):
    # Two "layers": the image itself and its 2x2 average, each a map of the colour.
    return {"conv_1": tf.nn.relu(images), "conv_2": tf.nn.avg_pool2d(images + 1.0, 2, 2, "VALID")}


def _dataset(examples, seed):
    rng = np.random.default_rng(seed)
    colour = np.arange(examples) % 3
    images = np.full((examples, 8, 8, 3), -0.5, np.float32)
    images[np.arange(examples), :, :, colour] = 0.8
    images += rng.normal(0, 0.3, images.shape).astype(np.float32)
    labels = np.zeros((examples, 3), np.int32)
    labels[np.arange(examples), colour] = 1
    labels[0, (colour[0] + 1) % 3] = -1  # a difficult entry
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(5)


def test_probe_grid_pooling_flattens_each_map():
    pool = voc_svm.grid_pooling({"conv_1": (55, 55, 96), "conv_5": (13, 13, 256)})
    out = pool({"conv_1": tf.ones((2, 55, 55, 96)), "conv_5": tf.ones((2, 13, 13, 256))})
    assert out["conv_1"].shape == (2, 10 * 10 * 96) and out["conv_5"].shape == (2, 6 * 6 * 256)


def test_svms_per_layer_with_their_caches(tmp_path):
    calls = []

    def dataset(split, examples, seed):
        def make():
            calls.append(split)
            return _dataset(examples, seed)
        return make

    datasets = {"train": dataset("train", 30, 0), "test": dataset("test", 15, 1)}
    layers = ("conv_1", "conv_2")
    results = voc_svm.run_voc_svm(_features, datasets, str(tmp_path), CLASSES, 8, layers=layers)
    assert calls == ["train", "test"] and list(results) == list(layers)
    for layer in layers:
        result = results[layer]
        assert set(result) >= {"mAP", "AP", "mAP_sklearn", "mAP_11point", "best_cost"}
        assert result["mAP"] > 90.0 and set(result["best_cost"]) == set(CLASSES)
    features = np.load(tmp_path / "features_train_conv_1.npy")
    assert features.shape == (30, 8 * 8 * 3) and features.dtype == np.float32
    assert np.load(tmp_path / "labels_test.npy").shape == (15, 3)
    # A rerun reads both caches: no image and no SVM again.
    with open(tmp_path / "svm_tf_conv_2.json") as f:
        saved = json.load(f)
    saved["AP"] = [12.0, 12.0, 12.0]
    with open(tmp_path / "svm_tf_conv_2.json", "w") as f:
        json.dump(saved, f)
    again = voc_svm.run_voc_svm(_features, datasets, str(tmp_path), CLASSES, 8, layers=layers)
    assert calls == ["train", "test"] and again["conv_1"] == results["conv_1"] and again["conv_2"]["mAP"] == 12.0
    assert not [name for name in os.listdir(tmp_path) if ".tmp" in name]
