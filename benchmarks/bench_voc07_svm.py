"""One layer's VOC07 linear-SVM sweep: the batched TensorFlow solver against sklearn's LinearSVC.

    python benchmarks/bench_voc07_svm.py                      # VOC07 size: 5,011 / 4,952 x 9,600, 20 classes
    python benchmarks/bench_voc07_svm.py --sklearn_classes=2  # more sklearn fits per cost

Synthetic VOC-like features: non-negative (ReLU of a random mixing of a latent code plus noise),
the latent code summing class directions over each image's labels (about 1.5 labels per image,
one class as frequent as VOC's person, about a tenth of the positives difficult-only), so that the
APs are neither near 0 nor near 100. The sweep is evaluate_layer with the tf solver: 3-fold
cross-validation and the all-trainval fit of every class at every cost (VISSL's 11 costs), the
best cost per class tested. sklearn (the reference's LinearSVC, one fit at a time) would take
hours for all (class, cost, fold) fits, so it fits `sklearn_classes` classes' all-trainval
problems at every cost; its sweep time is scaled from those (a cross-validation fit trains on
(folds - 1) / folds of the rows and is counted as that fraction of a full fit, liblinear's epochs
costing in proportion to the rows). On those fits both solvers' objectives and test APs (VOCap, in
points) are compared. Prints a table, then `sweep_s=S sklearn_ratio=R ap_max_diff=D`.
"""
import time
import warnings

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("train_size", 5011, "Training (trainval) images.")
flags.DEFINE_integer("test_size", 4952, "Test images.")
flags.DEFINE_integer("dim", 9600, "Feature dimensions (VOC07 probes: about 9k per layer).")
flags.DEFINE_integer("classes", 20, "Classes.")
flags.DEFINE_integer("latent", 256, "Dimensions of the latent code the features mix.")
flags.DEFINE_float("signal", 1.5, "Length of the class directions in the latent code (unit noise).")
flags.DEFINE_integer("folds", 3, "Cross-validation folds.")
flags.DEFINE_integer("sklearn_classes", 1, "Classes whose all-trainval fits sklearn runs at every cost.")
flags.DEFINE_integer("seed", 0, "Seed of the synthetic data.")
flags.DEFINE_float("tolerance", 1e-5, "The tf solver's gradient-norm tolerance (solve_gram_path).")


