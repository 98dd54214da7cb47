"""Average precision of PASCAL VOC classification, as the three reference protocols compute it.

Labels follow spot_tf.data.voc_classes: 1 = present, 0 = absent, -1 = difficult-only. Every metric
first removes the -1 entries, and gives None for a class with no positive left. Values are
fractions in [0, 1] (callers that write results multiply by 100).

- "vocap": the VOC2010+ devkit's VOCap.m, as the linear-SVM benchmark (Goyal et al. 2019,
  fair_self_supervision_benchmark svm_helper.get_precision_recall / calculate_ap) ports it: the
  area under the precision-recall curve, precision made monotone (each point takes the best
  precision at any higher recall), one point per ranked example.
- "sklearn": Krähenbühl et al.'s fine-tuning protocol, sklearn.metrics.average_precision_score
  (gt, score - 1e-5 * gt): step-wise AP, the sum over distinct scores of (R_n - R_{n-1}) P_n, each
  run of tied scores one threshold; the shift moves each positive below any negative scored less
  than 1e-5 under it (a pessimistic tie-break; exact ties are already grouped).
- "11point": the official VOC2007 devkit's VOCevalcls.m, the mean over recall thresholds
  t = 0, 0.1, ..., 1 of the best precision at recall >= t.
"""
import numpy as np

METRICS = ("vocap", "sklearn", "11point")


def _kept(labels, scores):
    """(bool positives, float64 scores) of the entries that are not difficult-only, or None if no positive."""
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in size")
    kept = labels != -1
    positives = labels[kept] == 1
    return (positives, scores[kept]) if positives.any() else None


def stepwise_ap(positives, scores):
    """sklearn's uninterpolated AP: one precision-recall point per distinct score (ties grouped)."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, positives = scores[order], positives[order]
    # The last example of each run of equal scores closes a threshold (sklearn's _binary_clf_curve).
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_positives = np.cumsum(positives)[last]
    precision = true_positives / (last + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ranked_curve(positives, order):
    """Precision and recall after each example of the ranking `order`."""
    true_positives = np.cumsum(positives[order])
    return true_positives / np.arange(1, order.size + 1), true_positives / true_positives[-1]


def sklearn_ap(labels, scores):
    """Krähenbühl's AP: average_precision_score(gt, score - 1e-5 * gt) over the non-difficult entries."""
    kept = _kept(labels, scores)
    if kept is None:
        return None
    positives, scores = kept
    return stepwise_ap(positives, scores - 1e-5 * positives)


def voc_ap(labels, scores):
    """VOCap: area under the monotone precision-recall curve (fair benchmark's calculate_ap)."""
    kept = _kept(labels, scores)
    if kept is None:
        return None
    positives, scores = kept
    # The reference ranks with np.argsort(preds)[::-1]: tied scores come in whatever order numpy's
    # default sort leaves them, reversed (real-valued SVM scores practically never tie).
    precision, recall = _ranked_curve(positives, np.argsort(scores)[::-1])
    recall = np.r_[0.0, recall, 1.0]
    precision = np.maximum.accumulate(np.r_[0.0, precision, 0.0][::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def eleven_point_ap(labels, scores):
    """VOC2007's 11-point interpolated AP (VOCevalcls.m: a stable sort of -scores, ties in input order)."""
    kept = _kept(labels, scores)
    if kept is None:
        return None
    positives, scores = kept
    precision, recall = _ranked_curve(positives, np.argsort(-scores, kind="stable"))
    # k / 10 rather than a float range: a recall of exactly 0.3 must reach the threshold 0.3.
    return float(np.mean([precision[recall >= k / 10].max(initial=0.0) for k in range(11)]))


_METRIC_FNS = {"vocap": voc_ap, "sklearn": sklearn_ap, "11point": eleven_point_ap}


def average_precision(labels, scores, metric="vocap"):
    """One class's AP ([N] labels in {1, 0, -1}, [N] scores) under `metric`, a fraction or None."""
    if metric not in _METRIC_FNS:
        raise ValueError(f"unknown AP metric {metric!r}: expected one of {METRICS}")
    return _METRIC_FNS[metric](labels, scores)


def per_class_ap(labels, scores, metric="vocap"):
    """[N, C] labels and scores -> the C classes' APs (fractions, None for a class with no positive)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    if labels.ndim != 2 or labels.shape != scores.shape:
        raise ValueError(f"expected [N, C] labels and scores of one shape, got {labels.shape} and {scores.shape}")
    return [average_precision(labels[:, c], scores[:, c], metric) for c in range(labels.shape[1])]


def mean_ap(aps):
    """(mean over the classes with an AP, indices of the classes left out); the mean is None if all are."""
    left_out = [i for i, ap in enumerate(aps) if ap is None]
    values = [ap for ap in aps if ap is not None]
    return (float(np.mean(values)) if values else None), left_out
