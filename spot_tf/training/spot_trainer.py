"""The spot phase: repair network and discriminator trained adversarially in one custom train_step."""
import tensorflow as tf

from spot_tf.models import mask_labels
from spot_tf.optim.optimization import (apply_update, current_learning_rate, multiply_bias_gradients, scaled_loss,
                                           skip_together)
from spot_tf.optim.regularization import l2_term
from spot_tf.run.checkpoints import spot_ema
from spot_tf.run.distribution import num_replicas, replica_id
from spot_tf.training import losses
from spot_tf.training.phase_trainer import PhaseTrainer, unpack_batch

LOGGED = ("discriminator_loss", "repair_loss", "real_fake_ce", "mask_ce_x0.1", "swapped_ce", "masked_mse_x30",
          "l2_repair", "l2_discriminator", "accuracy_real", "accuracy_repaired", "mask_accuracy",
          "lr_repair", "lr_discriminator")


class SpotTrainer(PhaseTrainer):
    """Trains a SpotModel's repair network and discriminator; the autoencoder stays frozen.

    One forward pass per step feeds both losses; each network's gradient is taken from its own
    total at the same parameters, bias gradients are doubled, and both optimizers apply together
    (with fp16, an update that either network's loss scale skips is skipped by both: a step is
    applied when both networks applied theirs). A moving average (0.9999) of the trainable weights
    is kept. The damage mask and the fc_1 dropout are drawn from stateless seeds of (seed, step,
    replica), so every replica draws its own and a resumed run draws what an uninterrupted one would
    have.

    Args:
        model: The SpotModel (its autoencoder already restored from phase 1).
        generator_loss: "code" (default, the reference code's sum of all tower losses) or "paper".
        seed: Base seed of the damage and dropout draws.
        ema_decay: Decay of the weight moving average.
    """

    def __init__(self, model, generator_loss="code", seed=0, ema_decay=0.9999, **kwargs):
        losses.check_generator_loss(generator_loss)
        super().__init__(model, LOGGED, ema_decay, **kwargs)
        self.generator_loss = generator_loss
        self.seed = seed
        model.build()
        model.autoencoder.trainable = False
        self.ema = spot_ema(model, ema_decay)
        self.repair_optimizer = None
        self.discriminator_optimizer = None
        # Every variable exists now: keep Keras from tracing call() on the data to build the trainer.
        self.built = True

    def compile(self, repair_optimizer, discriminator_optimizer, **kwargs):
        """Sets (and builds, as Keras 3 under a strategy needs) one optimizer per network.

        `self.optimizer` stays None: no single optimizer drives this phase for Keras callbacks to adjust.
        """
        super().compile(None, **kwargs)
        self.repair_optimizer = repair_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        repair_optimizer.build(self.model.repair.trainable_variables)
        discriminator_optimizer.build(self.model.discriminator.trainable_variables)

    @property
    def step(self):
        # With fp16 both networks apply or skip their updates together (skip_together): the
        # discriminator_optimizer's iterations are the same.
        return self.repair_optimizer.iterations

    def optimizers(self):
        """The optimizers of the trained networks."""
        return [self.repair_optimizer, self.discriminator_optimizer]

    def _seeds(self):
        base = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(self.step, tf.int64)])
        base = tf.random.experimental.stateless_fold_in(base, replica_id())
        return (tf.random.experimental.stateless_fold_in(base, 0),
                tf.random.experimental.stateless_fold_in(base, 1))

    def compute_gradients(self, images, mask=None, dropout_mask=None):
        """One forward pass and both networks' raw gradients (before the bias multiplier).

        Returns:
            (outputs, terms, discriminator total, repair total, repair grads, discriminator grads).
        """
        replicas = num_replicas()
        global_batch = tf.shape(images)[0] * replicas
        damage_seed, dropout_seed = self._seeds()
        repair_vars = self.model.repair.trainable_variables
        disc_vars = self.model.discriminator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            out = self.model(images, mask=mask, training=True, seed=damage_seed, dropout_mask=dropout_mask,
                             dropout_seed=dropout_seed)
            terms, d_total, r_total = losses.spot_losses(
                images, out, l2_term(self.model.repair), l2_term(self.model.discriminator),
                global_batch, self.generator_loss)
            r_scaled = scaled_loss(self.repair_optimizer, r_total)
            d_scaled = scaled_loss(self.discriminator_optimizer, d_total)
        r_grads = tape.gradient(r_scaled, repair_vars)
        # With synchronized batch norm the backward passes hold collectives: keep replicas in step.
        with tf.control_dependencies([g for g in r_grads if g is not None]):
            d_grads = tape.gradient(d_scaled, disc_vars)
        return out, terms, d_total, r_total, r_grads, d_grads

    def train_step(self, data):
        images, mask, dropout_mask = unpack_batch(data)
        step = self.step
        lrs = {"lr_repair": current_learning_rate(self.repair_optimizer),
               "lr_discriminator": current_learning_rate(self.discriminator_optimizer)}
        out, terms, d_total, r_total, r_grads, d_grads = self.compute_gradients(
            tf.cast(images, tf.float32), mask, dropout_mask)
        r_grads, d_grads = skip_together([r_grads, d_grads], self.optimizers())
        repair_vars = self.model.repair.trainable_variables
        disc_vars = self.model.discriminator.trainable_variables
        applied = apply_update(self.repair_optimizer, multiply_bias_gradients(r_grads, repair_vars), repair_vars)
        # Replicas must launch their gradient all-reduces in the same order: make it explicit.
        with tf.control_dependencies([v.value for v in repair_vars]):
            self.discriminator_optimizer.apply(multiply_bias_gradients(d_grads, disc_vars), disc_vars)
        self.ema.update(step, applied)
        self.step_metrics.update(
            {**terms, "discriminator_loss": d_total, "repair_loss": r_total},
            {**self._accuracies(out), **lrs})
        return self.step_metrics.step_logs()

    @staticmethod
    def _accuracies(out):
        batch = tf.shape(out["mask"])[0]
        predicted_real = tf.argmax(out["logits"], axis=1, output_type=tf.int32)
        correct = tf.cast(tf.equal(predicted_real, losses.real_labels(batch)), tf.float32)
        mask_correct = tf.cast(tf.equal(tf.cast(out["mask_logits"] > 0, tf.float32), mask_labels(out["mask"])),
                               tf.float32)
        return {"accuracy_real": tf.reduce_mean(correct[:batch]), "accuracy_repaired": tf.reduce_mean(correct[batch:]),
                "mask_accuracy": tf.reduce_mean(mask_correct)}

    def checkpoint(self):
        """The tf.train.Checkpoint of this phase (layout in spot_tf.run.checkpoints)."""
        return tf.train.Checkpoint(model=self.model, ema=self.ema, repair_optimizer=self.repair_optimizer,
                                   discriminator_optimizer=self.discriminator_optimizer)

    def get_config(self):
        return {**super().get_config(), "generator_loss": self.generator_loss, "seed": self.seed}
