"""Updates skipped by fp16 loss scaling: counted, shown, and stopped when they do not end.

A keras LossScaleOptimizer skips an update whose scaled gradients are not finite and halves its loss
scale; its `iterations`, the global step, count only the applied updates. A fresh fp16 run skips a few
updates while the scale comes down from 2**15, and one now and then after each doubling (every 2000
applied updates). Gradients that stay non-finite however small the scale would skip forever.
"""
import math

import keras

from spot_tf.run.distribution import scalar_value
from spot_tf.training.callbacks import TrainingDivergedError


class UpdatesSkippedError(TrainingDivergedError):
    """Too many updates in a row were skipped: the gradients are not finite at any loss scale."""


def skip_limit(optimizers):
    """How many updates in a row may be skipped before training stops.

    Twice the halvings that bring the initial loss scale down to 1 (30 for Keras' 2**15): the loss is
    then shrunk as much as it was enlarged at first, and gradients that are still not finite are not
    the loss scale's doing.

    Args:
        optimizers: LossScaleOptimizers.
    """
    return 2 * max(max(1, math.ceil(math.log2(o.initial_scale))) for o in optimizers)


class SkippedUpdates(keras.callbacks.Callback):
    """Counts the skipped updates of a phase (train steps after which the global step stayed) and stops
    training after `skip_limit` of them in a row.

    Nothing happens without a LossScaleOptimizer among the optimizers: any other one applies every
    update. The counts span the fit() calls of one fit_phase (one command); a resumed run counts from 0.

    Args:
        optimizers: The phase's optimizers (PhaseTrainer.optimizers()).
        guard: The NanGuard of the same fits: tripped at the limit, so that nothing more is saved (the
            loss scale of a later checkpoint would be too small to train on).
    """

    def __init__(self, optimizers, guard):
        super().__init__()
        self.loss_scaled = [o for o in optimizers if isinstance(o, keras.optimizers.LossScaleOptimizer)]
        self.guard = guard
        self.limit = skip_limit(self.loss_scaled) if self.loss_scaled else None
        self.skipped = 0
        self.in_a_row = 0
        self.stuck_at = None
        self._last_step = None

    @property
    def active(self):
        """Whether the phase trains with loss scaling (and can skip updates)."""
        return bool(self.loss_scaled)

    def loss_scale(self):
        """The current loss scale: the largest of the networks' (SpotTrainer's two are equal: they skip
        together)."""
        return max(scalar_value(o.dynamic_scale) for o in self.loss_scaled)

    def on_train_begin(self, logs=None):
        self._last_step = scalar_value(self.model.step)

    def on_train_batch_end(self, batch, logs=None):
        if not self.active:
            return
        step = scalar_value(self.model.step)
        if step != self._last_step:
            self._last_step, self.in_a_row = step, 0
            return
        self.skipped += 1
        self.in_a_row += 1
        if self.in_a_row >= self.limit and self.stuck_at is None:
            self.stuck_at = step
            self.guard.trip(step, {"gradients": float("nan")})
            self.model.stop_training = True

    def scalars(self):
        """{name: value} for TensorBoard: the loss scale and the updates skipped so far (none without
        loss scaling)."""
        if not self.active:
            return {}
        return {"loss_scale": self.loss_scale(), "skipped_updates": self.skipped}

    def describe(self):
        """E.g. "3 updates skipped (fp16 loss scale now 4096)"."""
        return (f"{self.skipped} update{'' if self.skipped == 1 else 's'} skipped "
                f"(fp16 loss scale now {self.loss_scale():.10g})")

    def error(self, phase, kept):
        """The UpdatesSkippedError of a run stopped at the limit; `kept` is the last checkpoint written (or None)."""
        kept = f"the last good checkpoint {kept} is kept" if kept else "no checkpoint was written"
        return UpdatesSkippedError(
            f"{phase}: {self.in_a_row} updates in a row skipped at step {self.stuck_at}: the gradients are not "
            f"finite even with the fp16 loss scale down to {self.loss_scale():.10g}; {kept}. Use mixed_precision "
            f"bf16 or none, or lower the learning_rate.")
