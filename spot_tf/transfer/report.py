"""Writes transfer results: results.json, a markdown table and a bar plot of top-1 per layer.

Results are `{layer: {"top1": percent, "top5": percent}}`, accuracies in percent (0..100).
results.json holds them and, under "evaluated", what was evaluated (source, protocol, image size,
steps...), so that a number never travels without its protocol.
"""
import json
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RESULT_KEYS = ("top1", "top5")
# The key of results.json that says what was evaluated (not a layer).
EVALUATED = "evaluated"


def validate_results(results):
    """Raises ValueError unless `results` maps layer names to {"top1", "top5"} numbers."""
    if not results:
        raise ValueError("results are empty: there must be at least one layer")
    for layer, scores in results.items():
        if set(scores) != set(RESULT_KEYS):
            raise ValueError(f"results[{layer!r}] must have exactly the keys {RESULT_KEYS}, got {sorted(scores)}")


def results_markdown(results, title):
    """A markdown table of top-1 / top-5 (%) per layer, in the order of `results`."""
    lines = [f"# {title}", "", "| layer | top-1 (%) | top-5 (%) |", "|---|---:|---:|"]
    lines += [f"| {layer} | {s['top1']:.2f} | {s['top5']:.2f} |" for layer, s in results.items()]
    return "\n".join(lines) + "\n"


def results_text(results):
    """One line per layer, for the console."""
    return "\n".join(f"{layer}: top-1 {s['top1']:.2f}%, top-5 {s['top5']:.2f}%" for layer, s in results.items())


def plot_top1(results, path, title):
    """Bar plot of top-1 per layer. Uses the Agg canvas directly, so no pyplot/global backend state."""
    fig = Figure(figsize=(1.2 * len(results) + 2, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    layers = list(results)
    top1 = [results[layer]["top1"] for layer in layers]
    bars = ax.bar(layers, top1, color="tab:blue")
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, max(100.0, max(top1) * 1.1))
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def read_results(path):
    """(results, evaluated) of a results.json (`evaluated` is {} in files written without it)."""
    with open(path, encoding="utf-8") as f:
        content = json.load(f)
    evaluated = content.pop(EVALUATED, {})
    validate_results(content)
    return content, evaluated


def write_report(results, out_dir, title="Transfer results", evaluated=None):
    """Writes out_dir/results.json (with `evaluated`, a JSON-serialisable dict, under "evaluated"),
    results.md and top1.png; returns their paths as a dict."""
    validate_results(results)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in ("results.json", "results.md", "top1.png")}
    clean = {layer: {key: float(scores[key]) for key in RESULT_KEYS} for layer, scores in results.items()}
    with open(paths["results.json"], "w", encoding="utf-8") as f:
        json.dump({**clean, EVALUATED: evaluated or {}}, f, indent=2)
        f.write("\n")
    with open(paths["results.md"], "w", encoding="utf-8") as f:
        f.write(results_markdown(clean, title))
        if evaluated:
            f.write("\n" + "\n".join(f"- {key}: {value}" for key, value in evaluated.items()) + "\n")
    plot_top1(clean, paths["top1.png"], title)
    return paths
