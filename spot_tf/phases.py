"""Runs the phases of a spot-tf run in order (what train_spot.py's --phase selects)."""
import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.models import CheckpointMismatchError
from spot_tf.training import runner
from spot_tf.training.callbacks import TrainingDivergedError
from spot_tf.training.distribution import make_strategy

# Errors that name their cause (a flag, file or record) and end a run with a message, not a traceback.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, TrainingDivergedError, CheckpointMismatchError,
                   tf.errors.InvalidArgumentError, tf.errors.NotFoundError)
ALL = ("autoencoder", "spot", "export", "linear_eval")


def run_phases(cfg, phase, strategy=None):
    """Runs `phase` ("all" = autoencoder, spot, export, linear_eval) with the settings `cfg`."""
    phases = ALL if phase == "all" else (phase,)
    # Refuse a missing path, an empty folder or an unknown TFDS name before anything trains.
    spot_data.describe_dataset(cfg.dataset, tfds_data_dir=cfg.tfds_data_dir, cache_dir=cfg.data_cache_dir)
    if strategy is None and ({"autoencoder", "spot"} & set(phases)):
        strategy = make_strategy(cfg.strategy)
    for name in phases:
        logging.info("phase %s", name)
        PHASES[name](cfg, strategy)


def _autoencoder(cfg, strategy):
    runner.train_autoencoder(cfg, strategy)


def _spot(cfg, strategy):
    runner.train_spot(cfg, strategy)


PHASES = {"autoencoder": _autoencoder, "spot": _spot}
