"""What the trainers of both phases share: the wrapped model, the logged means, the batch format."""
import keras

from spot_tf.training.step_metrics import StepMetrics


def unpack_batch(data):
    """A batch is images, or a dict with `images` and optionally a fixed `mask` / `dropout_mask`."""
    if isinstance(data, dict):
        return data["images"], data.get("mask"), data.get("dropout_mask")
    if isinstance(data, (tuple, list)):
        return data[0], None, None
    return data, None, None


class PhaseTrainer(keras.Model):
    """Base of the phase trainers: fit() reports `logged` (means over each summary window).

    Subclasses define `step` (the global step variable: the updates applied so far; one that fp16
    loss scaling skips is not counted), `optimizers()` (one per trained network), `train_step` and
    `checkpoint()`, and compile with the optimizer that drives the phase (None if several do).

    Args:
        model: The network being trained (with frozen parts, if any).
        logged: Names of the values train_step logs.
        ema_decay: Decay of the weight moving average the original keeps in every phase.
    """

    def __init__(self, model, logged, ema_decay=0.9999, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.ema_decay = ema_decay
        self.step_metrics = StepMetrics(logged)

    def compile(self, optimizer, **kwargs):
        """Compiles with `optimizer` as `self.optimizer`, the one Keras callbacks act on (may be None).

        Without one Keras would put a default RMSprop there, which a stock callback (ReduceLROnPlateau,
        LearningRateScheduler) would adjust silently while the phase trains with its own. Loss scaling
        is the phase's own (make_adam's LossScaleOptimizer): Keras must not wrap the optimizer again.
        """
        super().compile(optimizer=optimizer, auto_scale_loss=False, **kwargs)

    @property
    def metrics(self):
        return list(self.step_metrics.means)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.15) fit() / evaluate() under a strategy first draw a batch and all-reduce it to
        # build the model symbolically: the batch is lost to training, and the all-reduce fails on an
        # (images, labels) batch under MultiWorkerMirroredStrategy. A trainer built before fit() needs
        # neither.
        if all(layer.built for layer in self._flatten_layers()):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def call(self, data, training=False):
        return self.model(unpack_batch(data)[0], training=training)

    def get_config(self):
        return {**super().get_config(), "ema_decay": self.ema_decay}
