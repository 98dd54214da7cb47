import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import Discriminator
from spot_tf.run.distribution import scalar_value
from spot_tf.training.builders import build_segmentation_trainer
from spot_tf.training.segmentation_trainer import pixel_loss
from spot_tf.training.voc_seg_protocol import SEGMENTATION

# Two images per update; narrow fc6 / fc7 for speed.
PROTOCOL = dataclasses.replace(SEGMENTATION, iter_size=2, learning_rate=1e-3, fc_channels=64)


def _trainer(replicas=1, steps=6):
    keras.utils.set_random_seed(0)
    disc = Discriminator(64, padding="valid")
    disc.build()
    return build_segmentation_trainer(disc, PROTOCOL, steps, replicas, 21)


def _batch(seed, size=(20, 26)):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (1,) + size + (3,)).astype(np.float32)
    masks = rng.integers(0, 21, (1,) + size).astype(np.int32)
    masks[0, :3] = 255
    return tf.constant(images), tf.constant(masks)


def test_pixel_loss_averages_each_images_labelled_pixels_then_the_images():
    logits = np.zeros((2, 1, 3, 4), np.float32)
    logits[0, 0, 0, 1] = np.log(3.0)  # softmax of class 1: 3 / 6
    masks = np.array([[[1, 255, 255]], [[0, 2, 3]]])
    # Image 0: one labelled pixel, -log(1/2); image 1: three pixels of -log(1/4) each.
    expected = (np.log(2.0) + np.log(4.0)) / 2
    assert float(pixel_loss(masks, logits)) == pytest.approx(expected, rel=1e-6)
    # A wholly void image adds zero, not NaN.
    assert float(pixel_loss(np.full((1, 1, 3), 255), logits[:1])) == 0.0


def test_updates_every_iter_size_steps_with_caffes_decay_and_bias_multiplier():
    trainer = _trainer()
    assert trainer.optimizer.gradient_accumulation_steps == 2
    fc7 = trainer.model.fc7.conv
    kernel, bias = fc7.kernel.numpy(), fc7.bias.numpy()
    trainer.train_step(_batch(1))
    # The first step only accumulates; the step (Keras' iterations) counts it.
    np.testing.assert_array_equal(fc7.kernel.numpy(), kernel)
    assert int(trainer.step) == 1
    grads = []
    for seed in (1, 2):
        images, masks = _batch(seed)
        with tf.GradientTape() as tape:
            loss = pixel_loss(masks, trainer.logits(images, training=True))
        grads.append(tape.gradient(loss, [fc7.kernel, fc7.bias]))
    trainer.train_step(_batch(2))
    assert int(trainer.step) == 2
    # The score layer starts at zero, so fc7 gets no gradient at first: only the decay moves it.
    assert not np.any(grads[0][0].numpy()) and not np.any(grads[1][1].numpy())
    lr = PROTOCOL.learning_rate
    np.testing.assert_allclose(fc7.kernel.numpy(), kernel - lr * PROTOCOL.weight_decay * kernel, rtol=1e-6)
    np.testing.assert_array_equal(fc7.bias.numpy(), bias)
    score = trainer.model.score.conv
    assert np.any(score.kernel.numpy()) and np.any(score.bias.numpy())


def test_the_learning_rate_drops_at_thirds():
    trainer = _trainer(steps=30)
    schedule = trainer.optimizer._learning_rate
    assert [float(schedule(step)) for step in (0, 9, 10, 19, 20, 29)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])


def test_test_results_count_every_labelled_pixel_over_replicas(two_replicas):
    with two_replicas.scope():
        trainer = _trainer(replicas=2)
    assert trainer.optimizer.gradient_accumulation_steps is None  # 2 images per step already
    batches = [_batch(seed, size) for seed, size in ((3, (20, 26)), (4, (31, 17)), (5, (20, 26)))]
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(
        tf.TensorSpec([1, None, None, 3], tf.float32), tf.TensorSpec([1, None, None], tf.int32)))
    # Training batches give each replica an image (fit_loop's always do); the test batches leave one empty.
    pairs = tf.data.Dataset.from_tensors(tuple(tf.concat(parts, 0) for parts in zip(batches[0], batches[2])))
    trainer.fit(two_replicas.experimental_distribute_dataset(pairs.repeat()), steps_per_epoch=2, epochs=1,
                verbose=0)
    assert scalar_value(trainer.step) == 2
    counts = trainer.test_results(two_replicas.experimental_distribute_dataset(dataset))
    assert counts.shape == (21, 21)
    assert counts.sum() == sum(int(np.sum(m.numpy() != 255)) for _, m in batches)
