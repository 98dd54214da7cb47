"""Writes transfer results: results.json, a markdown table and a bar plot of top-1 per layer.

Results are `{layer: {"top1": percent, "top5": percent}}`, accuracies in percent (0..100).
results.json holds them and, under "evaluated", what was evaluated (source, protocol, image size,
steps...), so that a number never travels without its protocol.
"""
import json
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spot_tf.paths import in_run
from spot_tf.safe_write import replacing, write_json, write_text

RESULT_KEYS = ("top1", "top5")
# The key of results.json that says what was evaluated (not a layer).
EVALUATED = "evaluated"
# Keys of "evaluated" that grow as an evaluation resumes or that it finds as it tests (the test images
# that decoded, the VOC classes without a test positive); a difference in any other is another evaluation.
PROGRESS_KEYS = ("steps", "full_protocol", "test_images", "classes_without_positive")


class ResultsConflictError(ValueError):
    """A folder holds the results of another evaluation, which a write would replace."""


def validate_results(results):
    """Raises ValueError unless `results` maps layer names to {"top1", "top5"} numbers."""
    if not results:
        raise ValueError("results are empty: there must be at least one layer")
    for layer, scores in results.items():
        if not isinstance(scores, dict) or set(scores) != set(RESULT_KEYS):
            raise ValueError(f"results[{layer!r}] must have exactly the keys {RESULT_KEYS}, got {scores!r}")
        for key in RESULT_KEYS:
            float(scores[key])  # A number, or a ValueError / TypeError.


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
    with replacing(path) as staging:
        fig.savefig(staging, dpi=100)


def read_results(path, validate=validate_results):
    """(results, evaluated) of a results.json (`evaluated` is {} in files written without it); `validate`
    checks the results' own format (None: any mapping, as every evaluation's results.json is).

    Raises ValueError naming `path` when it is not a results file."""
    try:
        with open(path, encoding="utf-8") as f:
            content = json.load(f)
        evaluated = content.pop(EVALUATED, {})
        if validate is not None:
            validate(content)
        if not isinstance(evaluated, dict):
            raise ValueError(f"{EVALUATED!r} is not a mapping")
    except (ValueError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a results file of spot_tf ({str(err).splitlines()[0]}): move it away "
                         f"or repair it") from None
    return content, evaluated


def evaluation_conflict(out_dir, evaluated):
    """(results.json path, key, its value there, the value in `evaluated`) when out_dir holds the results of
    another evaluation than `evaluated` (they differ in a key other than PROGRESS_KEYS), else None."""
    path = os.path.join(out_dir, "results.json")
    if not os.path.exists(path):
        return None
    # Any evaluation's results (top-k, VOC mAP...): only what it evaluated is compared.
    saved = read_results(path, validate=None)[1]
    evaluated = evaluated or {}
    for key in [*saved, *(key for key in evaluated if key not in saved)]:
        if key not in PROGRESS_KEYS and not same_evaluated(key, saved.get(key), evaluated.get(key), out_dir):
            return path, key, saved.get(key), evaluated.get(key)
    return None


def same_evaluated(key, a, b, out_dir):
    """Whether two values of `key` in "evaluated" say the same; a source inside the run matches however it
    is spelled (relative to the run, or the absolute path results files of earlier versions hold)."""
    if key == "source" and isinstance(a, str) and isinstance(b, str):
        run_dir = os.path.dirname(os.path.abspath(out_dir))
        return in_run(run_dir, a) == in_run(run_dir, b)
    return a == b


def conflict_message(conflict):
    """The one line that refuses to write over `evaluation_conflict`'s results."""
    path, key, saved, new = conflict
    return (f"{path} holds the results of an evaluation with {key} {saved!r}, not {new!r}; they are kept: use "
            f"another model_dir (or move that folder away) to evaluate with other settings")


def refuse_conflict(out_dir, evaluated):
    """Raises ResultsConflictError when out_dir holds the results of another evaluation than `evaluated`."""
    conflict = evaluation_conflict(out_dir, evaluated)
    if conflict:
        raise ResultsConflictError(conflict_message(conflict))


def write_report(results, out_dir, title="Transfer results", evaluated=None):
    """Writes out_dir/results.json (with `evaluated`, a JSON-serialisable dict, under "evaluated"),
    results.md and top1.png, each atomically; returns their paths as a dict.

    Raises ResultsConflictError, writing nothing, when out_dir holds the results of another evaluation
    (`evaluation_conflict`): results are saved data, and a rerun with the same settings only may replace them."""
    validate_results(results)
    refuse_conflict(out_dir, evaluated)
    paths = {name: os.path.join(out_dir, name) for name in ("results.json", "results.md", "top1.png")}
    clean = {layer: {key: float(scores[key]) for key in RESULT_KEYS} for layer, scores in results.items()}
    markdown = results_markdown(clean, title)
    if evaluated:
        markdown += "\n" + "\n".join(f"- {key}: {value}" for key, value in evaluated.items()) + "\n"
    # The table and plot first: results.json, last, is what says the evaluation is complete.
    write_text(paths["results.md"], markdown)
    plot_top1(clean, paths["top1.png"], title)
    write_json(paths["results.json"], {**clean, EVALUATED: evaluated or {}})
    return paths
