"""Runs the autoencoder and spot phases: strategy, data, model, restore/resume, fit, checkpoints."""
import os
import shutil
import tempfile

import keras
import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.config import MIXED_PRECISION
from spot_tf.models import Autoencoder, SpotModel
from spot_tf.training import callbacks as cb
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.training.checkpoint import is_tf1_checkpoint, resolve_checkpoint
from spot_tf.training.distribution import is_chief, make_strategy, scalar_value
from spot_tf.training.optimization import linear_policy, make_adam
from spot_tf.training.spot_trainer import SpotTrainer

SAMPLE_IMAGES = 16


def set_precision(mixed_precision):
    """Sets the global Keras dtype policy from --mixed_precision (none, bf16, fp16)."""
    keras.mixed_precision.set_global_policy(MIXED_PRECISION[mixed_precision] or "float32")


def phase_dir(cfg, phase):
    return os.path.join(cfg.model_dir, phase)


def _train_dataset(cfg, strategy, start_step):
    def dataset_fn(input_context):
        # Offset by the start step so that a resumed run does not replay the first batches.
        return spot_data.make_dataset(
            cfg.dataset, "unsupervised", cfg.image_size, cfg.batch_size, training=True,
            seed=cfg.seed + start_step, tfds_data_dir=cfg.tfds_data_dir, cache_dir=cfg.data_cache_dir,
            input_context=input_context, strict_decode=cfg.strict_decode)
    return strategy.distribute_datasets_from_function(dataset_fn)


def sample_images(cfg, count=SAMPLE_IMAGES):
    """The first `count` test images (a fixed batch for image summaries and grids)."""
    ds = spot_data.make_dataset(cfg.dataset, "test", cfg.image_size, count, training=False,
                                seed=cfg.seed, tfds_data_dir=cfg.tfds_data_dir, cache_dir=cfg.data_cache_dir)
    images = next(iter(ds))
    return images[0] if isinstance(images, (tuple, list)) else images


def _checkpoint_manager(checkpoint, directory, chief, keep):
    # Every worker saves (reading synced variables can be collective); non-chiefs to a scratch dir.
    if not chief:
        directory = tempfile.mkdtemp(prefix="spot_tf_worker_ckpt_")
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep, checkpoint_name="ckpt")


def _fit(cfg, strategy, trainer, total_steps, directory, image_fn, histogram_network):
    """Resumes from the latest checkpoint in `directory` and trains up to `total_steps`."""
    chief = is_chief(strategy)
    with strategy.scope():
        manager = _checkpoint_manager(trainer.checkpoint(), directory, chief, cfg.keep_checkpoints)
        latest = tf.train.latest_checkpoint(directory)
        if latest:
            trainer.checkpoint().restore(latest).assert_existing_objects_matched()
            logging.info("resuming from %s", latest)
    start = scalar_value(trainer.step)
    if start >= total_steps:
        logging.info("%s: already at step %d of %d, nothing to do", directory, start, total_steps)
        return start
    writer = (tf.summary.create_file_writer(os.path.join(directory, "logs")) if chief
              else tf.summary.create_noop_writer())
    guard = cb.NanGuard()
    callbacks = [guard,
                 cb.TensorBoardSummaries(writer, cfg.summary_every, sample_images(cfg), image_fn,
                                         cb.weight_histograms(histogram_network)),
                 cb.StepCheckpoint(manager, cfg.checkpoint_every, guard)]
    trainer.fit(_train_dataset(cfg, strategy, start), epochs=1, steps_per_epoch=total_steps - start,
                callbacks=callbacks, verbose=1, shuffle=False)
    if not chief:
        shutil.rmtree(manager.directory, ignore_errors=True)
    logging.info("%s: step %d, weights checksum %.10e", directory, scalar_value(trainer.step),
                 weights_checksum(trainer.trainable_variables))
    if guard.diverged_at is not None:
        raise cb.TrainingDivergedError(
            f"training diverged at step {guard.diverged_at} ({guard.bad_values}); the last good checkpoint "
            f"{tf.train.latest_checkpoint(directory)} is kept. Lower --learning_rate or check the data.")
    return scalar_value(trainer.step)


