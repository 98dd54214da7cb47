"""The phase runner: runs the phases of a run in order (what the entry point's `phase` selects).

    run_phases(settings, "all")   # autoencoder, spot, export, linear_eval, knn_eval, the random
                                  # baselines of both, report

Each phase runs under its own precision (training phases: `mixed_precision`; export and evaluation:
`eval_precision`), so one phase's dtype policy never carries into the next.
"""
import contextlib

import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.data.service import check_reachable
from spot_tf.phases import pretrain, transfer
from spot_tf.run import saved_settings
from spot_tf.run.distribution import is_chief, make_strategy
from spot_tf.run.interruption import Interrupted
from spot_tf.run.lock import run_lock
from spot_tf.training.callbacks import TrainingDivergedError

PHASES = {"autoencoder": pretrain.autoencoder, "spot": pretrain.spot, "export": transfer.export,
          "linear_eval": transfer.linear_eval, "knn_eval": transfer.knn_eval, "finetune": transfer.finetune,
          "random_baselines": transfer.random_baselines, "report": transfer.report}
ALL = ("autoencoder", "spot", "export", "linear_eval", "knn_eval", "random_baselines", "report")
# Errors that name their cause (a setting, file or record) and end a run with a message, not a traceback.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, TrainingDivergedError, Interrupted,
                   tf.errors.InvalidArgumentError, tf.errors.NotFoundError)


def run_phases(settings, phase, strategy=None):
    """Runs `phase` (a key of PHASES, or "all": ALL in order) with `settings` (validated)."""
    phases = ALL if phase == "all" else (phase,)
    if strategy is None:
        # First: MultiWorkerMirroredStrategy must exist before any other TF op runs.
        strategy = make_strategy(settings.training.strategy)
    if settings.training.deterministic:
        # Deterministic kernels and tf.data order (input stages then run one at a time).
        tf.config.experimental.enable_op_determinism()
    data = settings.data
    # Refuse a missing path, an empty folder or an unknown TFDS name before anything is written.
    info = spot_data.describe_dataset(data.dataset, tfds_data_dir=data.tfds_data_dir, cache_dir=data.data_cache_dir)
    if data.data_service:
        # tf.data would retry an unreachable dispatcher for an hour before saying so.
        check_reachable(data.data_service)
    chief = is_chief(strategy)
    # Only the chief writes to model_dir: the workers of one run do not lock each other out.
    with run_lock(settings.model_dir) if chief else contextlib.nullcontext():
        if chief and saved_settings.write(settings):
            logging.info("settings of the run written to %s/config.json", settings.model_dir)
        for name in phases:
            logging.info("phase %s", name)
            if name in pretrain.PHASES:
                PHASES[name](settings, strategy)
            else:
                # Every worker: the probes and fine-tuning train under the strategy; the others run on the chief.
                PHASES[name](settings, info, strategy)
