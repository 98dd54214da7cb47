"""Per-class linear SVMs on frozen features: the VOC07 linear-SVM benchmark (Goyal et al. 2019).

The protocol of fair_self_supervision_benchmark tools/svm (and VISSL's svm_trainer), per class:
features L2-normalised x / (||x|| + 1e-5); for each cost, sklearn's LinearSVC (squared hinge, L2,
class_weight {positive: 2, negative: 1}, intercept_scaling 1) scored by 3-fold cross-validation on
trainval (StratifiedKFold without shuffling, sklearn's average_precision of the decision values);
the cost with the best mean cross-validation AP (the first one in the list on ties, np.argmax) is
fitted on all of trainval and its test decision values are scored (VOCap, difficult-only images
removed). Training and cross-validation count difficult-only images as negatives, as the reference.

Every fit minimises LinearSVC's primal (liblinear's L2-regularised L2-loss SVC, the bias being a
constant feature of value 1 whose weight is regularised too):

    0.5 ||w||^2 + 0.5 b^2 + sum_i C c_i max(0, 1 - y_i (w.x_i + b))^2,  c_i = 2 if y_i = +1 else 1.

Two solvers give the same minimiser: "sklearn" (LinearSVC itself, one fit at a time: the
reference) and "tf" (every class x cost x fold problem at once, batched in TensorFlow; see
solve_gram_path).
"""
import numpy as np
import tensorflow as tf

from spot_tf.transfer.voc_metrics import average_precision, stepwise_ap

# VISSL's AlexNet VOC07 configuration.
VISSL_COSTS = (0.01, 0.1, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 50.0, 100.0, 1000.0)
# fair_self_supervision_benchmark: its command line's 1e-7 ... 100, then 0.5^k for k = 4..19.
FAIR_COSTS = tuple([10.0 ** k for k in range(-7, 3)] + [0.5 ** k for k in range(4, 20)])
POSITIVE_WEIGHT = 2.0
SOLVERS = ("tf", "sklearn")
# Iterations of the last solve_gram_path call (for benchmarks).
LAST_SOLVE = {}


def normalize_features(features):
    """Each row x / (||x|| + 1e-5), in float64 as the reference (then cast by the solver)."""
    features = np.asarray(features, np.float64)
    return features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-5)


def svm_targets(labels):
    """{1, 0, -1} labels -> SVM targets: +1 where present, -1 where absent or difficult-only."""
    return np.where(np.asarray(labels) == 1, 1.0, -1.0)


def stratified_folds(targets, folds=3):
    """Each example's test fold, as sklearn's StratifiedKFold(folds, shuffle=False) assigns them.

    Classes are numbered by first appearance; the sorted class sequence is dealt round-robin to the
    folds to fix how many examples of each class each fold gets, and each class's examples are then
    given to fold 0, 1, ... in blocks, in data order.
    """
    targets = np.asarray(targets).reshape(-1)
    _, first, inverse = np.unique(targets, return_index=True, return_inverse=True)
    encoded = np.argsort(np.argsort(first))[inverse]
    ordered = np.sort(encoded)
    allocation = np.array([np.bincount(ordered[f::folds], minlength=first.size) for f in range(folds)])
    test_fold = np.empty(targets.size, np.int64)
    for k in range(first.size):
        test_fold[encoded == k] = np.repeat(np.arange(folds), allocation[:, k])
    return test_fold


def svm_objective(features, targets, cost, weights, biases, rows=None):
    """LinearSVC's primal objective of each of Q problems at one cost, in float64.

    Args:
        features: [N, D]; targets: [N, Q] +1 / -1; weights: [D, Q]; biases: [Q];
        rows: [N, Q] bools, the examples each problem trains on (None: all).
    """
    features, targets = np.asarray(features, np.float64), np.asarray(targets, np.float64)
    weights, biases = np.asarray(weights, np.float64), np.asarray(biases, np.float64)
    margins = targets * (features @ weights + biases)
    example_costs = cost * np.where(targets > 0, POSITIVE_WEIGHT, 1.0)
    if rows is not None:
        example_costs = example_costs * rows
    return (0.5 * np.sum(weights ** 2, axis=0) + 0.5 * biases ** 2
            + np.sum(example_costs * np.maximum(0.0, 1.0 - margins) ** 2, axis=0))


