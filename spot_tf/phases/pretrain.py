"""The unsupervised phases: the autoencoder (phase 1), then the repair network and discriminator (phase 2)."""
import os

import tensorflow as tf
from absl import logging

from spot_tf import visualize
from spot_tf.errors import SettingPathError
from spot_tf.run import checkpoints
from spot_tf.run.checkpoint_files import checkpoint_steps
from spot_tf.run.distribution import is_chief
from spot_tf.run.folder import autoencoder_source, phase_dir
from spot_tf.run.precision import precision
from spot_tf.training.builders import build_autoencoder_trainer, build_spot_trainer
from spot_tf.training.fit_loop import fit_phase, unsupervised_batches
from spot_tf.training.image_summaries import autoencoder_images, sample_images, spot_images, weight_histograms

PHASES = ("autoencoder", "spot")
GRID_IMAGES = 8


def autoencoder(settings, strategy=None):
    """Phase 1: trains encoder + decoder for `ae_steps` into model_dir/autoencoder. Returns the step."""
    strategy = strategy or tf.distribute.get_strategy()
    with precision(settings.training.mixed_precision):
        with strategy.scope():
            trainer = build_autoencoder_trainer(settings)
        summaries = dict(sample_images=sample_images(settings), image_fn=autoencoder_images(trainer.model),
                         histogram_variables=weight_histograms(trainer.model))
        return fit_phase(settings, strategy, trainer, "autoencoder", settings.training.ae_steps,
                         unsupervised_batches(settings, "autoencoder"), summaries)


def spot(settings, strategy=None):
    """Phase 2: the frozen autoencoder restored, trains repair network + discriminator for `spot_steps`
    into model_dir/spot, then writes the real-vs-repaired grid. Returns the step."""
    strategy = strategy or tf.distribute.get_strategy()
    directory = phase_dir(settings.model_dir, "spot")
    with precision(settings.training.mixed_precision):
        with strategy.scope():
            trainer = build_spot_trainer(settings)
            model = trainer.model
            if not checkpoint_steps(directory):
                restore_autoencoder(model, settings)
        summaries = dict(sample_images=sample_images(settings), image_fn=spot_images(model),
                         histogram_variables=weight_histograms(model.discriminator))
        step = fit_phase(settings, strategy, trainer, "spot", settings.training.spot_steps,
                         unsupervised_batches(settings, "spot"), summaries)
    if is_chief(strategy):
        write_repair_grid(settings)
    return step


def restore_autoencoder(model, settings):
    """Loads phase 1 into a SpotModel: `ae_checkpoint` (this port's or an original TF1 one), else the
    latest checkpoint in model_dir/autoencoder."""
    source = autoencoder_source(settings)
    if not settings.training.ae_checkpoint and not checkpoint_steps(source):
        raise SettingPathError(
            "ae_checkpoint", source, "the spot phase needs a trained autoencoder and there is no checkpoint "
            "there: run the autoencoder phase first, or point ae_checkpoint at one")
    prefix = checkpoints.restore(model, source, "autoencoder", setting="ae_checkpoint")
    logging.info("autoencoder restored from %s", prefix)


def write_repair_grid(settings, path=None):
    """PNG of test images, the same with the dropped feature cells tinted red, and their repairs."""
    with precision(settings.evaluation.eval_precision):
        model, _ = checkpoints.restore_spot_model(phase_dir(settings.model_dir, "spot"), settings.model,
                                                  use_ema=settings.evaluation.export_ema)
        images = sample_images(settings, GRID_IMAGES)
        out = model(images, training=False, seed=tf.constant([settings.training.seed, 0]))
    path = path or os.path.join(phase_dir(settings.model_dir, "spot"), "real_vs_repaired.png")
    tf.io.write_file(path, tf.io.encode_png(visualize.real_vs_repaired_grid(images, out["repaired"], out["mask"])))
    logging.info("wrote %s (rows: input, dropped cells in red, repaired)", path)
    return path
