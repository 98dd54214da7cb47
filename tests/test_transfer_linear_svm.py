import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

from spot_tf.transfer.linear_svm import (
    FAIR_COSTS, VISSL_COSTS, decision_values, evaluate_layer, fit_svm_path, normalize_features, stratified_folds,
    svm_objective, svm_targets)
from spot_tf.transfer.voc_metrics import voc_ap

COSTS = (0.01, 1.0, 100.0, 1000.0)


def voc_like(n, dim, classes, seed, signal=0.4):
    """Non-negative features with class directions; labels 1 / 0 / -1 (about a tenth of the positives difficult)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, classes)) < rng.uniform(0.15, 0.4, classes)).astype(np.int64)
    directions = rng.normal(size=(classes, dim))
    features = np.maximum(0.0, rng.normal(size=(n, dim)) + signal * labels @ directions + 0.3)
    labels[(labels == 1) & (rng.random(labels.shape) < 0.1)] = -1
    return features, labels


@pytest.fixture(autouse=True)
def quiet_liblinear():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_cost_lists():
    assert VISSL_COSTS == (0.01, 0.1, 1, 2, 5, 10, 15, 20, 50, 100, 1000)
    assert len(FAIR_COSTS) == 26 and FAIR_COSTS[0] == pytest.approx(1e-7) and FAIR_COSTS[-1] == 0.5 ** 19


def test_features_are_l2_normalised_with_the_references_epsilon_and_difficult_counts_as_negative():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize_features(x), [[3 / (5 + 1e-5), 4 / (5 + 1e-5)], [0, 0]])
    np.testing.assert_array_equal(svm_targets([[1, 0, -1]]), [[1.0, -1.0, -1.0]])


@pytest.mark.parametrize("seed", range(6))
def test_folds_are_those_of_sklearns_stratified_k_fold_without_shuffling(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(9, 80))
    targets = rng.choice([-1.0, 1.0], size=n, p=[0.8, 0.2])
    targets[:3] = [1.0, -1.0, 1.0] if seed % 2 else [-1.0, 1.0, 1.0]  # either class first
    expected = np.empty(n, np.int64)
    for fold, (_, held_out) in enumerate(StratifiedKFold(n_splits=3).split(np.zeros(n), targets)):
        expected[held_out] = fold
    np.testing.assert_array_equal(stratified_folds(targets, 3), expected)


def test_the_tf_solver_reaches_liblinears_objective_at_every_cost_with_held_out_rows():
    features, labels = voc_like(90, 160, 3, seed=0)
    x, targets = normalize_features(features), svm_targets(labels)
    rows = np.stack([stratified_folds(targets[:, c]) != c % 3 for c in range(3)], axis=1)
    ours, our_bias = fit_svm_path(x, targets, COSTS, rows, solver="tf")
    ref, ref_bias = fit_svm_path(x, targets, COSTS, rows, solver="sklearn", max_iter=20000, tol=1e-6)
    for k, cost in enumerate(COSTS):
        ours_obj = svm_objective(x, targets, cost, ours[k], our_bias[k], rows)
        ref_obj = svm_objective(x, targets, cost, ref[k], ref_bias[k], rows)
        assert np.all(ours_obj <= ref_obj * (1 + 1e-4)), (cost, ours_obj, ref_obj)
        # Held-out rows do not count: a problem trained on all rows has another minimum.
        assert not np.allclose(ours_obj, svm_objective(x, targets, cost, ours[k], our_bias[k]))


def test_tf_and_sklearn_solvers_rank_the_test_set_alike():
    features, labels = voc_like(240, 200, 3, seed=1, signal=0.1)
    x, test_x = normalize_features(features[:120]), normalize_features(features[120:])
    ours, our_bias = fit_svm_path(x, svm_targets(labels[:120]), COSTS, solver="tf")
    ref, ref_bias = fit_svm_path(x, svm_targets(labels[:120]), COSTS, solver="sklearn", max_iter=20000, tol=1e-6)
    for k in range(len(COSTS)):
        for c in range(3):
            ap = voc_ap(labels[120:, c], decision_values(test_x, ours[k, :, c], our_bias[k, c]))
            ap_ref = voc_ap(labels[120:, c], decision_values(test_x, ref[k, :, c], ref_bias[k, c]))
            assert 0.2 < ap < 1.0 and abs(ap - ap_ref) < 0.003


def test_evaluate_layer_cross_validates_as_cross_val_score_and_tests_the_best_cost():
    features, labels = voc_like(240, 120, 3, seed=2)
    costs = (1.0, 0.01, 10.0)
    result = evaluate_layer(features[:120], labels[:120], features[120:], labels[120:], costs=costs,
                            solver="sklearn")
    x, targets = normalize_features(features[:120]), svm_targets(labels[:120])
    for c in range(3):
        for k, cost in enumerate(costs):
            svm = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, tol=1e-4, max_iter=2000, random_state=0)
            expected = cross_val_score(svm, x, targets[:, c], cv=3, scoring="average_precision").mean()
            assert result["cv_ap"][c][k] == pytest.approx(100 * expected, abs=1e-9)
        best = int(np.argmax(result["cv_ap"][c]))
        assert result["best_cost"][c] == costs[best]
        svm = LinearSVC(C=costs[best], class_weight={1: 2, -1: 1}, tol=1e-4, max_iter=2000, random_state=0)
        scores = svm.fit(x, targets[:, c]).decision_function(normalize_features(features[120:]))
        assert result["AP"][c] == pytest.approx(100 * voc_ap(labels[120:, c], scores))
    assert sorted(result) == ["AP", "AP_11point", "AP_sklearn", "best_cost", "cv_ap"]


def test_evaluate_layer_with_the_tf_solver_agrees_with_sklearn_and_breaks_ties_for_the_first_cost():
    features, labels = voc_like(200, 150, 2, seed=3, signal=0.3)
    # Class 1 is perfectly separable along one feature: every cost cross-validates at 100.
    features[:, 0] += 50.0 * (labels[:, 1] == 1)
    costs = (1.0, 0.1, 10.0)
    ours = evaluate_layer(features[:100], labels[:100], features[100:], labels[100:], costs=costs)
    ref = evaluate_layer(features[:100], labels[:100], features[100:], labels[100:], costs=costs, solver="sklearn")
    np.testing.assert_allclose(ours["cv_ap"], ref["cv_ap"], atol=0.3)
    assert ours["cv_ap"][1] == [100.0] * 3 and ours["best_cost"][1] == 1.0
    for metric in ("AP", "AP_sklearn", "AP_11point"):
        np.testing.assert_allclose(ours[metric], ref[metric], atol=0.3)


def test_a_class_without_test_positives_has_no_ap_and_bad_arguments_are_named():
    features, labels = voc_like(60, 40, 2, seed=4)
    test_labels = labels[30:].copy()
    test_labels[:, 1] = np.where(test_labels[:, 1] == 1, -1, test_labels[:, 1])
    result = evaluate_layer(features[:30], labels[:30], features[30:], test_labels, costs=(1.0,))
    assert result["AP"][1] is None and result["AP_11point"][1] is None
    with pytest.raises(ValueError, match="unknown SVM solver"):
        fit_svm_path(features, svm_targets(labels), (1.0,), solver="liblinear")
    with pytest.raises(ValueError, match="N examples x Q problems"):
        fit_svm_path(features, svm_targets(labels)[:10], (1.0,))


def test_fewer_images_than_the_preconditioners_rank_still_reach_liblinears_objective():
    # 12 images and 3 folds: K has rank <= 12 < the 16 eigenpairs, and each fold holds rows out (cost 0).
    features, labels = voc_like(12, 40, 2, seed=3, signal=1.0)
    x, targets = normalize_features(features), svm_targets(labels)
    rows = np.ones_like(targets, bool)
    rows[:4, 0] = False  # held out of the first class's fit
    weights, biases = fit_svm_path(x, targets, COSTS, rows, solver="tf")
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(biases))
    for k, cost in enumerate(COSTS):
        for q in range(targets.shape[1]):
            kept = rows[:, q]
            svm = LinearSVC(C=cost, class_weight={1: 2.0, -1: 1.0}, intercept_scaling=1.0, tol=1e-8,
                            max_iter=100000).fit(x[kept], targets[kept, q])
            ours = svm_objective(x[kept], targets[kept, q:q + 1], cost, weights[k, :, q:q + 1], biases[k, q:q + 1])
            theirs = svm_objective(x[kept], targets[kept, q:q + 1], cost, svm.coef_.T, svm.intercept_)
            assert ours[0] <= theirs[0] * (1 + 1e-4) + 1e-9


def test_the_preconditioner_of_a_spectrum_without_rest_skips_held_out_rows():
    # K's whole spectrum among the top eigenpairs leaves rest 0; a held-out row (cost 0) must not divide 0 by 0.
    import tensorflow as tf
    from spot_tf.transfer import linear_svm
    x = normalize_features(voc_like(6, 8, 1, seed=1)[0])
    gram = tf.constant(x @ x.T + 1.0, tf.float64)
    values, vectors, _ = linear_svm._top_eigenpairs(gram, 16)
    active = np.ones((6, 1), bool)
    active[0] = False
    inverse_costs = np.where(active, 0.5, 0.0)
    rhs = np.where(active, 1.0, 0.0)
    solution = linear_svm._conjugate_gradients(tf.cast(gram, tf.float32), (values, vectors, 0.0), active,
                                               inverse_costs, rhs, 1e-6, 50)
    expected = np.zeros(6)
    expected[1:] = np.linalg.solve(gram.numpy()[1:, 1:] + 0.5 * np.eye(5), np.ones(5))
    np.testing.assert_allclose(solution[:, 0], expected, rtol=1e-3, atol=1e-4)
