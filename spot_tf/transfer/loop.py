"""The training loop and the top-k evaluation shared by the linear probe and the fine-tuning.

Both drive their own `tf.function` steps over `tf.data.Dataset`s of (images, labels): a step
returns a dict of scalar metrics, the loop shows them on a Keras progress bar (with ETA) and
writes their running means to TensorBoard.
"""
import keras
import numpy as np
import tensorflow as tf


def _known_cardinality(dataset):
    count = int(dataset.cardinality())
    return count if count > 0 else None


def train_loop(step_fn, dataset, epochs, steps_per_epoch=None, writer=None, log_every=100, verbose=1,
               on_epoch_end=None, prefix="train"):
    """Runs `step_fn(images, labels) -> {name: scalar}` over `dataset` for `epochs` epochs.

    Args:
        step_fn: One training step; returns scalar metrics (losses, accuracies) of its batch.
        dataset: Batches of (images, labels).
        epochs: Number of epochs.
        steps_per_epoch: Batches per epoch, drawn from `dataset.repeat()` (the iterator carries
            over between epochs, as in Keras' fit); None = one pass over `dataset` per epoch.
        writer: A `tf.summary` writer, or None for no TensorBoard scalars.
        log_every: Write the metrics' running means every this many steps (and at epoch ends).
        verbose: 0 = silent, 1 = progress bar.
        on_epoch_end: Optional `fn(epoch, global_step)` called after every epoch.
        prefix: TensorBoard tag prefix.

    Returns:
        The number of steps run.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if steps_per_epoch is not None and steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1 or None, got {steps_per_epoch}")
    target = steps_per_epoch or _known_cardinality(dataset)
    repeated = iter(dataset.repeat()) if steps_per_epoch else None
    step = 0
    sums, count = {}, 0

    def flush():
        nonlocal sums, count
        if writer is not None and count:
            with writer.as_default():
                for name, total in sums.items():
                    tf.summary.scalar(f"{prefix}/{name}", total / count, step=step)
        sums, count = {}, 0

    for epoch in range(epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        # stateful_metrics=[]: show every value as its mean over the epoch so far.
        bar = keras.utils.Progbar(target, verbose=verbose, stateful_metrics=[])
        batches = (next(repeated) for _ in range(steps_per_epoch)) if repeated else iter(dataset)
        seen = 0
        for images, labels in batches:
            values = {name: float(value) for name, value in step_fn(images, labels).items()}
            step += 1
            seen += 1
            count += 1
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value
            # Progbar averages the values over the epoch itself.
            bar.update(seen, list(values.items()))
            if step % log_every == 0:
                flush()
        if not seen:
            raise ValueError("the training dataset yielded no batches")
        if target is None:
            bar.update(seen, finalize=True)
            target = seen  # later epochs get an ETA
        flush()
        if on_epoch_end is not None:
            on_epoch_end(epoch, step)
    return step


def evaluate_top_k(logits_fn, dataset, k=5):
    """Top-1 and top-k accuracy (%) of every head of `logits_fn` over `dataset`.

    Args:
        logits_fn: images -> {name: logits [B, classes]}.
        dataset: Batches of (images, labels).
        k: The k of top-k (capped at the number of classes; with 5 classes or fewer top-5 is 100%).

    Returns:
        {name: {"top1": percent, "top5": percent}} (the key is "top5" whatever k is).
    """

    @tf.function(reduce_retracing=True)
    def correct(images, labels):
        labels = tf.cast(labels, tf.int32)
        out = {}
        for name, logits in logits_fn(images).items():
            logits = tf.cast(logits, tf.float32)
            top_k = min(k, logits.shape[-1])
            out[name] = tf.stack([tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, n), tf.int64))
                                  for n in (1, top_k)])
        return out, tf.shape(labels, out_type=tf.int64)[0]

    totals, seen = {}, 0
    for images, labels in dataset:
        counts, batch = correct(images, labels)
        seen += int(batch)
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value.numpy()
    if not seen:
        raise ValueError("the test dataset yielded no examples")
    return {name: {"top1": 100.0 * float(c[0]) / seen, "top5": 100.0 * float(c[1]) / seen}
            for name, c in totals.items()}


def write_scalars(writer, results, step, prefix="test"):
    """Writes {name: {metric: value}} as `prefix/name/metric` scalars (no-op without a writer)."""
    if writer is None:
        return
    with writer.as_default():
        for name, metrics in results.items():
            for metric, value in metrics.items():
                tf.summary.scalar(f"{prefix}/{name}/{metric}", value, step=step)
        writer.flush()


def sparse_accuracy(labels, logits):
    """Fraction of the batch whose arg-max logit is the label."""
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                           tf.cast(labels, tf.int32)), tf.float32))


def check_num_classes(num_classes):
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
