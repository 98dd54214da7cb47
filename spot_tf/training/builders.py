"""The compiled trainers of the two unsupervised phases, built from a run's settings.

Call them inside the strategy scope and the phase's precision (spot_tf.run.precision).
"""
import keras

from spot_tf.models import Autoencoder
from spot_tf.optim.optimization import linear_policy, make_adam
from spot_tf.run.checkpoints import build_spot_model
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.training.spot_trainer import SpotTrainer


def _adam(settings, total_steps):
    training = settings.training
    return make_adam(linear_policy(training.learning_rate, total_steps), training.mixed_precision == "fp16")


def build_autoencoder_trainer(settings):
    """Phase 1: the autoencoder with its Adam over `ae_steps`, initialised from `seed`."""
    # The initializers draw from Keras' global generator: the same seed gives the same initial weights.
    keras.utils.set_random_seed(settings.training.seed)
    trainer = AutoencoderTrainer(Autoencoder(settings.model.ae_depth, name="autoencoder"))
    trainer.build_for(settings.model.image_size)
    trainer.compile(_adam(settings, settings.training.ae_steps), jit_compile=settings.training.xla)
    return trainer


def build_spot_trainer(settings):
    """Phase 2: the SpotModel (autoencoder not yet restored, the rest initialised from `seed`) with one
    Adam per network over `spot_steps`."""
    training = settings.training
    trainer = SpotTrainer(build_spot_model(settings.model, seed=training.seed, name="spot_model"),
                          generator_loss=training.generator_loss, seed=training.seed)
    trainer.compile(_adam(settings, training.spot_steps), _adam(settings, training.spot_steps),
                    jit_compile=training.xla)
    return trainer
