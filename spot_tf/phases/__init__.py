"""The phase runner: runs the phases of a run in order (what the entry point's `phase` selects).

    run_phases(settings, "all")   # autoencoder, spot, export, linear_eval, knn_eval, (with
                                  # voc_dataset: voc07_finetune, voc07_svm), the random baselines of
                                  # them all, report

Each phase runs under its own precision (training phases: `mixed_precision`; export and evaluation:
`eval_precision`), so one phase's dtype policy never carries into the next. `mixed_precision=auto` is
resolved once, before config.json is written (spot_tf.run.precision), so the run records its choice.
"""
import contextlib
import time

import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.data.service import check_reachable
from spot_tf.phases import pretrain, transfer, voc, voc_segmentation
from spot_tf.run import saved_settings
from spot_tf.run.distribution import is_chief, make_strategy
from spot_tf.run.interruption import Interrupted
from spot_tf.run.lock import run_lock
from spot_tf.run.precision import resolve_training_precision
from spot_tf.training.callbacks import TrainingDivergedError

PHASES = {"autoencoder": pretrain.autoencoder, "spot": pretrain.spot, "export": transfer.export,
          "linear_eval": transfer.linear_eval, "knn_eval": transfer.knn_eval, "finetune": transfer.finetune,
          "voc07_finetune": voc.voc07_finetune, "voc07_svm": voc.voc07_svm, "voc_seg": voc_segmentation.voc_seg,
          "random_baselines": transfer.random_baselines, "report": transfer.report}
ALL = ("autoencoder", "spot", "export", "linear_eval", "knn_eval", "random_baselines", "report")
# What "all" adds when voc_dataset is set, before random_baselines.
VOC_PHASES = ("voc07_finetune", "voc07_svm")


def all_phases(settings):
    """The phases of "all": ALL, with the VOC phases when `voc_dataset` is set and voc_seg when
    `voc_seg_dataset` is."""
    extra = (VOC_PHASES if settings.data.voc_dataset else ()) + (("voc_seg",) if settings.data.voc_seg_dataset else ())
    at = ALL.index("random_baselines")
    return ALL[:at] + extra + ALL[at:]
# Errors that name their cause (a setting, file or record) and end a run with a message, not a traceback.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, TrainingDivergedError, Interrupted,
                   tf.errors.InvalidArgumentError, tf.errors.NotFoundError)


def run_phases(settings, phase, strategy=None):
    """Runs `phase` (a key of PHASES, or "all": all_phases in order) with `settings` (validated); logs
    each phase's wall time, and the times of all at the end."""
    phases = all_phases(settings) if phase == "all" else (phase,)
    if strategy is None:
        # First: MultiWorkerMirroredStrategy must exist before any other TF op runs.
        strategy = make_strategy(settings.training.strategy)
    # Once, before config.json is written: the run records the precision `auto` chose here.
    settings = resolve_training_precision(settings)
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
        seconds = {}
        for name in phases:
            logging.info("phase %s", name)
            start = time.monotonic()
            if name in pretrain.PHASES:
                PHASES[name](settings, strategy)
            else:
                # Every worker: the probes and fine-tuning train under the strategy; the others run on the chief.
                PHASES[name](settings, info, strategy)
            # The training phases wrote it as they started; the others once they have succeeded.
            if chief:
                saved_settings.write(settings)
            seconds[name] = time.monotonic() - start
            logging.info("phase %s took %s", name, duration(seconds[name]))
        if len(seconds) > 1:
            logging.info("phase times: %s; total %s (mixed_precision=%s)",
                         ", ".join(f"{name} {duration(s)}" for name, s in seconds.items()),
                         duration(sum(seconds.values())), settings.training.mixed_precision)
    return seconds


def duration(seconds):
    """`seconds` as "414 s (6 min 54 s)", or "27 s" under a minute."""
    whole = round(seconds)
    return f"{whole} s ({whole // 60} min {whole % 60} s)" if whole >= 60 else f"{whole} s"
