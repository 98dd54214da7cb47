import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from spot_tf.data.voc_classes import VOC_CLASSES
from spot_tf.transfer.voc_metrics import (
    METRICS, average_precision, eleven_point_ap, mean_ap, per_class_ap, sklearn_ap, stepwise_ap, voc_ap)


def test_the_classes_are_the_devkits_twenty_in_alphabetical_order():
    assert len(VOC_CLASSES) == 20 and list(VOC_CLASSES) == sorted(VOC_CLASSES)
    assert VOC_CLASSES[0] == "aeroplane" and VOC_CLASSES[-1] == "tvmonitor"


@pytest.mark.parametrize("metric", METRICS)
def test_a_perfect_ranking_scores_one(metric):
    assert average_precision([0, 1, 0, 1, -1], [0.1, 0.9, 0.2, 0.8, 5.0], metric) == 1.0


@pytest.mark.parametrize("metric", METRICS)
def test_a_class_with_no_positive_once_difficult_entries_are_removed_has_no_ap(metric):
    assert average_precision([0, -1, 0], [0.3, 0.2, 0.1], metric) is None


def test_the_three_metrics_on_one_ranking_computed_by_hand():
    # Ranked: pos, neg, neg, pos, pos -> precision 1, 1/2, 1/3, 1/2, 3/5 at recall 1/3, 1/3, 1/3, 2/3, 1.
    labels, scores = [1, 0, 0, 1, 1], [5.0, 4.0, 3.0, 2.0, 1.0]
    assert sklearn_ap(labels, scores) == pytest.approx((1 + 1 / 2 + 3 / 5) / 3)
    # Monotone precision: 1 up to recall 1/3, then 3/5.
    assert voc_ap(labels, scores) == pytest.approx((1 + 3 / 5 + 3 / 5) / 3)
    # t = 0, 0.1, 0.2, 0.3 reach the recall-1/3 point (precision 1), the other seven only 3/5.
    assert eleven_point_ap(labels, scores) == pytest.approx((4 * 1 + 7 * 3 / 5) / 11)


def test_difficult_only_entries_are_removed_not_counted_as_negatives():
    labels, scores = [1, -1, 0, 1], [0.9, 0.8, 0.7, 0.6]
    # Left: pos, neg, pos -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    assert voc_ap(labels, scores) == pytest.approx(1 / 2 + 1 / 2 * 2 / 3)
    assert sklearn_ap(labels, scores) == pytest.approx(1 / 2 + 1 / 2 * 2 / 3)
    assert eleven_point_ap(labels, scores) == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert voc_ap([1, 0, 0, 1], scores) < voc_ap(labels, scores)


def test_krahenbuhls_shift_ranks_positives_below_negatives_they_tie_with_or_nearly_tie_with():
    # Exact ties are grouped into one threshold, negatives included (precision 2/3 at recall 1);
    # the -1e-5 shift changes nothing there ...
    labels, scores = [1, 1, 0], [0.5, 0.5, 0.5]
    assert stepwise_ap(np.array([True, True, False]), np.array(scores)) == pytest.approx(2 / 3)
    assert sklearn_ap(labels, scores) == pytest.approx(2 / 3)
    # ... but a positive less than 1e-5 above a negative falls below it.
    assert stepwise_ap(np.array([True, False]), np.array([0.5, 0.5 - 5e-6])) == 1.0
    assert sklearn_ap([1, 0], [0.5, 0.5 - 5e-6]) == pytest.approx(0.5)


def test_eleven_point_ap_ranks_ties_in_input_order_as_matlabs_stable_sort_does():
    assert eleven_point_ap([0, 1], [1.0, 1.0]) == pytest.approx(0.5)
    assert eleven_point_ap([1, 0], [1.0, 1.0]) == pytest.approx(1.0)


def test_voc_ap_ties_among_positives_only_do_not_matter():
    assert voc_ap([1, 1, 0, 1], [0.7, 0.7, 0.6, 0.2]) == pytest.approx(1 / 3 + 1 / 3 + 1 / 3 * 3 / 4)


@pytest.mark.parametrize("seed", range(20))
def test_sklearn_metric_equals_sklearn_itself_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    labels = rng.choice([1, 0, -1], size=n, p=[0.3, 0.6, 0.1])
    labels[0] = 1
    scores = rng.integers(0, 6, size=n).astype(np.float64)  # few distinct values: many ties
    kept = labels != -1
    gt = (labels[kept] == 1).astype(np.float64)
    expected = average_precision_score(gt, scores[kept] - 1e-5 * gt)
    assert sklearn_ap(labels, scores) == pytest.approx(expected, abs=1e-12)
    assert stepwise_ap(gt > 0, scores[kept]) == pytest.approx(average_precision_score(gt, scores[kept]), abs=1e-12)


def test_voc_ap_is_the_monotone_envelope_area_of_the_fair_benchmarks_port():
    # The same curve built the long way: element-wise precision/recall, a right-to-left maximum,
    # then a sum over the points where recall changes.
    rng = np.random.default_rng(3)
    labels = rng.choice([1, 0], size=200, p=[0.2, 0.8])
    scores = rng.normal(size=200) + labels
    order = np.argsort(scores)[::-1]
    tp = np.cumsum(labels[order] == 1)
    prec, rec = list(tp / np.arange(1, 201)), list(tp / tp[-1])
    mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    expected = sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])
    assert voc_ap(labels, scores) == pytest.approx(expected, abs=1e-12)
    # The envelope never lies below the step-wise curve.
    assert voc_ap(labels, scores) >= sklearn_ap(labels, scores)


def test_per_class_ap_and_the_mean_that_leaves_out_classes_without_positives():
    labels = np.array([[1, 0, 0], [0, -1, 1], [1, 0, 0]])
    scores = np.array([[0.9, 0.1, 0.2], [0.1, 0.5, 0.8], [0.8, 0.3, 0.1]])
    aps = per_class_ap(labels, scores, "vocap")
    assert aps == [1.0, None, 1.0]
    assert mean_ap(aps) == (1.0, [1])
    assert mean_ap([None, None]) == (None, [0, 1])
    with pytest.raises(ValueError, match="unknown AP metric"):
        per_class_ap(labels, scores, "auc")
    with pytest.raises(ValueError, match="one shape"):
        per_class_ap(labels, scores[:, :2])