def synthetic_voc(images, dim, classes, latent, signal, seed):
    """([images, dim] float32 features, [images, classes] labels in {1, 0, -1})."""
    rng = np.random.default_rng(seed)
    frequency = rng.uniform(0.03, 0.1, classes)
    frequency[classes // 2] = 0.4
    labels = (rng.random((images, classes)) < frequency).astype(np.int64)
    unlabelled = np.flatnonzero(labels.sum(axis=1) == 0)
    labels[unlabelled, rng.choice(classes, unlabelled.size, p=frequency / frequency.sum())] = 1
    directions = rng.normal(size=(classes, latent))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    code = signal * labels @ directions + rng.normal(size=(images, latent))
    mixing = rng.normal(size=(latent, dim)) / np.sqrt(latent)
    features = np.maximum(0.0, code @ mixing + 0.5 * rng.normal(size=(images, dim)) + 0.3).astype(np.float32)
    labels[(labels == 1) & (rng.random(labels.shape) < 0.1)] = -1
    return features, labels


def main(argv):
    del argv
    from sklearn.exceptions import ConvergenceWarning
    from spot_tf.transfer import linear_svm
    from spot_tf.transfer.voc_metrics import voc_ap

    features, labels = synthetic_voc(FLAGS.train_size + FLAGS.test_size, FLAGS.dim, FLAGS.classes, FLAGS.latent,
                                     FLAGS.signal, FLAGS.seed)
    train_x, train_y = features[:FLAGS.train_size], labels[:FLAGS.train_size]
    test_x, test_y = features[FLAGS.train_size:], labels[FLAGS.train_size:]
    costs = linear_svm.VISSL_COSTS
    print(f"features: {FLAGS.train_size} train / {FLAGS.test_size} test x {FLAGS.dim}, {FLAGS.classes} classes, "
          f"{(train_y != 0).sum(axis=1).mean():.2f} labels per image, {(train_y == -1).mean() * 100:.1f}% "
          f"difficult-only entries; {len(costs)} costs, {FLAGS.folds} folds")

    fits = {}
    start = time.perf_counter()
    result = linear_svm.evaluate_layer(train_x, train_y, test_x, test_y, costs=costs, folds=FLAGS.folds, fits=fits,
                                       tolerance=FLAGS.tolerance)
    sweep_s = time.perf_counter() - start
    solve = dict(linear_svm.LAST_SOLVE)
    mean_ap = np.mean([ap for ap in result["AP"] if ap is not None])
    print(f"tf sweep: {sweep_s:.1f} s for {len(fits['problems']) * len(costs)} fits "
          f"({solve['newton_steps']} Newton steps, {solve['cg_steps']} CG steps); test mAP {mean_ap:.2f}, "
          f"per class {' '.join(f'{ap:.1f}' for ap in result['AP'])}")

    # sklearn on some classes' all-trainval problems, at every cost (after an untimed first fit).
    linear_svm.fit_svm_path(fits["train_x"][:20], np.r_[np.ones(10), -np.ones(10)][:, None], (1.0,), solver="sklearn")
    chosen = [fits["problems"].index((c, FLAGS.folds)) for c in range(min(FLAGS.sklearn_classes, FLAGS.classes))]
    rows = "cost | sklearn s/fit | objective tf/sklearn - 1 | AP tf | AP sklearn | |diff| (points)"
    print(rows)
    print("-" * len(rows))
    per_fit = []
    diffs = []
    for k, cost in enumerate(costs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            weights, biases = linear_svm.fit_svm_path(fits["train_x"], fits["targets"][:, chosen], (cost,),
                                                      fits["rows"][:, chosen], solver="sklearn")
            per_fit.append((time.perf_counter() - start) / len(chosen))
        ours = linear_svm.svm_objective(fits["train_x"], fits["targets"][:, chosen], cost,
                                        fits["weights"][k][:, chosen], fits["biases"][k][chosen], fits["rows"][:, chosen])
        theirs = linear_svm.svm_objective(fits["train_x"], fits["targets"][:, chosen], cost, weights[0], biases[0],
                                          fits["rows"][:, chosen])
        for i, q in enumerate(chosen):
            c = fits["problems"][q][0]
            ap = 100 * voc_ap(test_y[:, c], linear_svm.decision_values(fits["test_x"], fits["weights"][k][:, q],
                                                                      fits["biases"][k][q]))
            ap_ref = 100 * voc_ap(test_y[:, c], linear_svm.decision_values(fits["test_x"], weights[0][:, i], biases[0][i]))
            diffs.append(abs(ap - ap_ref))
            print(f"{cost:g} (class {c}) | {per_fit[-1]:.2f} | {ours[i] / theirs[i] - 1:+.2e} | {ap:.2f} | "
                  f"{ap_ref:.2f} | {diffs[-1]:.3f}")
    # Per class: one all-trainval fit, and `folds` fits on (folds - 1) / folds of the rows.
    full_fits = FLAGS.classes * (1 + (FLAGS.folds - 1))
    sklearn_sweep_s = sum(per_fit) * full_fits
    ratio = sklearn_sweep_s / sweep_s
    print(f"sklearn sweep (scaled from {len(chosen) * len(costs)} fits): {sklearn_sweep_s:.0f} s; "
          f"tf sweep {sweep_s:.1f} s; ratio {ratio:.1f}")
    print(f"sweep_s={sweep_s:.1f} sklearn_ratio={ratio:.1f} ap_max_diff={max(diffs):.3f}")


if __name__ == "__main__":
    app.run(main)