def fit_svm_path(features, targets, costs, rows=None, solver="tf", **solver_args):
    """Fits Q linear SVMs at each of K costs; returns ([K, D, Q] weights, [K, Q] biases), float64.

    Args:
        features: [N, D] features (normalise them first: normalize_features).
        targets: [N, Q] +1 / -1 targets, one column per problem.
        costs: The K costs C.
        rows: [N, Q] bools, which examples each problem trains on (None: all).
        solver: "tf" (batched, solve_gram_path) or "sklearn" (LinearSVC, the reference).
        **solver_args: Options of the solver (solve_gram_path's, or max_iter and tol of LinearSVC).
    """
    features = np.asarray(features)
    targets = np.asarray(targets, np.float64)
    costs = np.asarray(costs, np.float64).reshape(-1)
    rows = np.ones(targets.shape, bool) if rows is None else np.asarray(rows, bool)
    if targets.ndim != 2 or targets.shape != rows.shape or targets.shape[0] != features.shape[0]:
        raise ValueError(f"features {features.shape}, targets {targets.shape} and rows {rows.shape} do not "
                         "describe N examples x Q problems")
    if solver == "sklearn":
        return _fit_sklearn(features, targets, costs, rows, **solver_args)
    if solver == "tf":
        return _fit_tf(features, targets, costs, rows, **solver_args)
    raise ValueError(f"unknown SVM solver {solver!r}: expected one of {SOLVERS}")


def _fit_sklearn(features, targets, costs, rows, max_iter=2000, tol=1e-4):
    try:
        from sklearn.svm import LinearSVC
    except ImportError as error:
        raise ImportError("the 'sklearn' SVM solver needs scikit-learn (pip install scikit-learn)") from error
    features = np.asarray(features, np.float64)
    weights = np.zeros((costs.size, features.shape[1], targets.shape[1]))
    biases = np.zeros((costs.size, targets.shape[1]))
    for k, cost in enumerate(costs):
        for q in range(targets.shape[1]):
            svm = LinearSVC(C=float(cost), class_weight={1: POSITIVE_WEIGHT, -1: 1.0}, intercept_scaling=1.0,
                            penalty="l2", loss="squared_hinge", dual=True, tol=tol, max_iter=max_iter,
                            random_state=0)
            svm.fit(features[rows[:, q]], targets[rows[:, q], q].astype(np.int64))
            weights[k, :, q], biases[k, q] = svm.coef_[0], svm.intercept_[0]
    return weights, biases


def _fit_tf(features, targets, costs, rows, **solver_args):
    # The bias is a constant feature of value 1 (liblinear's, intercept_scaling 1).
    augmented = tf.concat([tf.constant(features, tf.float32), tf.ones((features.shape[0], 1))], axis=1)
    gram = tf.matmul(augmented, augmented, transpose_b=True)
    betas = solve_gram_path(gram, targets, rows, costs, **solver_args)
    # w = X~^T beta: the minimiser lies in the span of the training examples.
    weights = np.stack([tf.matmul(augmented, tf.constant(beta, tf.float32), transpose_a=True).numpy()
                        for beta in betas]).astype(np.float64)
    return weights[:, :-1], weights[:, -1]


def _column_dot(a, b):
    return np.einsum("nq,nq->q", a, b)


