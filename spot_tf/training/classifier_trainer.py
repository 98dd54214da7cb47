"""What the linear probes' and the fine-tuning's trainers share: one optimizer, top-1 / top-5 tests."""
import warnings

import keras
import tensorflow as tf

from spot_tf.run.distribution import num_replicas
from spot_tf.training.phase_trainer import PhaseTrainer
from spot_tf.training.top_k import TopKAccuracies, class_scores


def labelled_batch(data):
    """(images, int32 labels) of a batch (images, labels)."""
    return data[0], tf.cast(data[1], tf.int32)


def classification_loss(labels, logits):
    """This replica's share of the batch's mean cross-entropy (see spot_tf.training.losses)."""
    per_example = keras.losses.sparse_categorical_crossentropy(labels, tf.cast(logits, tf.float32), from_logits=True)
    return tf.nn.compute_average_loss(per_example, global_batch_size=tf.shape(labels)[0] * num_replicas())


def batch_accuracy(labels, logits):
    """Fraction of this replica's batch whose arg-max logit is the label."""
    hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32))
    return tf.reduce_mean(tf.cast(hits, tf.float32))


class ClassifierTrainer(PhaseTrainer):
    """Base of the classifier trainers: fit() trains with one optimizer, evaluate() tests top-1 / top-5.

    Subclasses define `logits(images, training)` -> {head: logits}, `trained_variables()`, `train_step`
    and `checkpoint()`. The step is the optimizer's iterations.

    Args:
        model: The classifier being trained.
        logged: Names of the values train_step logs.
        heads: Names of the classifier heads whose top-1 / top-5 evaluate() measures (None: a subclass
            tests its own way).
        num_classes: Number of classes.
    """

    def __init__(self, model, logged, heads, num_classes, **kwargs):
        super().__init__(model, logged, **kwargs)
        self.accuracies = TopKAccuracies(heads, num_classes) if heads else None

    def compile(self, optimizer, **kwargs):
        """Trains with `optimizer`, built here on `trained_variables()` (Keras 3 under a strategy needs it)."""
        super().compile(optimizer, **kwargs)
        optimizer.build(self.trained_variables())
        # Every variable exists now: keep Keras from tracing call() on the data to build the trainer.
        self.built = True

    @property
    def step(self):
        return self.optimizer.iterations

    def optimizers(self):
        return [self.optimizer]

    @property
    def metrics(self):
        return super().metrics + (list(self.accuracies.metrics.values()) if self.accuracies else [])

    def call(self, images, training=False):
        return self.logits(images, training)

    def test_step(self, data):
        images, labels = labelled_batch(data)
        self.accuracies.update(labels, class_scores(lambda x: self.logits(x, False), images))
        return self.accuracies.logs()

    def test_results(self, dataset):
        """evaluate() over `dataset`: {head: {"top1": %, "top5": %}}, every example counted once."""
        with warnings.catch_warnings():
            # Keras (3.15) warns "ran out of data; interrupting training" at the end of any dataset of
            # unknown length, which a test set distributed over replicas is: its end is the point here.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            self.evaluate(dataset, verbose=0)
        return self.accuracies.results()
