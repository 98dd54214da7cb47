"""Tests of spot_tf/training/voc_finetune_trainer.py (and its builder)."""
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from spot_tf.models import Discriminator
from spot_tf.training.builders import build_voc_finetune_trainer
from spot_tf.training.voc_finetune_trainer import clip_in_sync, masked_sigmoid_loss
from spot_tf.training.voc_protocols import FINETUNE
from toy_data import colour_dataset

CLASSES = 4


def _discriminator(size=32):
    keras.utils.set_random_seed(0)
    disc = Discriminator(size)
    disc(tf.zeros((1, size, size, 3)))
    return disc


def _multi_label(examples=16, batch_size=8):
    """The colour data set with a label vector: its class present, the next one difficult, others absent."""
    def vector(images, labels):
        present = tf.one_hot(labels, CLASSES, dtype=tf.int32)
        difficult = tf.one_hot((labels + 1) % CLASSES, CLASSES, dtype=tf.int32)
        return images, present - difficult
    return colour_dataset(num_classes=CLASSES, examples=examples, batch_size=batch_size).map(vector)


def test_the_loss_leaves_difficult_entries_out():
    labels = np.array([[1, 0, -1], [0, -1, 1]], np.int32)
    logits = np.array([[2.0, -1.0, 30.0], [0.5, -40.0, -0.2]], np.float32)
    per_entry = np.log1p(np.exp(-np.where(labels == 1, logits, -logits)))
    expected = (per_entry * (labels != -1)).sum() / 2
    np.testing.assert_allclose(float(masked_sigmoid_loss(labels, logits)), expected, rtol=1e-6)


def test_clipping_acts_on_the_sum_over_replicas(two_replicas):
    parts = [[tf.constant([3.0, 0.0]), tf.constant(4.0)], [tf.constant([3.0, 8.0]), tf.constant(-4.0)]]

    def replica():
        index = tf.distribute.get_replica_context().replica_id_in_sync_group
        grads = [tf.where(index == 0, parts[0][i], parts[1][i]) for i in range(2)]
        return clip_in_sync(grads, 5.0)

    out = two_replicas.run(replica)
    summed = [sum(t.numpy() for t in two_replicas.experimental_local_results(o)) for o in out]
    # The sum is ([6, 8], 0), norm 10: clipped to norm 5 whatever each replica's share was.
    np.testing.assert_allclose(summed[0], [3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(summed[1], 0.0, atol=1e-6)
    single = clip_in_sync([tf.constant([6.0, 8.0])], 5.0)
    np.testing.assert_allclose(single[0].numpy(), [3.0, 4.0], rtol=1e-6)


def _trainer(train_from, disc=None):
    protocol = dataclasses.replace(FINETUNE, learning_rate=0.01)
    return build_voc_finetune_trainer(disc or _discriminator(), protocol, train_from, 32, CLASSES, seed=0)


def test_train_from_decides_which_weights_change():
    for train_from, conv_changes, fc6_changes in (("all", True, True), ("fc6", False, True), ("fc8", False, False)):
        trainer = _trainer(train_from)
        conv, fc6, fc8 = (trainer.discriminator.conv_1.weights[0].numpy().copy(),
                          trainer.model.fc6.kernel.numpy().copy(), trainer.model.fc8.kernel.numpy().copy())
        trainer.fit(_multi_label().repeat(), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
        assert (not np.array_equal(trainer.discriminator.conv_1.weights[0].numpy(), conv)) == conv_changes
        assert (not np.array_equal(trainer.model.fc6.kernel.numpy(), fc6)) == fc6_changes
        assert not np.array_equal(trainer.model.fc8.kernel.numpy(), fc8)
        assert int(trainer.step) == 1


def test_training_lowers_the_loss_and_the_test_sums_the_crops():
    trainer = _trainer("all")
    data = _multi_label()
    images, labels = next(iter(data))
    before = float(masked_sigmoid_loss(labels, trainer.logits(images, False)))
    trainer.fit(data.repeat(), steps_per_epoch=15, epochs=1, verbose=0, shuffle=False)
    assert float(masked_sigmoid_loss(labels, trainer.logits(images, False))) < 0.5 * before
    crops = tf.stack([images, tf.reverse(images, [2])], axis=1)  # two "crops" per example
    summed = trainer.summed_logits(crops).numpy()
    expected = trainer.logits(images, False).numpy() + trainer.logits(tf.reverse(images, [2]), False).numpy()
    np.testing.assert_allclose(summed, expected, rtol=1e-4, atol=1e-4)
    test = tf.distribute.get_strategy().experimental_distribute_dataset(
        data.map(lambda x, y: (tf.stack([x, x], axis=1), y)))
    got_labels, scores = trainer.test_results(test)
    assert got_labels.shape == scores.shape == (16, CLASSES)
    np.testing.assert_array_equal(got_labels, np.concatenate([y.numpy() for _, y in data]))
    # The classes are colours: the present class scores highest on most test images.
    assert np.mean(np.argmax(scores, 1) == np.argmax(got_labels, 1)) > 0.5
