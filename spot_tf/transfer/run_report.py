"""A run's report: for each conv layer, the trained network against the random baseline, for the
linear probes and for k-NN, and the difference (model_dir/report.md and report.png).

The paper's table always carries the random row: a gain over it is what the pre-training bought.
"""
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spot_tf.models import CONV_LAYERS
from spot_tf.safe_write import replacing, write_text
from spot_tf.transfer.report import read_results

# (trained results folder, random results folder) of each evaluation, under model_dir.
EVALUATIONS = {"linear": ("linear_eval", "linear_eval_random"), "k-NN": ("knn_eval", "knn_eval_random")}
# Jenni & Favaro (CVPR 2018), ImageNet, linear probes in Zhang et al.'s split-brain protocol.
PAPER = {"trained": (19.5, 33.3, 37.9, 38.9, 34.9), "random": (11.6, 17.1, 16.9, 16.3, 14.1)}


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


def plot_report(pairs, path):
    """Grouped bars of top-1 per layer: trained and random, one panel per evaluation."""
    fig = Figure(figsize=(5.5 * len(pairs), 3.5))
    FigureCanvasAgg(fig)
    x = np.arange(len(CONV_LAYERS))
    for index, (name, (trained, random)) in enumerate(pairs.items()):
        ax = fig.add_subplot(1, len(pairs), index + 1)
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
    """Writes model_dir/report.md and report.png from the evaluations that have a random baseline.

    Returns their paths, or None when no evaluation has both results.
    """
    pairs, paper_protocol = collect(model_dir)
    if not pairs:
        return None
    paths = {"report.md": os.path.join(model_dir, "report.md"), "report.png": os.path.join(model_dir, "report.png")}
    write_text(paths["report.md"], report_markdown(pairs, paper_protocol))
    plot_report(pairs, paths["report.png"])
    return paths