def solve_gram_path(gram, targets, rows, costs, tolerance=1e-5, forcing=1e-3, newton_steps=50, cg_steps=2000,
                    rank=16):
    """Minimises Q squared-hinge SVM objectives at each of K costs, in the span of the examples.

    With w = X^T beta the objective is 0.5 beta^T K beta + sum_i c_i max(0, 1 - y_i (K beta)_i)^2,
    K = X X^T: N x N rather than D-dimensional (N < D for VOC07's ~9k-dim features) and shared by
    every class, cost and fold (a fold is a column whose held-out rows have c_i = 0). Newton's
    method on it (Keerthi & DeCoste 2005; Chapelle 2007): with A the examples inside the margin,
    the Newton point is beta_A = (K_AA + diag(1 / (2 c_A)))^-1 y_A, 0 elsewhere. It is solved
    inexactly by preconditioned conjugate gradients with the problems as the columns of one
    matrix, so that each step is one [N, N] x [N, Q] float32 matmul (converged columns drop out);
    the right-hand side, the outputs K beta and the exact line search on the piecewise-quadratic
    objective are float64, so float32 rounding only slows the Newton steps down instead of
    stopping them short. The costs are solved in increasing order, each warm-started from the
    previous one's solution (a few Newton steps each). Large costs (1000) are ill-conditioned:
    the stopping rule is the gradient norm, not a step count, and liblinear at its 2,000
    iterations typically stops with a higher objective there.

    Args:
        gram: [N, N] float32 K = X X^T (the bias feature included).
        targets: [N, Q] +1 / -1.
        rows: [N, Q] bools, the examples each problem trains on.
        costs: The K costs.
        tolerance: A problem is solved once its gradient norm is below tolerance x its norm at w = 0.
        forcing: Each Newton system is solved until its preconditioned residual norm is this
            fraction of its first (1e-2 took three times the Newton steps on VOC-like features).
        rank: Top eigenpairs of K in the preconditioner.
        newton_steps, cg_steps: Caps per cost and per Newton system.

    Returns:
        [K, N, Q] float64 beta (w = X^T beta), in the order of `costs`.
    """
    gram32 = tf.convert_to_tensor(gram, tf.float32)
    gram64 = tf.cast(gram32, tf.float64)
    targets = np.asarray(targets, np.float64)
    class_weights = np.where(targets > 0, POSITIVE_WEIGHT, 1.0) * np.asarray(rows, bool)
    beta = np.zeros_like(targets)
    outputs = np.zeros_like(targets)
    betas = [None] * len(costs)
    LAST_SOLVE.update(newton_steps=0, cg_steps=0, cg_columns=0)
    top = _top_eigenpairs(gram64, rank)
    for k in np.argsort(costs, kind="stable"):
        example_costs = costs[k] * class_weights
        beta, outputs = _newton(gram32, gram64, top, targets, example_costs, beta, outputs, tolerance, forcing,
                                newton_steps, cg_steps)
        betas[k] = beta.copy()
    return np.stack(betas)


def _top_eigenpairs(gram64, rank, power_steps=4, seed=0):
    """(values [r], vectors [N, r], mean of the rest of the spectrum) of K, by subspace iteration."""
    n = int(gram64.shape[0])
    rank = min(rank, n)
    basis = np.random.default_rng(seed).normal(size=(n, rank + 8))
    for _ in range(power_steps):
        basis = tf.linalg.qr(_matmul(gram64, basis))[0]
    values, vectors = np.linalg.eigh(_matmul(tf.transpose(basis), _matmul(gram64, basis)))
    values, vectors = values[::-1][:rank], _matmul(basis, vectors[:, ::-1])[:, :rank]
    rest = max(float(np.trace(gram64.numpy())) - values.sum(), 0.0) / n
    # K of rank below r (fewer images than r, duplicates): its null directions would make the
    # preconditioner's r x r system singular.
    keep = values > 1e-6 * max(values[0], 1e-12)
    keep[0] = True
    return np.maximum(values[keep], 1e-12), vectors[:, keep], rest


def _matmul(a, b):
    # TensorFlow's thread pool for every product: numpy's BLAS threads would compete with it.
    return tf.matmul(a, tf.cast(b, a.dtype)).numpy()


def _gradient_norm(gram32, beta, outputs, targets, example_costs):
    # The w-space gradient is X^T r; its norm^2 is r^T K r.
    residual = beta - 2 * example_costs * np.maximum(0.0, 1 - targets * outputs) * targets
    return np.sqrt(np.maximum(0.0, _column_dot(residual, _matmul(gram32, residual))))


