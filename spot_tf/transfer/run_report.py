"""A run's report: for each conv layer, the trained network against the random baseline, for the
linear probes and for k-NN, and the difference (model_dir/report.md and report.png), beside the
spot phase's learning curves (spot_tf.transfer.pretext_curves); and the PASCAL VOC 2007
classification mAP of both VOC protocols and the VOC segmentation mean IU where they ran, trained
against random.

The paper's table always carries the random row: a gain over it is what the pre-training bought. The
report opens with one sentence on whether the test set can tell the two apart at all: each
difference is set against two standard errors of a difference of two accuracies on the test set's
images (results.json, "evaluated": "test_images").
"""
import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spot_tf.models import CONV_LAYERS
from spot_tf.run.folder import logs_dir
from spot_tf.safe_write import replacing, write_text
from spot_tf.training.voc_protocols import PAPER_MAP
from spot_tf.transfer.pretext_curves import curves_markdown, plot_curves, read_curves
from spot_tf.transfer.report import read_results
from spot_tf.transfer.voc_report import read_voc_results
from spot_tf.transfer.voc_seg_report import collect_segmentation, plot_segmentation, segmentation_markdown

# (trained results folder, random results folder) of each evaluation, under model_dir.
EVALUATIONS = {"linear": ("linear_eval", "linear_eval_random"), "k-NN": ("knn_eval", "knn_eval_random")}
# Jenni & Favaro (CVPR 2018), ImageNet, linear probes in Zhang et al.'s split-brain protocol.
PAPER = {"trained": (19.5, 33.3, 37.9, 38.9, 34.9), "random": (11.6, 17.1, 16.9, 16.3, 14.1)}
# (trained, random) results folders of the VOC protocols: the fine-tuning's mAP, the SVMs' per layer.
VOC_EVALUATIONS = {"VOC07 fine-tuning": ("voc07_finetune", "voc07_finetune_random"),
                   "VOC07 SVM": ("voc07_svm", "voc07_svm_random")}


def _read(model_dir, folder):
    path = os.path.join(model_dir, folder, "results.json")
    return read_results(path) if os.path.exists(path) else (None, {})


def collect(model_dir):
    """({evaluation: (trained results, random results)} of the evaluations that have both,
    {evaluation: (trained "evaluated", random "evaluated")} of the same)."""
    pairs, evaluated = {}, {}
    for name, (trained, random) in EVALUATIONS.items():
        (trained_results, trained_evaluated), (random_results, random_evaluated) = (
            _read(model_dir, trained), _read(model_dir, random))
        if trained_results is not None and random_results is not None:
            pairs[name] = (trained_results, random_results)
            evaluated[name] = (trained_evaluated, random_evaluated)
    return pairs, evaluated


def collect_voc(model_dir):
    """{evaluation: [(row, trained mAP, random mAP)]} of the VOC protocols that ran with their random
    baseline, and whether the fine-tuning ran the paper's column in full (all layers trained)."""
    rows, paper = {}, False
    for name, (trained, random) in VOC_EVALUATIONS.items():
        paths = [os.path.join(model_dir, folder, "results.json") for folder in (trained, random)]
        if not all(os.path.exists(path) for path in paths):
            continue
        (trained_results, evaluated), (random_results, _) = (read_voc_results(path) for path in paths)
        if "mAP" in trained_results:
            rows[name] = [("all classes" if evaluated.get("train_from") is None else
                           f"from {evaluated['train_from']}", trained_results["mAP"], random_results["mAP"])]
            paper = evaluated.get("full_protocol") is True and evaluated.get("train_from") == "all"
        else:
            rows[name] = [(layer, trained_results[layer]["mAP"], random_results[layer]["mAP"])
                          for layer in CONV_LAYERS if layer in trained_results]
    return rows, paper


def voc_markdown(rows, paper_protocol=False):
    """The report's VOC table: mAP (%) trained, random and the difference, per protocol (and layer)."""
    def value(v):
        return "n/a" if v is None else f"{v:.1f}"

    lines = ["", "## PASCAL VOC 2007 classification (mAP, %)", "",
             "| evaluation | | trained | random | difference |", "|---|---|---:|---:|---:|"]
    for name, entries in rows.items():
        for row, trained, random in entries:
            difference = "n/a" if trained is None or random is None else f"{trained - random:+.1f}"
            lines.append(f"| {name} | {row} | {value(trained)} | {value(random)} | {difference} |")
    paper = PAPER_MAP
    if paper_protocol:
        lines.append(f"| paper (Jenni & Favaro 2018) | fine-tuned, all | {paper['trained']} | {paper['random']} | "
                     f"{paper['trained'] - paper['random']:+.1f} |")
        lines += ["", "The fine-tuning ran Krähenbühl et al.'s protocol in full with every layer trained: the "
                  "paper's row stands beside it."]
    else:
        lines += ["", f"The paper's VOC07 classification ({paper['trained']}; random {paper['random']}) comes from "
                  "Krähenbühl et al.'s fine-tuning of every layer, run in full; no fine-tuning here did (see "
                  "voc07_finetune/results.json, \"evaluated\"), so it is not shown beside these."]
    return "\n".join(lines) + "\n"


