"""Weighted k-nearest-neighbour classification of frozen conv features, with no training.

The protocol of Wu et al. (CVPR 2018, "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination") as DINO's eval_knn.py runs it: every conv layer's map is globally average-pooled
and L2-normalised (conv_1..conv_5 -> 96/256/384/384/256 numbers); each test example's k most
cosine-similar training examples vote for their classes with weight exp(similarity / T), and the
classes are ranked by their summed weight. Accuracies (top-1, top-5) are in percent.

Memory: the training features (the "bank") are kept on the host in `bank_dtype`, float16 by default:
ImageNet's 1.28 M images x 1,376 pooled numbers take 3.5 GB (7 GB in float32). Each layer is cast
to float32 only while it is searched (at most 1.28 M x 384 x 4 bytes = 2 GB more), so similarities
and their ranking are computed in float32. Test examples are searched `chunk_size` at a time: a
[chunk, N] float32 similarity matrix (1.3 GB for 256 x 1.28 M) is the largest temporary.
"""
import json
import os

import keras
import numpy as np
import tensorflow as tf

from spot_tf.models import CONV_LAYERS
from spot_tf.transfer.report import results_text, write_report

SETTINGS_FILE = "knn_settings.json"


def pooled_features(maps):
    """{layer: [B, H, W, C] map} -> {layer: [B, C]} global average, L2-normalised, float32."""
    return {name: tf.math.l2_normalize(tf.reduce_mean(tf.cast(value, tf.float32), axis=(1, 2)), axis=-1)
            for name, value in maps.items()}


def feature_bank(feature_fn, dataset, layers=CONV_LAYERS, strategy=None, dtype="float16", verbose=0,
                 pool=pooled_features):
    """The pooled, normalised features and the labels of every example of one pass over `dataset`.

    Args:
        feature_fn: [-1, 1] images -> {layer: map}, run in inference mode.
        dataset: Finite batches of (images, int labels) (a label may be a vector); batched with the
            global batch size when a strategy is given (each replica gets its slice of every batch).
        layers: Which layers to keep.
        strategy: A tf.distribute strategy to compute the features under, or None (the current one).
            With several workers, `dataset` is sharded across them (the strategy's auto-sharding) and
            the features of all workers are gathered on every worker.
        dtype: The bank's dtype ("float16" halves its memory; the features are cast on the device).
        verbose: 0 = silent, 1 = progress bar.
        pool: {layer: map} -> {layer: [B, features]} (default: k-NN's `pooled_features`).

    Returns:
        ({layer: numpy [N, features] of `dtype`}, numpy int32 labels [N, ...]), in the dataset's order.
    """
    strategy = strategy or tf.distribute.get_strategy()
    layers = tuple(layers)

    def replica_step(images, labels):
        maps = feature_fn(images)
        unknown = [name for name in layers if name not in maps]
        if unknown:
            raise ValueError(f"layers {unknown} are not among the features {sorted(maps)}")
        pooled = pool({name: maps[name] for name in layers})
        return {name: tf.cast(value, dtype) for name, value in pooled.items()}, tf.cast(labels, tf.int32)

    @tf.function(reduce_retracing=True)
    def step(batch):
        # gather concatenates the replicas' slices in replica order, which is the batch's order. It
        # takes one value, not a structure: given a tuple it silently returns replica 0's part.
        return tf.nest.map_structure(lambda value: strategy.gather(value, axis=0),
                                     strategy.run(replica_step, args=batch))

    chunks, labels = {name: [] for name in layers}, []
    bar = keras.utils.Progbar(None if int(dataset.cardinality()) < 0 else int(dataset.cardinality()),
                              verbose=verbose)
    for seen, batch in enumerate(strategy.experimental_distribute_dataset(dataset), 1):
        features, batch_labels = step(batch)
        for name in layers:
            chunks[name].append(features[name].numpy())
        labels.append(batch_labels.numpy())
        bar.update(seen)
    if not labels:
        raise ValueError("the dataset yielded no batches")
    if bar.target is None:
        bar.update(len(labels), finalize=True)  # a bar without a target does not end its line itself
    # One layer concatenated at a time, its batches freed right after: the peak is the bank plus
    # one layer, not twice the bank.
    bank = {name: np.concatenate(chunks.pop(name)) for name in layers}
    return bank, np.concatenate(labels)


def knn_class_scores(queries, bank, bank_labels, num_classes, k, temperature):
    """Every class's weighted vote from each query's k nearest bank examples, as a log.

    Args:
        queries: [Q, d] L2-normalised features.
        bank: [N, d] L2-normalised training features (same dtype as `queries`).
        bank_labels: [N] int labels of `bank`.
        num_classes: Number of classes.
        k: Neighbours per query (<= N).
        temperature: T of the weights exp(similarity / T).

    Returns:
        [Q, num_classes] float32: log of the sum of exp(similarity / T) over the query's neighbours
        of that class, -inf for a class none of them has. Kept as logs so that a small T can neither
        overflow a weight to inf nor underflow a vote to "no vote".
    """
    similarity = tf.cast(tf.matmul(queries, bank, transpose_b=True), tf.float32)
    top_similarity, top_index = tf.math.top_k(similarity, k)
    neighbour_labels = tf.gather(tf.cast(bank_labels, tf.int32), top_index)
    is_class = tf.equal(neighbour_labels[:, :, None], tf.range(num_classes, dtype=tf.int32))
    logits = tf.where(is_class, top_similarity[:, :, None] / temperature, -np.inf)
    return tf.reduce_logsumexp(logits, axis=1)