def _newton(gram32, gram64, top, targets, example_costs, beta, outputs, tolerance, forcing, newton_steps, cg_steps):
    beta, outputs = beta.copy(), outputs.copy()
    inverse_costs = np.where(example_costs > 0, 0.5 / np.where(example_costs > 0, example_costs, 1), 0.0)
    initial = _gradient_norm(gram32, np.zeros_like(beta), np.zeros_like(beta), targets, example_costs)
    live = np.arange(targets.shape[1])
    for _ in range(newton_steps):
        y, c, inv = targets[:, live], example_costs[:, live], inverse_costs[:, live]
        b, o = beta[:, live], outputs[:, live]
        unsolved = _gradient_norm(gram32, b, o, y, c) > tolerance * initial[live]
        live, y, c, inv, b, o = live[unsolved], y[:, unsolved], c[:, unsolved], inv[:, unsolved], b[:, unsolved], o[:, unsolved]
        if live.size == 0:
            break
        active = (c > 0) & (y * o < 1)
        # The Newton point's change: on A, (K_AA + D_A) delta_A = y_A - D_A b_A - (K b with b = 0 off A)_A.
        off = np.where(active, 0.0, b)
        inside_outputs = o - _matmul(gram64, off) if off.any() else o
        rhs = np.where(active, y - inv * b - inside_outputs, 0.0)
        delta = np.where(active, _conjugate_gradients(gram32, top, active, inv, rhs, forcing, cg_steps), -b)
        delta_outputs = _matmul(gram64, delta)
        t = _line_search(b, o, delta, delta_outputs, y, c)
        beta[:, live] = b + t * delta
        outputs[:, live] = o + t * delta_outputs
        LAST_SOLVE["newton_steps"] += 1
    return beta, outputs


def _conjugate_gradients(gram32, top, active, inverse_costs, rhs, forcing, max_steps):
    """Solves (K_AA + D_A) x = rhs per column (x = 0 off A) in float32; converged columns drop out.

    Preconditioned by V_A L V_A^T + D_A + m I_A (Woodbury: an r x r system per column), with
    V L V^T K's top eigenpairs and m the mean of the rest of its spectrum: K's few large
    eigenvalues (the mean feature and the bias) would otherwise dominate the residual.
    """
    values, vectors, rest = top
    mask = active.astype(np.float32)
    # 0 off A: a held-out row (cost 0) of a spectrum without rest (K of rank <= r) would divide 0 by 0.
    diagonal = np.divide(mask, inverse_costs + rest, out=np.zeros(mask.shape), where=active).astype(np.float32)
    vectors = vectors.astype(np.float32)
    small = _matmul(vectors.T[None] * diagonal.T[:, None, :], vectors) + np.diag(1.0 / values).astype(np.float32)
    small_inverse = tf.linalg.inv(tf.constant(small, tf.float64))
    vectors_t = tf.constant(vectors.T)
    vectors = tf.constant(vectors)

    def precondition(r, run):
        g = diagonal[:, run] * r
        coefficients = _matmul(tf.gather(small_inverse, run), _matmul(vectors_t, g).T[:, :, None])[:, :, 0]
        return g - diagonal[:, run] * _matmul(vectors, coefficients.T)

    inverse_costs = inverse_costs.astype(np.float32)
    solution = np.zeros(rhs.shape, np.float32)
    residual = rhs.astype(np.float32)
    run = np.arange(rhs.shape[1])
    z = precondition(residual, run)
    direction = z.copy()
    rz = _column_dot(residual, z)
    goal = forcing ** 2 * rz
    for _ in range(max_steps):
        keep = rz[run] > goal[run]
        if not keep.all():
            run = run[keep]
            if run.size == 0:
                break
        p = direction[:, run]
        product = mask[:, run] * _matmul(gram32, p) + inverse_costs[:, run] * p
        step = rz[run] / _column_dot(p, product)
        solution[:, run] += step * p
        residual[:, run] -= step * product
        z = precondition(residual[:, run], run)
        new_rz = _column_dot(residual[:, run], z)
        direction[:, run] = z + (new_rz / rz[run]) * p
        rz[run] = new_rz
        LAST_SOLVE["cg_steps"] += 1
        LAST_SOLVE["cg_columns"] += run.size
    return solution.astype(np.float64)