def matches_paper(evaluated):
    """Whether linear probes `evaluated` so ran the paper's protocol: split-brain, in full, 1,000 classes."""
    return (evaluated.get("protocol") == "splitbrain" and evaluated.get("full_protocol") is True
            and evaluated.get("num_classes") == 1000)


def difference_noise(pairs, evaluated):
    """[(evaluation, layer, difference, two standard errors, test images)] in points of top-1, for the
    evaluations whose trained and random results both record their test set's size.

    The standard error of a difference of two accuracies p1, p2 on n1, n2 test images is
    sqrt(p1 (1 - p1) / n1 + p2 (1 - p2) / n2), as if the two were independent: scored on the same
    images they are not, and it overstates the noise. It is the test set's noise only, not a seed's.
    """
    rows = []
    for name, (trained, random) in pairs.items():
        n1, n2 = (info.get("test_images") for info in evaluated.get(name, ({}, {})))
        if not n1 or not n2:
            continue
        for layer in CONV_LAYERS:
            p1, p2 = trained[layer]["top1"] / 100, random[layer]["top1"] / 100
            two_se = 200 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
            rows.append((name, layer, 100 * (p1 - p2), two_se, min(n1, n2)))
    return rows


def noise_sentence(rows):
    """One sentence on whether the test set tells trained and random apart (None without `rows`)."""
    if not rows:
        return None
    sizes = sorted({n for *_, n in rows})
    n = sizes[0]
    opening = (f"The test set has {n:,} images, so one image is {100 / n:.2g} points" if len(sizes) == 1 else
               f"The test sets have {' and '.join(f'{m:,}' for m in sizes)} images, so one image is up to "
               f"{100 / n:.2g} points")
    beyond = [row for row in rows if abs(row[2]) > row[3]]
    if not beyond:
        largest = max(abs(d) for _, _, d, _, _ in rows)
        low, high = min(r[3] for r in rows), max(r[3] for r in rows)
        return (f"{opening}; trained and random differ by at most {largest:.1f} points "
                f"({round(largest * n / 100)} images), within two standard errors of each difference "
                f"({low:.1f}-{high:.1f} points): this data cannot tell them apart.")
    named = "; ".join(f"{name} {layer}: {'trained' if d > 0 else 'random'} ahead by {abs(d):.1f} points "
                      f"({round(abs(d) * m / 100)} images; two standard errors {two_se:.1f})"
                      for name, layer, d, two_se, m in beyond)
    return (f"{opening}; {len(beyond)} of {len(rows)} differences between trained and random exceed two "
            f"standard errors ({named}); the others are within them.")


