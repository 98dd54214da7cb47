"""Mean IU, per-class IU and pixel accuracy of a segmentation, from one pixel confusion matrix.

As FCN's `score.py` (shelhamer/fcn.berkeleyvision.org, used unchanged by the SSL papers' VOC tests):
the confusion matrix [truth, prediction] is summed over every pixel of every test image whose label is
a class (255, void, is left out); IU per class = diag / (row + column - diag), a class absent from both
truth and prediction (0 / 0) is left out of the mean; pixel accuracy = diag / everything.
"""
import keras
import numpy as np
import tensorflow as tf

VOID_LABEL = 255


def confusion_counts(labels, predictions, num_classes):
    """[num_classes, num_classes] int64 counts of (truth, predicted) pixel pairs.

    Args:
        labels: Integer truth of any shape; values outside 0..num_classes-1 (void) are ignored.
        predictions: Integer predicted classes, the same shape.
        num_classes: Number of classes.
    """
    labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
    predictions = tf.reshape(tf.cast(predictions, tf.int64), [-1])
    valid = (labels >= 0) & (labels < num_classes)
    pairs = tf.boolean_mask(labels * num_classes + predictions, valid)
    counts = tf.math.bincount(pairs, minlength=num_classes ** 2, maxlength=num_classes ** 2, dtype=tf.int64)
    return tf.reshape(counts, [num_classes, num_classes])


def segmentation_scores(confusion):
    """{"mIoU", "IoU" (per class, NaN where a class is absent from truth and prediction),
    "pixel_accuracy"} of a confusion matrix [truth, prediction], as fractions."""
    confusion = np.asarray(confusion, dtype=np.float64)
    diag = np.diag(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = diag / (confusion.sum(1) + confusion.sum(0) - diag)
        accuracy = diag.sum() / confusion.sum()
    present = ~np.isnan(iou)
    return {"mIoU": float(iou[present].mean()) if present.any() else float("nan"), "IoU": iou,
            "pixel_accuracy": float(accuracy)}


@keras.saving.register_keras_serializable(package="spot_tf")
class ConfusionMatrix(keras.metrics.Metric):
    """The pixel confusion matrix over everything evaluated, as a Keras metric.

    Under a strategy every replica adds to its own copy; reading `result()` outside the step sums them
    (and the workers'), so every pixel counts once. int64 counts: a test set's pixels pass float32's
    exact range (736 VOC images hold ~130M).

    Args:
        num_classes: Number of classes (labels outside 0..num_classes-1 are void).
    """

    def __init__(self, num_classes, name="confusion", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.counts = self.add_variable(shape=(num_classes, num_classes), initializer="zeros", dtype="int64",
                                        aggregation="sum", name="counts")

    def update_state(self, labels, predictions):
        """Adds a batch: integer `labels` (void allowed) and predicted classes of the same shape."""
        self.counts.assign_add(confusion_counts(labels, predictions, self.num_classes))

    def result(self):
        return tf.convert_to_tensor(self.counts)

    def reset_state(self):
        self.counts.assign(tf.zeros_like(self.counts))

    def scores(self):
        """`segmentation_scores` of the counts so far (call it outside the step)."""
        return segmentation_scores(self.result().numpy())

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