def _line_search(beta, outputs, step, step_outputs, targets, example_costs, iterations=20):
    """The step length minimising the objective along `step` (exactly, per column)."""
    # phi'(t) is piecewise linear and increasing: Newton's method on it from t = 1 ends in a few steps.
    a = _column_dot(beta, step_outputs)
    b = _column_dot(step, step_outputs)
    t = np.ones(beta.shape[1])
    for _ in range(iterations):
        slack = 1 - targets * (outputs + t * step_outputs)
        inside = example_costs * (slack > 0)
        slope = a + t * b - 2 * _column_dot(inside * slack * targets, step_outputs)
        curvature = b + 2 * _column_dot(inside, step_outputs ** 2)
        t = np.where(curvature > 0, t - slope / np.where(curvature > 0, curvature, 1.0), t)
    return t


def decision_values(features, weights, biases):
    """[N, Q] decision values of fitted SVMs ([D, Q] weights, [Q] biases; or [N] of one SVM), float64."""
    weights = np.asarray(weights, np.float64)
    scores = _matmul(tf.constant(features, tf.float64), weights.reshape(weights.shape[0], -1))
    return scores.reshape(scores.shape[:1] + weights.shape[1:]) + biases


def evaluate_layer(train_features, train_labels, test_features, test_labels, costs=VISSL_COSTS, folds=3,
                   solver="tf", fits=None, **solver_args):
    """The VOC07 linear-SVM benchmark of one layer's features.

    Args:
        train_features, test_features: [N, D] raw pooled features (normalised here).
        train_labels, test_labels: [N, C] ints, 1 present, 0 absent, -1 difficult-only.
        costs: The costs to choose from, per class, by cross-validation.
        folds: Cross-validation folds.
        solver: "tf" or "sklearn" (fit_svm_path).
        fits: A dict that receives the fitted problems, for benchmarks: "problems" ((class, fold)
            per column, fold == folds for all of trainval), "targets", "rows", "weights" [K, D, Q],
            "biases" [K, Q], and the normalised "train_x" and "test_x".
        **solver_args: Options of the solver.

    Returns:
        {"AP": [C] VOCap test APs in % (None for a class with no test positive), "AP_sklearn",
         "AP_11point": the same test scores under the other two metrics, "best_cost": [C] costs,
         "cv_ap": [C][len(costs)] mean cross-validation APs in % (sklearn's average_precision)}.
    """
    train_x = normalize_features(train_features)
    test_x = normalize_features(test_features)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    costs = tuple(float(c) for c in costs)
    num_classes = train_labels.shape[1]
    targets = svm_targets(train_labels)
    # One problem per (class, fold), fold == folds meaning all of trainval, each at every cost.
    problems = [(c, f) for c in range(num_classes) for f in range(folds + 1)]
    test_fold = np.stack([stratified_folds(targets[:, c], folds) for c in range(num_classes)], axis=1)
    problem_targets = targets[:, [c for c, _ in problems]]
    rows = np.stack([test_fold[:, c] != f for c, f in problems], axis=1)
    weights, biases = fit_svm_path(train_x, problem_targets, costs, rows, solver, **solver_args)
    if fits is not None:
        fits.update(problems=problems, targets=problem_targets, rows=rows, weights=weights, biases=biases,
                    train_x=train_x, test_x=test_x)
    cv_ap = np.zeros((num_classes, len(costs)))
    for k in range(len(costs)):
        scores = decision_values(train_x, weights[k], biases[k])
        for q, (c, f) in enumerate(problems):
            held_out = test_fold[:, c] == f
            positives = targets[held_out, c] > 0
            if f < folds and positives.any():
                # cross_val_score's average_precision: sklearn's AP of the decision values, no shift.
                cv_ap[c, k] += stepwise_ap(positives, scores[held_out, q]) / folds
    best = np.argmax(cv_ap, axis=1)
    chosen = [problems.index((c, folds)) for c in range(num_classes)]
    test_scores = np.stack([decision_values(test_x, weights[best[c], :, q], biases[best[c], q])
                            for c, q in enumerate(chosen)], axis=1)

    def percent(metric):
        aps = [average_precision(test_labels[:, c], test_scores[:, c], metric) for c in range(num_classes)]
        return [None if ap is None else 100.0 * ap for ap in aps]

    return {"AP": percent("vocap"), "AP_sklearn": percent("sklearn"), "AP_11point": percent("11point"),
            "best_cost": [costs[k] for k in best], "cv_ap": (100.0 * cv_ap).tolist()}
