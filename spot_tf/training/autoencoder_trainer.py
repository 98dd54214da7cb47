"""Phase 1: the autoencoder trained alone (30 x MSE + L2) in a custom train_step."""
import tensorflow as tf

from spot_tf.optim.ema import WeightAverage
from spot_tf.optim.optimization import (apply_update, current_learning_rate, multiply_bias_gradients, scaled_loss,
                                           skip_together)
from spot_tf.optim.regularization import l2_term
from spot_tf.run.distribution import num_replicas
from spot_tf.training import losses
from spot_tf.training.phase_trainer import PhaseTrainer, unpack_batch

LOGGED = ("loss", "reconstruction_mse_x30", "l2", "lr")


class AutoencoderTrainer(PhaseTrainer):
    """Trains an Autoencoder with the original's Adam, doubled bias gradients and a weight average.

    Args:
        model: The Autoencoder.
        ema_decay: Decay of the weight moving average (the original keeps one in every phase).
    """

    def __init__(self, model, ema_decay=0.9999, **kwargs):
        super().__init__(model, LOGGED, ema_decay, **kwargs)
        self.ema = None

    def build_for(self, image_size):
        """Creates the model's variables and the weight average (before optimizers or restores)."""
        self.model(tf.zeros((1, image_size, image_size, 3)), training=False)
        self.ema = WeightAverage(self.model.trainable_variables, self.ema_decay)
        # Every variable exists now: keep Keras from tracing call() on the data to build the trainer.
        self.built = True

    def compile(self, optimizer, **kwargs):
        """Trains with `optimizer` (built here, as Keras 3 under a strategy needs); it is `self.optimizer`."""
        super().compile(optimizer, **kwargs)
        optimizer.build(self.model.trainable_variables)

    @property
    def step(self):
        return self.optimizer.iterations

    def optimizers(self):
        """The optimizers of the trained networks."""
        return [self.optimizer]

    def train_step(self, data):
        images = tf.cast(unpack_batch(data)[0], tf.float32)
        replicas = num_replicas()
        variables = self.model.trainable_variables
        step = self.step
        lr = current_learning_rate(self.optimizer)
        with tf.GradientTape() as tape:
            reconstruction = self.model(images, training=True)
            terms = losses.autoencoder_loss(images, reconstruction, tf.shape(images)[0] * replicas)
            l2 = l2_term(self.model)
            total = terms["reconstruction_mse_x30"] + l2
            scaled = scaled_loss(self.optimizer, total)
        (grads,) = skip_together([tape.gradient(scaled, variables)], self.optimizers())
        applied = apply_update(self.optimizer, multiply_bias_gradients(grads, variables), variables)
        self.ema.update(step, applied)
        self.step_metrics.update({**terms, "loss": total, "l2": l2}, {"lr": lr})
        return self.step_metrics.step_logs()

    def checkpoint(self):
        """The tf.train.Checkpoint of this phase (layout in spot_tf.run.checkpoints)."""
        return tf.train.Checkpoint(model=self.model, ema=self.ema, optimizer=self.optimizer)
