"""Writes PASCAL VOC 2007 classification results: results.json and results.md.

A result is `{"mAP": %, "AP": {class: % or null}, "mAP_11point": %, "AP_11point": {...}, ...}`: "mAP"
and "AP" by the protocol's own metric (named under "evaluated", "metric"), then every other metric
under its own suffix. A class without a positive in the test split has AP null and is left out of
every mean (listed under "evaluated", "classes_without_positive"). voc07_finetune's results.json is
one result; voc07_svm's maps each conv layer to one (with the SVMs' chosen costs).
"""
import os

from spot_tf.safe_write import write_json, write_text
from spot_tf.transfer.report import EVALUATED, read_results, refuse_conflict
from spot_tf.transfer.voc_metrics import mean_ap, per_class_ap

# What the results name each metric by.
METRIC_NAMES = {"sklearn": "sklearn average_precision_score, ties broken pessimistically (Krähenbühl et al.)",
                "vocap": "area under the monotone precision-recall curve (VOCap, VOC2010+ devkit; Goyal et al.)",
                "11point": "11-point interpolated AP (the official VOC2007 devkit)"}


def _percent(aps):
    return [None if ap is None else 100.0 * float(ap) for ap in aps]


def ap_result(aps_by_metric, classes, metric):
    """One result from {metric: [class APs in % or None]}; `metric` is the protocol's own."""
    result = {}
    for name in [metric] + [m for m in METRIC_NAMES if m != metric and m in aps_by_metric]:
        aps = aps_by_metric[name]
        suffix = "" if name == metric else f"_{name}"
        result[f"mAP{suffix}"] = mean_ap(aps)[0]
        result[f"AP{suffix}"] = dict(zip(classes, aps))
    return result


def score_result(labels, scores, classes, metric):
    """The result of [N, C] test labels (1 / 0 / -1) and scores under every metric."""
    return ap_result({name: _percent(per_class_ap(labels, scores, name)) for name in METRIC_NAMES}, classes, metric)


def without_positive(result):
    """The classes whose AP is null (no scoreable positive in the test split)."""
    return [name for name, ap in result["AP"].items() if ap is None]


def evaluated_entry(evaluated, metric, result=None):
    """`evaluated` with the metric named and (given the `result`) the classes left out of the means listed."""
    entry = {**evaluated, "metric": metric, "metric_name": METRIC_NAMES[metric]}
    return entry if result is None else {**entry, "classes_without_positive": without_positive(result)}


def _mean_text(value):
    return "n/a" if value is None else f"{value:.2f}"


def results_markdown(results, title, layered):
    """A markdown table: per class AP (%) and mAP, one column per layer (`layered`) or one column."""
    columns = dict(results) if layered else {"AP (%)": results}
    first = next(iter(columns.values()))
    lines = [f"# {title}", "", "| class | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in first["AP"]:
        lines.append(f"| {name} | " + " | ".join(_mean_text(c["AP"][name]) for c in columns.values()) + " |")
    for key in [key for key in first if key.startswith("mAP")]:
        lines.append(f"| **{key}** | " + " | ".join(_mean_text(c[key]) for c in columns.values()) + " |")
    return "\n".join(lines) + "\n"


def results_text(results, layered):
    """One line per layer (or one line), for the console."""
    rows = results.items() if layered else [("VOC07", results)]
    return "\n".join(f"{name}: " + ", ".join(f"{key} {_mean_text(value)}" for key, value in row.items()
                                            if key.startswith("mAP")) for name, row in rows)


def write_results_files(results, out_dir, markdown, evaluated):
    """Writes out_dir/results.json (`results` and "evaluated") and results.md (`markdown`, then what was
    evaluated), each atomically; returns their paths. Raises ResultsConflictError, writing nothing, over
    the results of another evaluation."""
    refuse_conflict(out_dir, evaluated)
    paths = {name: os.path.join(out_dir, name) for name in ("results.json", "results.md")}
    write_text(paths["results.md"], markdown + "\n" +
               "\n".join(f"- {key}: {value}" for key, value in evaluated.items()) + "\n")
    # Last: results.json is what says the evaluation is complete.
    write_json(paths["results.json"], {**results, EVALUATED: evaluated})
    return paths


def write_voc_results(results, out_dir, title, evaluated, layered=False):
    """Writes out_dir/results.json (`results` and "evaluated") and results.md; returns their paths."""
    return write_results_files(results, out_dir, results_markdown(results, title, layered), evaluated)


def read_voc_results(path):
    """(results, evaluated) of a VOC results.json; ValueError naming `path` when it is not one."""
    return read_results(path, validate=None)
