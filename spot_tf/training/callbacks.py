"""Callbacks of the training phases: divergence guard, step-numbered checkpoints, TensorBoard.

The global step (`model.step`) counts applied updates: with fp16 loss scaling several train steps in a
row can end at the same step (skipped updates, spot_tf.training.skipped_updates), so what is done at a
step is done once, when the step is reached.
"""
import math

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from spot_tf.run import interruption
from spot_tf.run.checkpoint_files import remove_temp_leftovers
from spot_tf.run.distribution import scalar_value


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def log_value(value):
    """A logged value (a scalar, or a [1] array from train_step) as a float."""
    return float(np.mean(value))


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite logged value (checked before anything is saved).

    StepCheckpoint (non-finite weights) and SkippedUpdates (gradients not finite at any loss scale)
    trip it too: nothing is saved once it has tripped.
    """

    def __init__(self):
        super().__init__()
        self.diverged_at = None
        self.bad_values = None

    def on_train_batch_end(self, batch, logs=None):
        values = {k: log_value(v) for k, v in (logs or {}).items()}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            self.trip(scalar_value(self.model.step), bad)
            self.model.stop_training = True

    def trip(self, step, bad_values):
        """Records non-finite `bad_values` ({name: value}) seen at `step`; the first ones are kept."""
        if self.diverged_at is None:
            self.diverged_at, self.bad_values = step, bad_values


def all_finite(variables):
    """Whether every entry of every variable is finite."""
    return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32))) for v in variables]))


class StepCheckpoint(keras.callbacks.Callback):
    """Saves `manager`'s checkpoint as ckpt-<global step> every `every` steps and at the end.

    A SIGTERM or SIGINT received during training (spot_tf.run.interruption) ends training after the
    current step, which is then saved. Nothing is saved once `guard` has tripped (a non-finite loss, or
    gradients not finite at any loss scale), nor weights that are not all finite (that stops training
    too), so every checkpoint written is a good one.

    Args:
        manager: A tf.train.CheckpointManager of the phase's checkpoint.
        every: Steps between checkpoints.
        guard: The NanGuard of the same fit.
    """

    def __init__(self, manager, every, guard):
        super().__init__()
        self.manager = manager
        self.every = every
        self.guard = guard
        self.last_saved = None

    def _save(self):
        step = scalar_value(self.model.step)
        if self.guard.diverged_at is not None or step == self.last_saved:
            return
        if not all_finite(self.model.trainable_variables):
            self.guard.trip(step, {"weights": float("nan")})
            self.model.stop_training = True
            return
        try:
            self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError):
            # A full disk: the cut save's ckpt-N_temp goes, the checkpoints before it stay.
            remove_temp_leftovers(self.manager.directory)
            raise
        self.last_saved = step

    def on_train_begin(self, logs=None):
        self.last_saved = scalar_value(self.model.step)

    def on_train_batch_end(self, batch, logs=None):
        if scalar_value(self.model.step) % self.every == 0:
            self._save()
        if interruption.requested():
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self._save()


class TensorBoardSummaries(keras.callbacks.Callback):
    """Every `every` steps: the logged scalars (means over the window, then reset) and `scalars()`,
    images, filters and weight histograms, written at the global step, once per step.

    Every worker runs this (reading synced-on-read variables can be collective), but only the chief
    passes a real writer.

    Args:
        writer: A tf.summary writer (a no-op writer on non-chief workers).
        every: Steps between summaries.
        sample_images: A fixed batch of [-1, 1] images for the image summaries (None: no images).
        image_fn: `(sample_images) -> {name: [N, H, W, C] images in [0, 1]}`.
        histogram_variables: `() -> {name: variable}` for weight histograms (None: none).
        scalars: `() -> {name: value}`: more scalars, written as `train/<name>` with the logged ones
            (e.g. SkippedUpdates.scalars: the fp16 loss scale and the skipped updates).
    """

    def __init__(self, writer, every, sample_images=None, image_fn=None, histogram_variables=None, scalars=dict):
        super().__init__()
        self.writer = writer
        self.every = every
        self.sample_images = sample_images
        self.image_fn = image_fn
        self.histogram_variables = histogram_variables
        self.scalars = scalars
        self.reset_pending = False
        self.last_written = None

    def on_train_begin(self, logs=None):
        # The step training starts at was written by the run (or the fit) that reached it.
        self.last_written = scalar_value(self.model.step)

    def on_train_batch_begin(self, batch, logs=None):
        # Reset here, not right after writing, so that the epoch-end log still shows the last window.
        if self.reset_pending:
            self.model.step_metrics.reset()
            self.reset_pending = False

    def on_train_batch_end(self, batch, logs=None):
        step = scalar_value(self.model.step)
        # A skipped update leaves the step where it was: write each step once.
        if step % self.every or step == self.last_written:
            return
        self.last_written = step
        values = {**{k: log_value(v) for k, v in (logs or {}).items()}, **self.scalars()}
        images = self.image_fn(self.sample_images) if self.image_fn else {}
        histograms = self.histogram_variables() if self.histogram_variables else {}
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(f"train/{name}", value)
            for name, value in images.items():
                tf.summary.image(name, value, max_outputs=1)
            for name, variable in histograms.items():
                tf.summary.histogram(f"weights/{name}", variable)
        self.writer.flush()
        self.reset_pending = True
        logging.info("step %d: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
