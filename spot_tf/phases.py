"""Runs the phases of a spot-tf run in order (what train_spot.py's --phase selects)."""
import json
import os

import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf import visualize
from spot_tf.models import CheckpointMismatchError
from spot_tf.training import runner
from spot_tf.training.callbacks import TrainingDivergedError
from spot_tf.training.checkpoint import restore_spot_model
from spot_tf.training.distribution import is_chief, make_strategy
from spot_tf.transfer import export_saved_model, load_feature_extractor, run_finetune, run_linear_eval

# Errors that name their cause (a flag, file or record) and end a run with a message, not a traceback.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, TrainingDivergedError, CheckpointMismatchError,
                   tf.errors.InvalidArgumentError, tf.errors.NotFoundError)
ALL = ("autoencoder", "spot", "export", "linear_eval")
GRID_IMAGES = 8


def run_phases(cfg, phase, strategy=None):
    """Runs `phase` ("all" = autoencoder, spot, export, linear_eval) with the settings `cfg`."""
    phases = ALL if phase == "all" else (phase,)
    if strategy is None:
        # First: MultiWorkerMirroredStrategy must exist before any other TF op runs.
        strategy = make_strategy(cfg.strategy)
    # Refuse a missing path, an empty folder or an unknown TFDS name before anything trains.
    info = spot_data.describe_dataset(cfg.dataset, tfds_data_dir=cfg.tfds_data_dir, cache_dir=cfg.data_cache_dir)
    for name in phases:
        logging.info("phase %s", name)
        if name in ("autoencoder", "spot"):
            TRAINING[name](cfg, strategy)
        elif is_chief(strategy):
            # Transfer runs on one device of the chief: it is cheap next to the unsupervised phases.
            TRANSFER[name](cfg, info)


def _spot(cfg, strategy):
    runner.train_spot(cfg, strategy)
    if is_chief(strategy):
        write_repair_grid(cfg)


def write_repair_grid(cfg, path=None):
    """PNG of test images, the same with the dropped feature cells tinted red, and their repairs."""
    model, _ = restore_spot_model(os.path.join(cfg.model_dir, "spot"), cfg.image_size, cfg.ae_depth,
                                  use_ema=cfg.export_ema, **runner.spot_model_kwargs(cfg))
    images = runner.sample_images(cfg, GRID_IMAGES)
    out = model(images, training=False, seed=tf.constant([cfg.seed, 0]))
    path = path or os.path.join(cfg.model_dir, "spot", "real_vs_repaired.png")
    tf.io.write_file(path, tf.io.encode_png(visualize.real_vs_repaired_grid(images, out["repaired"], out["mask"])))
    logging.info("wrote %s (rows: input, dropped cells in red, repaired)", path)
    return path


def export_dir(cfg):
    return cfg.export_dir or os.path.join(cfg.model_dir, "export")


def _export(cfg, info):
    model, prefix = restore_spot_model(os.path.join(cfg.model_dir, "spot"), cfg.image_size, cfg.ae_depth,
                                       use_ema=cfg.export_ema, **runner.spot_model_kwargs(cfg))
    path = export_saved_model(model.discriminator, export_dir(cfg), cfg.image_size)
    logging.info("exported %s (from %s%s) to %s", "conv_1..conv_5", prefix, ", EMA weights" if cfg.export_ema else "",
                 path)


def _eval_source(cfg):
    return cfg.eval_source or os.path.join(cfg.model_dir, "spot")


def _labelled(cfg, split, training):
    size = cfg.eval_image_size or cfg.image_size
    return spot_data.make_dataset(cfg.dataset, split, size, cfg.eval_batch_size or cfg.batch_size, training=training,
                                  seed=cfg.seed, tfds_data_dir=cfg.tfds_data_dir, cache_dir=cfg.data_cache_dir,
                                  with_labels=True, strict_decode=cfg.strict_decode)


def _linear_eval(cfg, info):
    features = load_feature_extractor(_eval_source(cfg), cfg.image_size, cfg.ae_depth, use_ema=cfg.export_ema,
                                      **runner.spot_model_kwargs(cfg))
    out_dir = os.path.join(cfg.model_dir, "linear_eval")
    results = run_linear_eval(features, _labelled(cfg, "train", True), _labelled(cfg, "test", False),
                              info.num_classes, out_dir, epochs=1, steps_per_epoch=max(1, cfg.eval_steps))
    logging.info("linear_eval (%s): %s", features.source, json.dumps(results))


def _finetune(cfg, info):
    features = load_feature_extractor(_eval_source(cfg), cfg.image_size, cfg.ae_depth, use_ema=cfg.export_ema,
                                      **runner.spot_model_kwargs(cfg))
    if features.discriminator is None:
        raise ValueError(f"--eval_source={_eval_source(cfg)}: finetune trains conv layers, so it needs a checkpoint "
                         f"(this port's or an original TF1 one), not a SavedModel")
    out_dir = os.path.join(cfg.model_dir, f"finetune_conv{cfg.finetune_layers}")
    results = run_finetune(features.discriminator, _labelled(cfg, "train", True), _labelled(cfg, "test", False),
                           info.num_classes, out_dir, finetune_layers=cfg.finetune_layers,
                           steps=max(1, cfg.eval_steps), image_size=cfg.eval_image_size or cfg.image_size,
                           seed=cfg.seed)
    logging.info("finetune (%d conv layers trained): %s", cfg.finetune_layers, json.dumps(results))


TRAINING = {"autoencoder": runner.train_autoencoder, "spot": _spot}
TRANSFER = {"export": _export, "linear_eval": _linear_eval, "finetune": _finetune}
