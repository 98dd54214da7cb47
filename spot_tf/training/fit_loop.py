"""Trains one phase with `fit()`: resume from the phase folder, train to the step count, checkpoint.

The trainer's global step decides everything: a rerun restores the newest readable `ckpt-N`, and
trains the remaining steps on data offset by the resumed step, so it draws what an uninterrupted run
would have. The step counts applied updates: a phase trains until it has applied its steps, however
many updates fp16 loss scaling skipped on the way.
"""
import shutil
import tempfile

import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.data.service import job_name
from spot_tf.run import interruption
from spot_tf.run.checkpoint_files import newest_readable, remove_temp_leftovers
from spot_tf.run.distribution import is_chief, scalar_value
from spot_tf.run.folder import CHECKPOINT_NAME, logs_dir, phase_dir
from spot_tf.training import callbacks as cb
from spot_tf.training.skipped_updates import SkippedUpdates


def unsupervised_batches(settings, phase):
    """The `batches` of the unsupervised phase `phase`: their split, seeded by the seed and the step it starts at."""
    data = settings.data

    def batches(input_context, start_step, skip_report):
        # Offset by the start step so that a resumed run does not replay the first batches.
        return spot_data.make_dataset(
            data.dataset, "unsupervised", settings.model.image_size, settings.training.batch_size, training=True,
            seed=settings.training.seed + start_step, tfds_data_dir=data.tfds_data_dir,
            cache_dir=data.data_cache_dir, input_context=input_context, strict_decode=data.strict_decode,
            skip_report=skip_report, fused_decode=data.fused_decode,
            **service_job(settings, phase, start_step, training=True))
    return batches


def service_job(settings, phase, start_step, training):
    """make_dataset's `data_service` and `service_job` for one fit() of `phase` ({} without a service).

    Only training batches go through the service: evaluation reads its split once, in file order.
    """
    if not (settings.data.data_service and training):
        return {}
    return dict(data_service=settings.data.data_service,
                service_job=job_name(settings.model_dir, phase, start_step))


def _checkpoint_manager(checkpoint, directory, chief, keep):
    # Every worker saves (reading synced variables can be collective); non-chiefs to a scratch dir.
    if not chief:
        directory = tempfile.mkdtemp(prefix="spot_tf_worker_ckpt_")
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep, checkpoint_name=CHECKPOINT_NAME)


def weights_checksum(variables):
    """Sum of all weights in float64: equal on every worker of a synchronous run."""
    return float(sum(tf.reduce_sum(tf.cast(v, tf.float64)) for v in variables))


def fit_to_step(trainer, total_steps, dataset_at, callbacks, skipped, directory):
    """fit() until the global step reaches `total_steps`, or a callback stops training.

    The step counts applied updates and fit() counts train steps, so updates skipped by fp16 loss
    scaling leave a fit() of `total_steps - step` train steps short. fit() then trains on for the
    rest, on data offset by the step reached (as a rerun resumed there would). This ends: every such
    fit() applies an update (the rest shrinks) or skips them all (adding to the updates skipped in a
    row, which SkippedUpdates stops at its limit). A fit() that skipped nothing and still fell short
    ran out of data, and is not repeated.

    Args:
        trainer: The compiled PhaseTrainer.
        total_steps: The step to reach.
        dataset_at: `(step) -> the training dataset` of a fit() that starts at `step`.
        callbacks: The callbacks of every fit(), `skipped` among them.
        skipped: The SkippedUpdates callback.
        directory: The phase folder (names the phase in the log).
    """
    step = scalar_value(trainer.step)
    while True:
        skipped_before = skipped.skipped
        trainer.fit(dataset_at(step), epochs=1, steps_per_epoch=total_steps - step, callbacks=callbacks, verbose=1,
                    shuffle=False)
        step = scalar_value(trainer.step)
        if (trainer.stop_training or step >= total_steps or interruption.requested()
                or skipped.skipped == skipped_before):
            return
        logging.info("%s: step %d of %d, %s: training on", directory, step, total_steps, skipped.describe())


