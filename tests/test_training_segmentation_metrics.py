import numpy as np
import pytest
import tensorflow as tf

from spot_tf.training.segmentation_metrics import ConfusionMatrix, confusion_counts, segmentation_scores

# Four classes; class 3 appears nowhere, 255 is void.
TRUTH = np.array([[0, 0, 1],
                  [0, 255, 1],
                  [2, 2, 1]])
PREDICTED = np.array([[0, 1, 1],
                      [0, 0, 1],
                      [2, 0, 0]])
# Counted by hand from the eight non-void pixels: rows truth, columns prediction.
HAND_CONFUSION = np.array([[2, 1, 0, 0],
                           [1, 2, 0, 0],
                           [1, 0, 1, 0],
                           [0, 0, 0, 0]])


def test_confusion_counts_skip_void_pixels():
    counts = confusion_counts(TRUTH, PREDICTED, 4).numpy()
    np.testing.assert_array_equal(counts, HAND_CONFUSION)
    assert counts.dtype == np.int64


def test_scores_equal_a_hand_computation():
    scores = segmentation_scores(HAND_CONFUSION)
    # IU = diag / (row + column - diag): 2 / (3 + 4 - 2), 2 / (3 + 3 - 2), 1 / (2 + 1 - 1).
    np.testing.assert_allclose(scores["IoU"][:3], [0.4, 0.5, 0.5])
    # Class 3 is in neither truth nor prediction: left out of the mean, not a zero in it.
    assert np.isnan(scores["IoU"][3])
    assert scores["mIoU"] == pytest.approx(1.4 / 3)
    assert scores["pixel_accuracy"] == pytest.approx(5 / 8)


def test_a_class_only_predicted_counts_as_zero():
    predicted = PREDICTED.copy()
    predicted[2, 2] = 3  # truth 1 -> predicted 3
    scores = segmentation_scores(confusion_counts(TRUTH, predicted, 4).numpy())
    assert scores["IoU"][3] == 0.0
    # Class 0 loses a wrong prediction: diag 2, row 3, column 3 -> 2 / 4.
    assert scores["IoU"][0] == pytest.approx(0.5)
    assert scores["mIoU"] == pytest.approx((0.5 + 0.5 + 0.5 + 0.0) / 4)


def test_the_metric_sums_batches_and_resets():
    metric = ConfusionMatrix(4)
    metric.update_state(TRUTH[None], PREDICTED[None])
    metric.update_state(np.full((1, 2, 2), 3), np.full((1, 2, 2), 3))
    expected = HAND_CONFUSION.copy()
    expected[3, 3] = 4
    np.testing.assert_array_equal(metric.result().numpy(), expected)
    assert metric.scores()["IoU"][3] == 1.0
    metric.reset_state()
    assert metric.result().numpy().sum() == 0
    assert ConfusionMatrix.from_config(metric.get_config()).num_classes == 4


def test_replicas_counts_are_summed(two_replicas):
    with two_replicas.scope():
        metric = ConfusionMatrix(4)
    truth = tf.constant(np.stack([TRUTH, TRUTH[::-1]]))
    predicted = tf.constant(np.stack([PREDICTED, PREDICTED[::-1]]))
    dataset = two_replicas.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((truth, predicted)).batch(2))
    for labels, predictions in dataset:
        two_replicas.run(metric.update_state, (labels, predictions))
    np.testing.assert_array_equal(metric.result().numpy(), 2 * HAND_CONFUSION)
