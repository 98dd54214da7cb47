"""Linear classifiers on every frozen conv layer, the split-brain protocol (Zhang et al., CVPR 2017).

Each layer's activation is average-pooled to about 9,000 features (`probe_grid`), flattened and fed
to its own linear softmax layer. All five heads are trained together: one forward pass through the
frozen network per batch feeds them all. Accuracies are reported in percent.
"""
import os

import keras
import tensorflow as tf

from spot_tf.models import CONV_LAYERS
from spot_tf.transfer.loop import (check_num_classes, evaluate_top_k, sparse_accuracy, train_loop,
                                   write_scalars)
from spot_tf.transfer.pooling import PROBE_FEATURES, AdaptiveAveragePooling2D, probe_grid
from spot_tf.transfer.report import results_text, write_report


@keras.saving.register_keras_serializable(package="spot_tf")
class LinearProbe(keras.Model):
    """One pooled linear softmax classifier per layer: `probe(features)` -> {layer: logits}.

    Args:
        feature_shapes: {layer: (height, width, channels)} of the frozen maps at the training size.
        num_classes: Number of classes.
        target_features: Pooled features per layer (the protocol's ~9,000).
    """

    def __init__(self, feature_shapes, num_classes, target_features=PROBE_FEATURES, **kwargs):
        super().__init__(**kwargs)
        self.feature_shapes = {name: tuple(shape) for name, shape in feature_shapes.items()}
        self.num_classes = num_classes
        self.target_features = target_features
        self.layer_names = tuple(feature_shapes)
        self.grids = {name: probe_grid(*shape, target_features) for name, shape in feature_shapes.items()}
        self.heads = [keras.Sequential([AdaptiveAveragePooling2D(self.grids[name]), keras.layers.Flatten(),
                                        keras.layers.Dense(num_classes)], name=f"probe_{name}")
                      for name in self.layer_names]
        for head, name in zip(self.heads, self.layer_names):
            head.build((None,) + tuple(feature_shapes[name]))

    def call(self, features):
        return {name: head(features[name]) for name, head in zip(self.layer_names, self.heads)}

    def get_config(self):
        return {**super().get_config(), "feature_shapes": self.feature_shapes, "num_classes": self.num_classes,
                "target_features": self.target_features}


def make_probe_step(feature_fn, probe, optimizer, weight_decay):
    """The probes' training step and their logits, over a frozen feature function.

    Args:
        feature_fn: images -> {layer: map}; only run forward (its outputs behind stop_gradient).
        probe: A built LinearProbe.
        optimizer: The SGD optimizer, built on the probe's variables.
        weight_decay: L2 added to the gradients of every probe weight (PyTorch SGD's `weight_decay`).

    Returns:
        (train_step(images, labels) -> {"<layer>/loss", "<layer>/acc"}, a tf.function;
         logits_of(images) -> {layer: logits}).
    """
    layers = probe.layer_names

    def logits_of(images):
        # The frozen network only runs forward: no gradient can reach it.
        features = {name: tf.stop_gradient(value) for name, value in feature_fn(images).items()}
        return probe(features)

    @tf.function(reduce_retracing=True)
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            logits = logits_of(images)
            losses = {name: tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits[name],
                                                                                       from_logits=True))
                      for name in layers}
            # The heads share no weights, so one summed loss trains each on its own.
            total = tf.add_n(list(losses.values()))
        variables = probe.trainable_variables
        grads = tape.gradient(total, variables)
        grads = [g + weight_decay * v for g, v in zip(grads, variables)]
        optimizer.apply_gradients(zip(grads, variables))
        metrics = {}
        for name in layers:
            metrics[f"{name}/loss"] = losses[name]
            metrics[f"{name}/acc"] = sparse_accuracy(labels, logits[name])
        return metrics

    return train_step, logits_of


def run_linear_eval(feature_fn, train_ds, test_ds, num_classes, out_dir, epochs=90, steps_per_epoch=None,
                    learning_rate=0.01, momentum=0.9, weight_decay=1e-4, layers=CONV_LAYERS,
                    target_features=PROBE_FEATURES, log_every=100, eval_every_epochs=0, verbose=1):
    """Trains and evaluates linear probes on frozen conv features; writes results to `out_dir`.

    Args:
        feature_fn: images -> {layer: map} in inference mode (e.g. `load_feature_extractor(...)`);
            only run forward, its outputs behind stop_gradient, so it stays frozen.
        train_ds: Batches of (images in [-1, 1], int labels), augmented as the caller wants.
        test_ds: Batches of (images, labels) for top-1 / top-5.
        num_classes: Number of classes (>= 2).
        out_dir: Gets results.json ({layer: {"top1", "top5"}} in percent), results.md, top1.png and
            TensorBoard scalars in logs/ (train/<layer>/loss|acc, test/<layer>/top1|top5).
        epochs: Training epochs.
        steps_per_epoch: Batches per epoch (from `train_ds.repeat()`); None = one pass per epoch.
        learning_rate: SGD learning rate (constant).
        momentum: SGD momentum.
        weight_decay: L2 added to the gradients of every probe weight, as PyTorch's SGD
            `weight_decay` (deepcluster's eval_linear).
        layers: Which layers to probe.
        target_features: Pooled features per layer.
        log_every: TensorBoard train scalars every this many steps.
        eval_every_epochs: Also evaluate on test_ds every this many epochs (0 = only at the end).
        verbose: 0 = silent, 1 = progress bar.

    Returns:
        {layer: {"top1": percent, "top5": percent}}.
    """
    check_num_classes(num_classes)
    layers = tuple(layers)
    sample_images = next((images for images, _ in train_ds.take(1)), None)
    if sample_images is None:
        raise ValueError("the training dataset yielded no batches")
    sample = feature_fn(sample_images)
    unknown = [name for name in layers if name not in sample]
    if unknown:
        raise ValueError(f"layers {unknown} are not among the features {sorted(sample)}")
    probe = LinearProbe({name: tuple(sample[name].shape[1:]) for name in layers}, num_classes, target_features)
    optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)
    optimizer.build(probe.trainable_variables)

    train_step, logits_of = make_probe_step(feature_fn, probe, optimizer, weight_decay)

    writer = tf.summary.create_file_writer(os.path.join(out_dir, "logs"))

    def on_epoch_end(epoch, step):
        if eval_every_epochs and (epoch + 1) % eval_every_epochs == 0 and epoch + 1 < epochs:
            write_scalars(writer, evaluate_top_k(logits_of, test_ds), step)

    step = train_loop(train_step, train_ds, epochs, steps_per_epoch, writer, log_every, verbose, on_epoch_end)
    results = evaluate_top_k(logits_of, test_ds)
    results = {name: results[name] for name in layers}
    write_scalars(writer, results, step)
    writer.close()
    write_report(results, out_dir, title="Linear probes on frozen conv layers")
    if verbose:
        print(results_text(results))
    return results
