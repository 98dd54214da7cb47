import keras
import numpy as np
import tensorflow as tf

from spot_tf.models import Autoencoder
from spot_tf.training.phase_trainer import PhaseTrainer, unpack_batch


def test_batches_are_images_pairs_or_dicts():
    images, mask = tf.zeros((2, 8, 8, 3)), tf.ones((2, 1, 1, 1))
    assert unpack_batch(images)[0] is images and unpack_batch(images)[1:] == (None, None)
    assert unpack_batch((images, tf.zeros([2])))[0] is images
    got = unpack_batch({"images": images, "mask": mask})
    assert got[0] is images and got[1] is mask and got[2] is None


def test_reports_its_logged_means_and_calls_the_model():
    model = Autoencoder(1)
    trainer = PhaseTrainer(model, ("loss", "lr"), ema_decay=0.5)
    assert [m.name for m in trainer.metrics] == ["loss", "lr"]
    images = tf.random.stateless_uniform((2, 8, 8, 3), (1, 2), -1, 1)
    np.testing.assert_array_equal(trainer({"images": images}), model(images))
    assert trainer.get_config()["ema_decay"] == 0.5


def test_compile_sets_the_given_optimizer_unwrapped_or_none():
    # The phase scales its float16 loss itself: Keras must not wrap the optimizer in another LossScaleOptimizer.
    trainer = PhaseTrainer(Autoencoder(1), ("loss",), dtype="mixed_float16")
    adam = keras.optimizers.Adam()
    trainer.compile(adam)
    assert trainer.optimizer is adam
    trainer.compile(None)
    assert trainer.optimizer is None