def report_markdown(pairs, paper_protocol=False, sentence=None, curves=None):
    """The report: the test-noise `sentence` first, the table of top-1 (%) per layer (trained, random and
    the difference, per evaluation), then the spot phase's `curves` (pretext_curves.read_curves)."""
    lines = ["# Trained against random initialisation", ""]
    if sentence:
        lines += [sentence, ""]
    lines += ["| evaluation | | " + " | ".join(CONV_LAYERS) + " |", "|---|---|" + "---:|" * len(CONV_LAYERS)]
    for name, (trained, random) in pairs.items():
        top1 = {row: [results[layer]["top1"] for layer in CONV_LAYERS] for row, results in
                (("trained", trained), ("random", random))}
        lines.append(f"| {name} | trained | " + " | ".join(f"{v:.1f}" for v in top1["trained"]) + " |")
        lines.append("| | random | " + " | ".join(f"{v:.1f}" for v in top1["random"]) + " |")
        lines.append("| | difference | " + " | ".join(f"{a - b:+.1f}" for a, b in zip(*top1.values())) + " |")
    if paper_protocol and "linear" in pairs:
        for row, values in PAPER.items():
            lines.append(f"| paper (Jenni & Favaro 2018) | {row} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
        lines += ["", "The linear probes ran the paper's protocol (Zhang et al.'s split-brain test, in full, "
                  "1,000 classes): the paper's rows stand beside them."]
    else:
        paper = " / ".join(f"{v}" for v in PAPER["trained"])
        random = " / ".join(f"{v}" for v in PAPER["random"])
        lines += ["", f"The paper's ImageNet linear probes (conv_1..conv_5: {paper}; random {random}) come from "
                  "Zhang et al.'s split-brain protocol run in full on ImageNet; these linear probes did not run "
                  "it (see linear_eval/results.json, \"evaluated\"), so they are not shown beside them."]
    if sentence:
        lines += ["", "Two standard errors of a difference of two top-1 accuracies p1, p2 on n test images: "
                  "2 sqrt((p1 (1 - p1) + p2 (1 - p2)) / n), as if independent (on the same images the noise is "
                  "smaller). It is the test set's noise only: another seed or training length moves the results "
                  "too."]
    if curves:
        lines += ["", "## The pretext task (spot phase)", "", curves_markdown(curves).rstrip("\n"), "",
                  "Means over each summary window of the spot phase (spot/logs). A discriminator that learnt "
                  "nothing scores 50% on real and repaired images together; calling every feature entry dropped "
                  "scores 1 - keep_prob on the mask."]
    return "\n".join(lines) + "\n"


def _plot_voc(ax, voc_rows):
    labels = [f"{name.split()[-1]} {row}" for name, entries in voc_rows.items() for row, _, _ in entries]
    x = np.arange(len(labels))
    values = [entry for entries in voc_rows.values() for entry in entries]
    for offset, column, label in ((-0.2, 1, "trained"), (0.2, 2, "random")):
        bars = ax.bar(x + offset, [v[column] or 0.0 for v in values], 0.4, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(x, labels, rotation=30, fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_ylabel("mAP (%)")
    ax.set_title("PASCAL VOC 2007")
    ax.legend(loc="lower right")


def plot_report(pairs, path, curves=None, voc_rows=None, segmentation=None):
    """Grouped bars of top-1 per layer: trained and random, one panel per evaluation; the spot phase's
    `curves` in a panel before them; after them one of the VOC mAPs, when `voc_rows` has any, and one of
    VOC segmentation, given its (trained, random) results."""
    panels = len(pairs) + bool(curves) + bool(voc_rows) + bool(segmentation)
    fig = Figure(figsize=(5.5 * panels, 3.5))
    FigureCanvasAgg(fig)
    x = np.arange(len(CONV_LAYERS))
    if curves:
        plot_curves(fig.add_subplot(1, panels, 1), curves)
    if voc_rows:
        _plot_voc(fig.add_subplot(1, panels, len(pairs) + bool(curves) + 1), voc_rows)
    if segmentation:
        plot_segmentation(fig.add_subplot(1, panels, panels), *segmentation)
    for index, (name, (trained, random)) in enumerate(pairs.items()):
        ax = fig.add_subplot(1, panels, index + 1 + bool(curves))
        for offset, (label, results) in zip((-0.2, 0.2), (("trained", trained), ("random", random))):
            bars = ax.bar(x + offset, [results[layer]["top1"] for layer in CONV_LAYERS], 0.4, label=label)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(x, CONV_LAYERS)
        ax.set_ylim(0, 105)
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(name)
        ax.legend(loc="lower right")
    fig.tight_layout()
    with replacing(path) as staging:
        fig.savefig(staging, dpi=100)


def write_run_report(model_dir):
    """Writes model_dir/report.md and report.png from the evaluations that have a random baseline, and
    the learning curves in model_dir/spot/logs.

    Returns their paths, or None when no evaluation has both results.
    """
    pairs, evaluated = collect(model_dir)
    voc_rows, voc_paper = collect_voc(model_dir)
    segmentation = collect_segmentation(model_dir)
    if not pairs and not voc_rows and not segmentation:
        return None
    paper_protocol = matches_paper(evaluated.get("linear", ({}, {}))[0])
    curves = read_curves(logs_dir(model_dir, "spot"))
    paths = {"report.md": os.path.join(model_dir, "report.md"), "report.png": os.path.join(model_dir, "report.png")}
    text = (report_markdown(pairs, paper_protocol, noise_sentence(difference_noise(pairs, evaluated)), curves)
            if pairs else "")
    text += voc_markdown(voc_rows, voc_paper) if voc_rows else ""
    text += segmentation_markdown(*segmentation) if segmentation else ""
    write_text(paths["report.md"], text)
    plot_report(pairs, paths["report.png"], curves, voc_rows, segmentation and segmentation[:2])
    return paths