def weights_checksum(variables):
    """Sum of all weights in float64: equal on every worker of a synchronous run."""
    return float(sum(tf.reduce_sum(tf.cast(v, tf.float64)) for v in variables))


def train_autoencoder(cfg, strategy=None):
    """Phase 1: trains encoder + decoder for --ae_steps into model_dir/autoencoder."""
    strategy = strategy or make_strategy(cfg.strategy)
    set_precision(cfg.mixed_precision)
    with strategy.scope():
        trainer = build_autoencoder_trainer(cfg)
    return _fit(cfg, strategy, trainer, cfg.ae_steps, phase_dir(cfg, "autoencoder"),
                cb.autoencoder_images(trainer.model), trainer.model)


def build_autoencoder_trainer(cfg):
    """The compiled phase-1 trainer (call inside the strategy scope, after `set_precision`)."""
    model = Autoencoder(cfg.ae_depth, name="autoencoder")
    trainer = AutoencoderTrainer(model)
    trainer.build_for(cfg.image_size)
    trainer.compile(make_adam(linear_policy(cfg.learning_rate, cfg.ae_steps), cfg.mixed_precision == "fp16"),
                    jit_compile=cfg.xla)
    return trainer


def restore_autoencoder(model, cfg):
    """Loads phase 1 into a SpotModel: --ae_checkpoint (this port's or an original TF1 one), else
    the latest checkpoint in model_dir/autoencoder."""
    source = cfg.ae_checkpoint or phase_dir(cfg, "autoencoder")
    try:
        prefix = resolve_checkpoint(source, "autoencoder")
    except FileNotFoundError as err:
        raise FileNotFoundError(f"the spot phase needs a trained autoencoder: {err}. Run --phase=autoencoder "
                                f"first or pass --ae_checkpoint") from err
    if is_tf1_checkpoint(prefix):
        model.load_tf1_checkpoint(prefix, include=("encoder", "decoder"))
    else:
        tf.train.Checkpoint(model=model.autoencoder).read(prefix).expect_partial().assert_existing_objects_matched()
    logging.info("autoencoder restored from %s", prefix)


def spot_model_kwargs(cfg):
    """The SpotModel architecture arguments set by flags (besides image_size and ae_depth)."""
    return dict(keep_prob=cfg.keep_prob, disc_padding=cfg.disc_padding, repair_preactivation=cfg.repair_preactivation)


def build_spot_model(cfg):
    return SpotModel(image_size=cfg.image_size, ae_depth=cfg.ae_depth, sync_batch_norm=cfg.sync_batch_norm,
                     name="spot_model", **spot_model_kwargs(cfg))


def build_spot_trainer(cfg):
    """The compiled phase-2 trainer, autoencoder not yet restored (call inside the strategy scope,
    after `set_precision`)."""
    model = build_spot_model(cfg)
    trainer = SpotTrainer(model, generator_loss=cfg.generator_loss, seed=cfg.seed)
    loss_scale = cfg.mixed_precision == "fp16"
    trainer.compile(make_adam(linear_policy(cfg.learning_rate, cfg.spot_steps), loss_scale),
                    make_adam(linear_policy(cfg.learning_rate, cfg.spot_steps), loss_scale),
                    jit_compile=cfg.xla)
    return trainer


def train_spot(cfg, strategy=None):
    """Phase 2: restores the autoencoder, trains repair network + discriminator into model_dir/spot."""
    strategy = strategy or make_strategy(cfg.strategy)
    set_precision(cfg.mixed_precision)
    directory = phase_dir(cfg, "spot")
    with strategy.scope():
        trainer = build_spot_trainer(cfg)
        model = trainer.model
        if not tf.train.latest_checkpoint(directory):
            restore_autoencoder(model, cfg)
    return _fit(cfg, strategy, trainer, cfg.spot_steps, directory, cb.spot_images(model), model.discriminator)
