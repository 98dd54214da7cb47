"""Writes PASCAL VOC segmentation results: results.json and results.md.

A result is `{"mIoU": %, "IoU": {class: % or null}, "pixel_accuracy": %}` (FCN's score.py, see
spot_tf.training.segmentation_metrics): a class absent from both the test truth and the predictions has
IoU null and is left out of the mean. results.json adds "evaluated" (source, test set, steps, whether
the protocol ran in full...).
"""
import math
import os

from spot_tf.training.segmentation_metrics import segmentation_scores
from spot_tf.training.voc_seg_protocol import PAPER_MIOU
from spot_tf.transfer.voc_report import read_voc_results, write_results_files


def segmentation_result(confusion, classes):
    """The result of a [classes, classes] pixel confusion matrix [truth, prediction], in %."""
    scores = segmentation_scores(confusion)
    return {"mIoU": 100.0 * scores["mIoU"],
            "IoU": {name: None if math.isnan(iou) else 100.0 * float(iou) for name, iou in zip(classes, scores["IoU"])},
            "pixel_accuracy": 100.0 * scores["pixel_accuracy"]}


def _value(value):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def results_markdown(results, title):
    """A markdown table: per class IoU (%), then mean IU and pixel accuracy."""
    lines = [f"# {title}", "", "| class | IoU (%) |", "|---|---:|"]
    lines += [f"| {name} | {_value(iou)} |" for name, iou in results["IoU"].items()]
    lines += [f"| **mean IU** | {_value(results['mIoU'])} |",
              f"| **pixel accuracy** | {_value(results['pixel_accuracy'])} |"]
    return "\n".join(lines) + "\n"


def results_text(results):
    """One line for the console."""
    return f"VOC segmentation: mean IU {_value(results['mIoU'])}, pixel accuracy {_value(results['pixel_accuracy'])}"


def write_segmentation_results(results, out_dir, title, evaluated):
    """Writes out_dir/results.json (`results` and "evaluated") and results.md; returns their paths."""
    return write_results_files(results, out_dir, results_markdown(results, title), evaluated)


# (trained, random) results folders of voc_seg, under model_dir.
FOLDERS = ("voc_seg", "voc_seg_random")


def collect_segmentation(model_dir):
    """(trained results, random results, trained's "evaluated") when voc_seg ran with its random baseline,
    else None."""
    paths = [os.path.join(model_dir, folder, "results.json") for folder in FOLDERS]
    if not all(os.path.exists(path) for path in paths):
        return None
    (trained, evaluated), (random, _) = (read_voc_results(path) for path in paths)
    return trained, random, evaluated


def segmentation_markdown(trained, random, evaluated):
    """The report's segmentation table: mean IU and pixel accuracy, trained, random and the difference;
    the paper's 38.1 / 19.8 beside them only when the protocol ran in full."""
    lines = ["", "## PASCAL VOC segmentation (FCN-32s)", "",
             "| | trained | random | difference |", "|---|---:|---:|---:|"]
    for key, name in (("mIoU", f"mean IU, {evaluated.get('test_set', '?')} (%)"), ("pixel_accuracy",
                                                                               "pixel accuracy (%)")):
        lines.append(f"| {name} | {trained[key]:.1f} | {random[key]:.1f} | {trained[key] - random[key]:+.1f} |")
    paper = PAPER_MIOU
    if evaluated.get("full_protocol") is True:
        lines.append(f"| paper (Jenni & Favaro 2018), mean IU | {paper['trained']} | {paper['random']} | "
                     f"{paper['trained'] - paper['random']:+.1f} |")
        lines += ["", "voc_seg ran the reference's protocol in full (VOC + SBD, seg11valid, 150,000 updates of 20 "
                  "images): the paper's row stands beside it."]
    else:
        lines += ["", f"The paper's segmentation column (mean IU {paper['trained']}; random {paper['random']}) comes "
                  "from the FCN protocol run in full (VOC2011 + SBD, 150,000 updates, tested on seg11valid); "
                  "voc_seg here did not (see voc_seg/results.json, \"evaluated\"), so it is not shown beside it."]
    return "\n".join(lines) + "\n"


def plot_segmentation(ax, trained, random):
    """Bars of mean IU and pixel accuracy, trained and random, on `ax`."""
    keys = (("mIoU", "mean IU"), ("pixel_accuracy", "pixel acc."))
    for offset, label, results in ((-0.2, "trained", trained), (0.2, "random", random)):
        bars = ax.bar([i + offset for i in range(len(keys))], [results[key] for key, _ in keys], 0.4, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(keys)), [name for _, name in keys])
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title("PASCAL VOC segmentation")
    ax.legend(loc="upper left")