def fit_phase(settings, strategy, trainer, phase, total_steps, batches, summaries=None, skips=None):
    """Resumes `trainer` from model_dir/<phase> and trains it up to `total_steps`.

    Args:
        settings: The run's RunSettings.
        strategy: The tf.distribute strategy the trainer was built under.
        trainer: A compiled PhaseTrainer (`step`, `checkpoint()`, `optimizers()`).
        phase: The folder of its checkpoints and logs ("autoencoder", "spot", "linear_eval", ...).
        total_steps: The step to train to.
        batches: `(input_context, start_step, skip_report) -> dataset`: one input pipeline's batches
            of a fit() that starts at `start_step` (distributed here).
        summaries: TensorBoardSummaries' image and histogram arguments ({} or None: scalars only).
        skips: The SkipReport of the training data, if the caller reports it; else one is made and
            reported here.

    Returns:
        The global step reached. Raises TrainingDivergedError (the last good checkpoint kept), or its
        UpdatesSkippedError when fp16 loss scaling skips updates without end.
    """
    directory = phase_dir(settings.model_dir, phase)
    training = settings.training
    chief = is_chief(strategy)
    if chief:
        remove_temp_leftovers(directory)
    with strategy.scope():
        manager = _checkpoint_manager(trainer.checkpoint(), directory, chief, training.keep_checkpoints)
        # Found by scanning, not through the `checkpoint` index file, which may be lost or name a cut save.
        latest = newest_readable(directory)
        if latest:
            trainer.checkpoint().restore(latest).assert_existing_objects_matched()
            logging.info("resuming from %s", latest)
    start = scalar_value(trainer.step)
    if start >= total_steps:
        logging.info("%s: already at step %d of %d, nothing to do", directory, start, total_steps)
        return start
    writer = tf.summary.create_file_writer(logs_dir(settings.model_dir, phase)) if chief \
        else tf.summary.create_noop_writer()
    guard = cb.NanGuard()
    skipped = SkippedUpdates(trainer.optimizers(), guard)
    # In this order: the guards first, so that nothing is written at a step where one trips.
    callbacks = [guard, skipped, cb.TensorBoardSummaries(writer, training.summary_every, scalars=skipped.scalars,
                                                         **(summaries or {})),
                 cb.StepCheckpoint(manager, training.checkpoint_every, guard)]
    reported_here = skips is None
    skips = skips or spot_data.SkipReport()

    def dataset_at(step):
        return strategy.distribute_datasets_from_function(lambda context: batches(context, step, skips))

    # A signal now stops training at a step boundary, with a checkpoint, instead of anywhere.
    with interruption.deferred(), skips.raise_setting_errors():
        fit_to_step(trainer, total_steps, dataset_at, callbacks, skipped, directory)
    if reported_here:
        skips.write(writer, scalar_value(trainer.step), directory)
    if not chief:
        shutil.rmtree(manager.directory, ignore_errors=True)
    logging.info("%s: step %d, weights checksum %.10e", directory, scalar_value(trainer.step),
                 weights_checksum(trainer.trainable_variables))
    if skipped.active:
        logging.info("%s: step %d, %s", phase, scalar_value(trainer.step), skipped.describe())
    if interruption.requested():
        raise interruption.Interrupted(
            f"stopped by {interruption.requested()} at step {scalar_value(trainer.step)}: "
            f"{manager.latest_checkpoint} saved; rerun the same command to resume")
    if skipped.stuck_at is not None:
        raise skipped.error(phase, manager.latest_checkpoint)
    if guard.diverged_at is not None:
        raise cb.TrainingDivergedError(
            f"training diverged at step {guard.diverged_at} ({guard.bad_values}); the last good checkpoint "
            f"{manager.latest_checkpoint} is kept. Lower the learning_rate or check the data.")
    return scalar_value(trainer.step)
