"""Goyal et al.'s PASCAL VOC 2007 benchmark on frozen features: linear SVMs per class and conv layer.

Each conv layer's map is average-pooled to its probe grid (conv_1 10x10x96 ... conv_5 6x6x256 at 227
px, see pooling.probe_grid) and flattened; `linear_svm.evaluate_layer` L2-normalises the features,
sweeps the costs by cross-validation on trainval and tests the best per class. The features of both
splits are computed once and cached in the phase folder as .npy files (float32: 5,011 x ~9,000 x 4
bytes = 180 MB per layer of trainval), written atomically, the labels last; each layer's SVM results
are cached too (per solver), so a rerun after a crash resumes at the layer it was on.
"""
import json
import os

import numpy as np
import tensorflow as tf

from spot_tf.models import CONV_LAYERS
from spot_tf.models.pooling import AdaptiveAveragePooling2D, probe_grid
from spot_tf.transfer.knn import feature_bank
from spot_tf.transfer.linear_svm import evaluate_layer
from spot_tf.transfer.voc_report import ap_result

METRIC = "vocap"


def grid_pooling(feature_shapes):
    """{layer: map} -> {layer: [B, grid features]}: each map average-pooled to its probe grid, flattened."""
    poolers = {name: AdaptiveAveragePooling2D(probe_grid(*shape)) for name, shape in feature_shapes.items()}

    def pool(maps):
        return {name: tf.reshape(poolers[name](tf.cast(value, tf.float32)), [tf.shape(value)[0], -1])
                for name, value in maps.items()}
    return pool


def _save(path, array):
    temporary = f"{path}.tmp.npy"
    np.save(temporary, array)
    os.replace(temporary, path)


def cached_features(feature_fn, dataset_fn, split, out_dir, pool, layers=CONV_LAYERS, strategy=None):
    """({layer: float32 [N, features]}, int32 labels [N, classes]) of `split`, from out_dir's cache or
    computed from one pass of `dataset_fn()` (then cached)."""
    paths = {name: os.path.join(out_dir, f"features_{split}_{name}.npy") for name in layers}
    labels_path = os.path.join(out_dir, f"labels_{split}.npy")
    if os.path.exists(labels_path) and all(os.path.exists(path) for path in paths.values()):
        return {name: np.load(path) for name, path in paths.items()}, np.load(labels_path)
    bank, labels = feature_bank(feature_fn, dataset_fn(), layers, strategy, dtype="float32", verbose=1, pool=pool)
    os.makedirs(out_dir, exist_ok=True)
    for name in layers:
        _save(paths[name], bank[name])
    _save(labels_path, labels)
    return bank, labels


def layer_result(svm, classes):
    """The result of one layer's `evaluate_layer` output: VOCap as "mAP", the other metrics, the costs."""
    result = ap_result({"vocap": svm["AP"], "sklearn": svm["AP_sklearn"], "11point": svm["AP_11point"]}, classes,
                       METRIC)
    result["best_cost"] = dict(zip(classes, (float(c) for c in svm["best_cost"])))
    return result


def run_voc_svm(feature_fn, datasets, out_dir, classes, image_size, solver="tf", folds=3, strategy=None,
                layers=CONV_LAYERS):
    """{layer: result} of the SVM benchmark (see voc_report.py for a result).

    Args:
        feature_fn: [-1, 1] images -> {layer: map} in inference mode.
        datasets: {"train": fn, "test": fn}, each giving finite batches of (images, [B, classes] labels).
        out_dir: The phase folder: the feature and per-layer result caches.
        classes: The class names, in label order.
        image_size: The images' side (fixes the maps' shapes, hence the grids).
        solver: evaluate_layer's solver ("tf" or "sklearn").
        folds: Cross-validation folds.
        strategy: The tf.distribute strategy the features are computed under (None: the current one).
        layers: Which layers.
    """
    maps = feature_fn(tf.zeros((1, image_size, image_size, 3)))
    pool = grid_pooling({name: tuple(maps[name].shape[1:]) for name in layers})
    train, train_labels = cached_features(feature_fn, datasets["train"], "train", out_dir, pool, layers, strategy)
    test, test_labels = cached_features(feature_fn, datasets["test"], "test", out_dir, pool, layers, strategy)
    results = {}
    for name in layers:
        path = os.path.join(out_dir, f"svm_{solver}_{name}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                svm = json.load(f)
        else:
            svm = evaluate_layer(train.pop(name), train_labels, test.pop(name), test_labels, folds=folds,
                                 solver=solver)
            with open(f"{path}.tmp", "w", encoding="utf-8") as f:
                json.dump(svm, f, default=float)
            os.replace(f"{path}.tmp", path)
        results[name] = layer_result(svm, classes)
    return results
