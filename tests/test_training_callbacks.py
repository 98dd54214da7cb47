import math
import os

import keras
import numpy as np
import tensorflow as tf

from conftest import summary_tags
from spot_tf.models import Autoencoder
from spot_tf.training import callbacks as cb
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.optim.optimization import make_adam
from spot_tf.training.image_summaries import autoencoder_images, weight_histograms


def _trainer(lr=1e-3, loss_scale=False):
    trainer = AutoencoderTrainer(Autoencoder(1))
    trainer.build_for(8)
    trainer.compile(make_adam(lr, loss_scale=loss_scale), jit_compile=False)
    return trainer


def _fit(trainer, steps, callbacks):
    images = tf.random.stateless_uniform((2, 8, 8, 3), (1, 2), -1, 1)
    trainer.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=1, steps_per_epoch=steps, verbose=0,
                shuffle=False, callbacks=callbacks)


def test_checkpoints_are_named_by_global_step(tmp_path):
    trainer = _trainer()
    manager = tf.train.CheckpointManager(trainer.checkpoint(), str(tmp_path), max_to_keep=10, checkpoint_name="ckpt")
    guard = cb.NanGuard()
    _fit(trainer, 5, [guard, cb.StepCheckpoint(manager, 2, guard)])
    assert sorted(os.path.basename(p) for p in manager.checkpoints) == ["ckpt-2", "ckpt-4", "ckpt-5"]
    assert guard.diverged_at is None


def test_divergence_stops_training_and_saves_nothing_bad(tmp_path):
    trainer = _trainer(lr=1e30)  # the L2 term overflows after the first update
    manager = tf.train.CheckpointManager(trainer.checkpoint(), str(tmp_path), max_to_keep=10, checkpoint_name="ckpt")
    guard = cb.NanGuard()
    _fit(trainer, 8, [guard, cb.StepCheckpoint(manager, 1, guard)])
    assert guard.diverged_at == 2 and int(trainer.step) == 2
    assert not all(math.isfinite(v) for v in guard.bad_values.values())
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-1"]


def test_non_finite_weights_are_never_saved(tmp_path):
    trainer = _trainer()
    manager = tf.train.CheckpointManager(trainer.checkpoint(), str(tmp_path), max_to_keep=10, checkpoint_name="ckpt")
    guard = cb.NanGuard()
    saver = cb.StepCheckpoint(manager, 1, guard)
    saver.set_model(trainer)
    trainer.model.decoder.to_rgb.conv.bias.assign([np.nan, 0.0, 0.0])
    saver.on_train_batch_end(0)
    assert manager.checkpoints == [] and guard.diverged_at == 0 and trainer.stop_training
    assert not cb.all_finite(trainer.trainable_variables)


def test_summaries_write_scalars_images_and_histograms(tmp_path):
    trainer = _trainer()
    writer = tf.summary.create_file_writer(str(tmp_path))
    sample = tf.zeros((2, 8, 8, 3))
    summaries = cb.TensorBoardSummaries(writer, 2, sample, autoencoder_images(trainer.model),
                                        weight_histograms(trainer.model))
    _fit(trainer, 4, [summaries])
    tags = summary_tags(tmp_path)
    assert tags["train/loss"] == [2, 4] and tags["train/lr"] == [2, 4]
    assert tags["images/reconstructions"] == [2, 4]
    assert any(t.startswith("weights/") for t in tags)


def test_summaries_are_written_once_per_step_when_updates_are_skipped(tmp_path):
    trainer = _trainer(loss_scale=True)
    # An infinite loss scale makes the first two train steps' gradients non-finite: their updates are
    # skipped and the step stays at 0 (it was written twice before).
    overflow = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs=None: (
        trainer.optimizer.dynamic_scale.assign(math.inf if batch < 2 else 1.0)))
    writer = tf.summary.create_file_writer(str(tmp_path))
    summaries = cb.TensorBoardSummaries(writer, 2, tf.zeros((2, 8, 8, 3)), autoencoder_images(trainer.model),
                                        weight_histograms(trainer.model), lambda: {"extra": 1.0})
    _fit(trainer, 6, [overflow, summaries])
    assert int(trainer.step) == 4
    tags = summary_tags(tmp_path)
    assert tags["train/loss"] == [2, 4] and tags["train/extra"] == [2, 4] and tags["images/inputs"] == [2, 4]
