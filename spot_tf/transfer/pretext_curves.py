"""The spot phase's learning curves, read back from its TensorBoard logs (model_dir/spot/logs).

The discriminator's accuracy on real and on repaired images and its mask accuracy, each the mean
over a summary window (`summary_every` steps) as TensorBoardSummaries wrote it: what a run shows of
the pretext task having been learnt, whatever the transfer results say.
"""
import glob
import os

import numpy as np
import tensorflow as tf

# {TensorBoard tag: what it is}, in the order of tables and plots.
CURVES = {"train/accuracy_real": "discriminator accuracy, real images",
          "train/accuracy_repaired": "discriminator accuracy, repaired images",
          "train/mask_accuracy": "mask accuracy (dropped entries found)"}


def _scalar(value):
    if value.HasField("simple_value"):
        return float(value.simple_value)
    return float(tf.make_ndarray(value.tensor))


def _events(path):
    """The events of one file, up to a record cut short (a run killed while writing it)."""
    records = iter(tf.data.TFRecordDataset(path))
    while True:
        try:
            record = next(records)
        except (StopIteration, tf.errors.DataLossError):
            return
        yield tf.compat.v1.Event.FromString(record.numpy())


def read_curves(logs_dir, tags=tuple(CURVES)):
    """{tag: (steps, values)} of the scalars `tags` in the event files of `logs_dir`, by step.

    A step written twice (a run resumed from a checkpoint older than its last summary) keeps the
    value of the newer file; a file cut short is read up to the cut. Tags never written are left out;
    no folder gives {}.
    """
    by_tag = {tag: {} for tag in tags}
    # Event file names carry their creation time: later files overwrite the steps they repeat.
    for path in sorted(glob.glob(os.path.join(logs_dir, "events.out.tfevents.*"))):
        for event in _events(path):
            for value in event.summary.value:
                if value.tag in by_tag:
                    by_tag[value.tag][int(event.step)] = _scalar(value)
    return {tag: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)]))
            for tag, points in by_tag.items() if points}


def curves_markdown(curves):
    """A table of each curve's first and last window, in percent."""
    lines = ["| spot phase | first window | last window |", "|---|---:|---:|"]
    for tag, (steps, values) in curves.items():
        lines.append(f"| {CURVES.get(tag, tag)} | {100 * values[0]:.1f} (step {steps[0]}) | "
                     f"{100 * values[-1]:.1f} (step {steps[-1]}) |")
    return "\n".join(lines) + "\n"


def plot_curves(ax, curves):
    """Draws each curve (percent over steps) on the matplotlib axes `ax`."""
    for tag, (steps, values) in curves.items():
        ax.plot(steps, 100 * values, marker=".", label=CURVES.get(tag, tag))
    ax.set_ylim(0, 105)
    ax.set_xlabel("spot step")
    ax.set_ylabel("accuracy (%), window mean")
    ax.set_title("pretext task")
    ax.legend(loc="lower right", fontsize=7)
