"""A run's report: for each conv layer, the trained network against the random baseline, for the
linear probes and for k-NN, and the difference (model_dir/report.md and report.png); and the PASCAL
VOC 2007 classification mAP of both VOC protocols and the VOC segmentation mean IU where they ran,
trained against random.

The paper's table always carries the random row: a gain over it is what the pre-training bought.
"""
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spot_tf.models import CONV_LAYERS
from spot_tf.training.voc_protocols import PAPER_MAP
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
    whether the linear probes ran the paper's protocol in full on an ImageNet-size label set)."""
    pairs, evaluated = {}, {}
    for name, (trained, random) in EVALUATIONS.items():
        (trained_results, evaluated[name]), (random_results, _) = _read(model_dir, trained), _read(model_dir, random)
        if trained_results is not None and random_results is not None:
            pairs[name] = (trained_results, random_results)
    return pairs, matches_paper(evaluated.get("linear", {}))


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


def report_markdown(pairs, paper_protocol=False):
    """The report's table: top-1 (%) per layer, trained, random and the difference, per evaluation."""
    lines = ["# Trained against random initialisation", "",
             "| evaluation | | " + " | ".join(CONV_LAYERS) + " |", "|---|---|" + "---:|" * len(CONV_LAYERS)]
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


def plot_report(pairs, path, voc_rows=None, segmentation=None):
    """Grouped bars of top-1 per layer: trained and random, one panel per evaluation (and one of the VOC
    mAPs, when `voc_rows` has any, and one of VOC segmentation, given its (trained, random) results)."""
    panels = len(pairs) + (1 if voc_rows else 0) + (1 if segmentation else 0)
    fig = Figure(figsize=(5.5 * panels, 3.5))
    FigureCanvasAgg(fig)
    x = np.arange(len(CONV_LAYERS))
    if voc_rows:
        _plot_voc(fig.add_subplot(1, panels, len(pairs) + 1), voc_rows)
    if segmentation:
        plot_segmentation(fig.add_subplot(1, panels, panels), *segmentation)
    for index, (name, (trained, random)) in enumerate(pairs.items()):
        ax = fig.add_subplot(1, panels, index + 1)
        for offset, (label, results) in zip((-0.2, 0.2), (("trained", trained), ("random", random))):
            bars = ax.bar(x + offset, [results[layer]["top1"] for layer in CONV_LAYERS], 0.4, label=label)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(x, CONV_LAYERS)
        ax.set_ylim(0, 105)
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(name)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_run_report(model_dir):
    """Writes model_dir/report.md and report.png from the evaluations that have a random baseline.

    Returns their paths, or None when no evaluation has both results.
    """
    pairs, paper_protocol = collect(model_dir)
    voc_rows, voc_paper = collect_voc(model_dir)
    segmentation = collect_segmentation(model_dir)
    if not pairs and not voc_rows and not segmentation:
        return None
    paths = {"report.md": os.path.join(model_dir, "report.md"), "report.png": os.path.join(model_dir, "report.png")}
    with open(paths["report.md"], "w", encoding="utf-8") as f:
        if pairs:
            f.write(report_markdown(pairs, paper_protocol))
        if voc_rows:
            f.write(voc_markdown(voc_rows, voc_paper))
        if segmentation:
            f.write(segmentation_markdown(*segmentation))
    plot_report(pairs, paths["report.png"], voc_rows, segmentation and segmentation[:2])
    return paths
