import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import Autoencoder
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.optim.optimization import make_adam


def test_training_reduces_the_reconstruction_loss_and_keeps_an_average():
    trainer = AutoencoderTrainer(Autoencoder(2))
    trainer.build_for(16)
    trainer.compile(make_adam(1e-3), jit_compile=False)
    before = [v.numpy().copy() for v in trainer.model.trainable_variables]
    images = tf.random.stateless_uniform((8, 16, 16, 3), (1, 2), -1, 1)
    history = trainer.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=1, steps_per_epoch=30,
                          verbose=0, shuffle=False)
    assert int(trainer.step) == 30
    logs = {k: v[-1] for k, v in history.history.items()}
    assert set(logs) == {"loss", "reconstruction_mse_x30", "l2", "lr"}
    first = trainer.model(images, training=False)
    assert float(logs["loss"]) > 0
    assert any(not np.array_equal(a, v.numpy()) for a, v in zip(before, trainer.model.trainable_variables))
    # The average lags behind the weights.
    assert any(not np.allclose(a.numpy(), v.numpy()) for a, v in zip(trainer.ema.averages,
                                                                      trainer.model.trainable_variables))
    mse_after = float(tf.reduce_mean(tf.square(first - images)))
    fresh = AutoencoderTrainer(Autoencoder(2))
    fresh.build_for(16)
    mse_before = float(tf.reduce_mean(tf.square(fresh.model(images, training=False) - images)))
    assert mse_after < mse_before


def test_keras_callbacks_adjust_the_optimizer_that_trains():
    trainer = AutoencoderTrainer(Autoencoder(1))
    trainer.build_for(8)
    adam = make_adam(1e-3)
    trainer.compile(adam, jit_compile=False)
    assert trainer.optimizer is adam and trainer.checkpoint().optimizer is adam
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 2e-4)
    history = trainer.fit(tf.data.Dataset.from_tensors(tf.zeros((2, 8, 8, 3))).repeat(), epochs=1, steps_per_epoch=2,
                          verbose=0, shuffle=False, callbacks=[scheduler])
    assert int(trainer.step) == 2 and int(adam.iterations) == 2
    assert history.history["lr"][-1] == pytest.approx(2e-4)
