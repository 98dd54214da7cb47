import math
import os

import keras
import pytest
import tensorflow as tf

from spot_tf.models import Autoencoder
from spot_tf.optim.optimization import make_adam
from spot_tf.phases import EXPECTED_ERRORS
from spot_tf.training import callbacks as cb
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.training.skipped_updates import SkippedUpdates, UpdatesSkippedError, skip_limit


def _trainer(loss_scale=True):
    trainer = AutoencoderTrainer(Autoencoder(1))
    trainer.build_for(8)
    trainer.compile(make_adam(1e-3, loss_scale=loss_scale), jit_compile=False)
    return trainer


def _overflow(trainer, skipped_steps):
    """Sets the loss scale to infinity before the train steps `skipped_steps(i)` says (their gradients are
    not finite and halving keeps the scale infinite), and to 1 before the others (applied)."""
    return keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs=None: (
        trainer.optimizer.dynamic_scale.assign(math.inf if skipped_steps(batch) else 1.0)))


def _fit(trainer, steps, callbacks):
    images = tf.random.stateless_uniform((2, 8, 8, 3), (1, 2), -1, 1)
    trainer.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=1, steps_per_epoch=steps, verbose=0,
                shuffle=False, callbacks=callbacks)


def test_the_limit_is_twice_the_halvings_down_to_a_scale_of_one():
    assert skip_limit([make_adam(1e-3, loss_scale=True)]) == 30
    assert skip_limit([keras.optimizers.LossScaleOptimizer(make_adam(1e-3), initial_scale=2.0 ** 4)]) == 8


def test_skipped_updates_are_counted_and_shown():
    trainer = _trainer()
    guard = cb.NanGuard()
    skipped = SkippedUpdates(trainer.optimizers(), guard)
    _fit(trainer, 6, [_overflow(trainer, lambda i: i in (0, 1, 4)), guard, skipped])
    assert int(trainer.step) == 3 and skipped.skipped == 3 and skipped.in_a_row == 0
    assert skipped.scalars() == {"loss_scale": 1.0, "skipped_updates": 3}
    assert skipped.describe() == "3 updates skipped (fp16 loss scale now 1)"
    assert guard.diverged_at is None and skipped.stuck_at is None


def test_updates_skipped_without_end_stop_training_and_save_nothing_more(tmp_path):
    trainer = _trainer()
    manager = tf.train.CheckpointManager(trainer.checkpoint(), str(tmp_path), max_to_keep=10, checkpoint_name="ckpt")
    guard = cb.NanGuard()
    skipped = SkippedUpdates(trainer.optimizers(), guard)
    attempts = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: attempts.append(batch))
    _fit(trainer, 100, [_overflow(trainer, lambda i: i >= 2), guard, skipped, count,
                        cb.StepCheckpoint(manager, 1, guard)])
    assert len(attempts) == 2 + 30 and int(trainer.step) == 2
    assert skipped.stuck_at == 2 and guard.diverged_at == 2
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-1", "ckpt-2"]
    error = skipped.error("autoencoder", manager.latest_checkpoint)
    assert isinstance(error, UpdatesSkippedError) and isinstance(error, EXPECTED_ERRORS)
    assert str(error).startswith("autoencoder: 30 updates in a row skipped at step 2: the gradients are not finite "
                                 "even with the fp16 loss scale down to inf")
    assert f"the last good checkpoint {manager.latest_checkpoint} is kept" in str(error)


def test_without_loss_scaling_nothing_is_skipped_or_shown():
    trainer = _trainer(loss_scale=False)
    skipped = SkippedUpdates(trainer.optimizers(), cb.NanGuard())
    _fit(trainer, 2, [skipped])
    assert not skipped.active and skipped.skipped == 0 and skipped.scalars() == {}


@pytest.mark.parametrize("count,text", [(1, "1 update skipped"), (0, "0 updates skipped")])
def test_the_count_reads_as_english(count, text):
    skipped = SkippedUpdates(_trainer().optimizers(), cb.NanGuard())
    skipped.skipped = count
    assert skipped.describe() == f"{text} (fp16 loss scale now 32768)"