def count_hits(scores, labels, top_n):
    """How many labels rank first, and among the first `top_n`, by `scores` ([Q, classes]).

    Equal scores rank the lower class first, and a class without a vote (-inf) is never a hit, even
    when fewer than `top_n` classes were voted for.
    """
    labels = tf.cast(labels, tf.int32)
    _, ranked = tf.math.top_k(scores, top_n)
    voted = tf.math.is_finite(tf.gather(scores, labels, batch_dims=1))
    hits = tf.logical_and(tf.equal(ranked, labels[:, None]), voted[:, None])
    return (tf.reduce_sum(tf.cast(hits[:, 0], tf.int64)),
            tf.reduce_sum(tf.cast(tf.reduce_any(hits, axis=1), tf.int64)))


@tf.function(reduce_retracing=True)
def _chunk_hits(queries, labels, bank, bank_labels, num_classes, k, temperature, top_n):
    return count_hits(knn_class_scores(queries, bank, bank_labels, num_classes, k, temperature), labels, top_n)


def knn_accuracy(queries, labels, bank, bank_labels, num_classes, k=20, temperature=0.07, chunk_size=256):
    """Top-1 and top-5 accuracy (%) of weighted k-NN over one layer's features.

    Args:
        queries: [Q, d] normalised test features (any float dtype; searched in float32).
        labels: [Q] int test labels.
        bank: [N, d] normalised training features.
        bank_labels: [N] int training labels.
        num_classes: Number of classes.
        k: Neighbours per test example.
        temperature: T of the vote weights exp(similarity / T).
        chunk_size: Test examples per similarity matrix ([chunk_size, N] float32).

    Returns:
        {"top1": percent, "top5": percent} (top-5 counts min(5, num_classes) classes).
    """
    bank = tf.cast(bank, tf.float32)
    bank_labels = tf.constant(bank_labels, tf.int32)
    # Tensors, not Python numbers: every layer and setting then shares one traced function.
    settings = [tf.constant(num_classes, tf.int32), tf.constant(k, tf.int32), tf.constant(temperature, tf.float32),
                tf.constant(min(5, num_classes), tf.int32)]
    top1 = top5 = 0
    for start in range(0, len(queries), chunk_size):
        chunk = tf.cast(queries[start:start + chunk_size], tf.float32)
        hits = _chunk_hits(chunk, tf.constant(labels[start:start + chunk_size], tf.int32), bank, bank_labels,
                           *settings)
        top1 += int(hits[0])
        top5 += int(hits[1])
    return {"top1": 100.0 * top1 / len(queries), "top5": 100.0 * top5 / len(queries)}


def _check_arguments(num_classes, k, temperature, chunk_size):
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")


def _check_labels(labels, num_classes, split):
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"{split} labels must lie in [0, num_classes={num_classes}), got "
                         f"{labels.min()}..{labels.max()}")


def run_knn_eval(feature_fn, train_ds, test_ds, num_classes, out_dir, k=20, temperature=0.07, chunk_size=256,
                 strategy=None, source=None, extra=None, layers=CONV_LAYERS, bank_dtype="float16", verbose=1,
                 evaluated=None):
    """Weighted k-NN on the pooled frozen features of every conv layer; writes results to `out_dir`.

    Args:
        feature_fn: [-1, 1] images -> {layer: map} in inference mode (a `FeatureExtractor` or any
            callable); only run forward.
        train_ds: Finite batches of (images, int labels): one pass makes the bank (not augmented).
        test_ds: Finite batches of (images, int labels): one pass.
        num_classes: Number of classes (>= 2).
        out_dir: Gets results.json ({layer: {"top1", "top5"}} in percent), results.md, top1.png
            (`write_report`) and knn_settings.json (k, temperature, bank dtype, example counts,
            source, extra). The settings are a file of their own: results.json holds only layers.
        k: Neighbours per test example (the protocol's 20).
        temperature: T of the vote weights exp(cosine similarity / T) (the protocol's 0.07).
        chunk_size: Test examples compared with the whole bank at a time (bounds the memory).
        strategy: A tf.distribute strategy to compute the features under, or None; see
            `feature_bank`. The neighbour search runs on the default device.
        source: Where the features came from, for knn_settings.json (default `feature_fn.source`).
        extra: A JSON-serialisable dict also written to knn_settings.json (e.g. the data set).
        layers: Which layers to evaluate.
        bank_dtype: "float16" (half the memory) or "float32": the dtype the features are kept in.
        verbose: 0 = silent, 1 = progress bars and the results.
        evaluated: What was evaluated (source, protocol, image size...), into results.json.

    Returns:
        {layer: {"top1": percent, "top5": percent}}.
    """
    _check_arguments(num_classes, k, temperature, chunk_size)
    layers = tuple(layers)
    bank, bank_labels = feature_bank(feature_fn, train_ds, layers, strategy, bank_dtype, verbose)
    if k > len(bank_labels):
        raise ValueError(f"k={k} exceeds the {len(bank_labels)} training examples")
    _check_labels(bank_labels, num_classes, "training")
    queries, labels = feature_bank(feature_fn, test_ds, layers, strategy, bank_dtype, verbose)
    _check_labels(labels, num_classes, "test")
    # pop: each layer's bank is freed once it has been searched.
    results = {name: knn_accuracy(queries[name], labels, bank.pop(name), bank_labels, num_classes, k, temperature,
                                  chunk_size)
               for name in layers}
    write_report(results, out_dir, title=f"Weighted {k}-NN (T={temperature}) on frozen conv layers",
                 evaluated=evaluated)
    settings = {"k": int(k), "temperature": float(temperature), "bank_dtype": str(bank_dtype),
                "train_examples": len(bank_labels), "test_examples": len(labels),
                "source": source if source is not None else getattr(feature_fn, "source", None),
                "extra": extra or {}}
    with open(os.path.join(out_dir, SETTINGS_FILE), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
        f.write("\n")
    if verbose:
        print(results_text(results))
    return results
