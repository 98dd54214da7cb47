"""Top-1 / top-5 accuracy of classifier heads, as the Keras metrics that `evaluate()` reports.

Shared by the linear probes and the fine-tuning. A batch of [B, crops, H, W, 3] (the 10-crop test)
is scored by its softmax averaged over the crops, as deepcluster's eval_linear does.
"""
import keras
import tensorflow as tf

TOP_K = 5


def class_scores(logits_fn, images):
    """{head: [B, classes] scores} of `logits_fn` (images -> {head: logits}); crops are averaged."""
    if images.shape.rank != 5:
        return logits_fn(images)
    crops = images.shape[1]
    flat = tf.reshape(images, [-1] + images.shape[2:].as_list())
    return {name: tf.reduce_mean(tf.reshape(tf.nn.softmax(tf.cast(logits, tf.float32)),
                                            [-1, crops, logits.shape[-1]]), axis=1)
            for name, logits in logits_fn(flat).items()}


class TopKAccuracies:
    """Top-1 and top-k accuracy of every head (k capped at the number of classes).

    Args:
        heads: Names of the heads.
        num_classes: Number of classes.
        k: The k of top-k; reported as "top5" whatever it is.
    """

    def __init__(self, heads, num_classes, k=TOP_K):
        self.heads = tuple(heads)
        k = min(k, num_classes)
        self.metrics = {(name, key): keras.metrics.SparseTopKCategoricalAccuracy(k=n, name=f"{name}_{key}")
                        for name in self.heads for key, n in (("top1", 1), ("top5", k))}

    def update(self, labels, scores):
        """Adds a batch: `labels` [B] ints, `scores` {head: [B, classes]}."""
        for (name, _), metric in self.metrics.items():
            metric.update_state(labels, tf.cast(scores[name], tf.float32))

    def logs(self):
        """What a test_step returns (for the progress bar): this replica's %, with a leading axis of 1
        (see StepMetrics)."""
        return {metric.name: tf.reshape(100.0 * metric.result(), [1]) for metric in self.metrics.values()}

    def results(self):
        """{head: {"top1": %, "top5": %}} over everything evaluated.

        Call it outside the step: there the metrics' counts are summed over the replicas (and workers,
        a collective), so every example counts once, however unevenly the last batch was split.
        """
        return {name: {key: 100.0 * float(self.metrics[name, key].result()) for key in ("top1", "top5")}
                for name in self.heads}

    def examples(self):
        """How many examples were evaluated: like `results`, summed over the replicas (call it outside
        the step, on every worker)."""
        return int(tf.convert_to_tensor(next(iter(self.metrics.values())).count))
