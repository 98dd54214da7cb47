"""The transfer phases: SavedModel export, linear probes, k-NN and fine-tuning of the discriminator.

Each is `phase(settings, info, strategy)`: `info` describes the dataset, `strategy` is a local
tf.distribute strategy (or None) that k-NN computes its feature bank under; the others run on one
device for now. They run under the `eval_precision` policy (float32 unless asked otherwise),
whatever precision the training phases used.
"""
import contextlib
import json

import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.errors import SettingError
from spot_tf.run import checkpoints
from spot_tf.run.folder import eval_source, export_dir, logs_dir, phase_dir
from spot_tf.run.precision import precision
from spot_tf.transfer import export_saved_model, load_feature_extractor, run_finetune, run_knn_eval, run_linear_eval
from spot_tf.transfer.feature_source import RANDOM
from spot_tf.transfer.finetune import FINETUNE_BATCH_SIZE, FINETUNE_STEPS
from spot_tf.transfer.run_report import write_run_report

# The linear probes' length when eval_steps is 0 (deepcluster's eval_linear).
PROBE_EPOCHS = 90


def export(settings, info, strategy=None):
    """The discriminator of model_dir/spot as a SavedModel in `export_dir` (default model_dir/export)."""
    use_ema = settings.evaluation.export_ema
    with precision(settings.evaluation.eval_precision):
        model, prefix = checkpoints.restore_spot_model(phase_dir(settings.model_dir, "spot"), settings.model,
                                                       use_ema=use_ema, setting="model_dir")
        path = export_saved_model(model.discriminator, export_dir(settings), settings.model.image_size)
    logging.info("exported conv_1..conv_5 (from %s%s) to %s", prefix, ", EMA weights" if use_ema else "", path)


def _labelled(settings, split, training, skips, batch_size):
    data = settings.data
    return spot_data.make_dataset(data.dataset, split, settings.eval_image_size, batch_size,
                                  training=training, seed=settings.training.seed, tfds_data_dir=data.tfds_data_dir,
                                  cache_dir=data.data_cache_dir, with_labels=True, strict_decode=data.strict_decode,
                                  skip_report=skips, fused_decode=data.fused_decode)


@contextlib.contextmanager
def _counting_skips(settings, phase):
    """A SkipReport for the phase's datasets; its summary is logged and written when the phase ends."""
    skips = spot_data.SkipReport()
    with skips.raise_setting_errors():
        yield skips
    writer = tf.summary.create_file_writer(logs_dir(settings.model_dir, phase))
    skips.write(writer, 0, phase_dir(settings.model_dir, phase))
    writer.close()


def _features(settings):
    return load_feature_extractor(eval_source(settings), settings.model, use_ema=settings.evaluation.export_ema,
                                  seed=settings.training.seed)


def _results_phase(settings, phase):
    """The folder of an evaluation's results: `<phase>_random` for the random baseline."""
    return f"{phase}_{RANDOM}" if eval_source(settings) == RANDOM else phase


def _probe_steps(settings, info, batch_size):
    """`eval_steps`, else PROBE_EPOCHS passes over the labelled training split."""
    if settings.evaluation.eval_steps:
        return settings.evaluation.eval_steps
    examples = info.num_examples.get("train")
    if not examples:
        raise SettingError("eval_steps", 0, f"the size of {settings.data.dataset}'s train split is not known "
                           f"(too large to count): give the number of probe steps")
    return PROBE_EPOCHS * max(1, examples // batch_size)


def linear_eval(settings, info, strategy=None):
    """Linear probes on frozen conv_1..conv_5 of `eval_source`, into model_dir/linear_eval (or
    linear_eval_random for the random baseline)."""
    batch_size = settings.evaluation.eval_batch_size or settings.training.batch_size
    steps = _probe_steps(settings, info, batch_size)
    phase = _results_phase(settings, "linear_eval")
    with precision(settings.evaluation.eval_precision), _counting_skips(settings, phase) as skips:
        features = _features(settings)
        results = run_linear_eval(features, _labelled(settings, "train", True, skips, batch_size),
                                  _labelled(settings, "test", False, skips, batch_size), info.num_classes,
                                  phase_dir(settings.model_dir, phase), epochs=1, steps_per_epoch=steps)
    logging.info("linear_eval (%s): %s", features.source, json.dumps(results))


def finetune(settings, info, strategy=None):
    """The original's conv_5 classifier, top `finetune_layers` conv layers trained, into
    model_dir/finetune_conv<N>: 15,600 steps of 128 unless eval_steps / eval_batch_size say otherwise."""
    evaluation = settings.evaluation
    phase = _results_phase(settings, f"finetune_conv{evaluation.finetune_layers}")
    with precision(evaluation.eval_precision), _counting_skips(settings, phase) as skips:
        features = _features(settings)
        if features.discriminator is None:
            raise SettingError("eval_source", eval_source(settings), "finetune trains conv layers, so it needs a "
                               "checkpoint (this port's or an original TF1 one), not a SavedModel")
        batch_size = evaluation.eval_batch_size or FINETUNE_BATCH_SIZE
        results = run_finetune(features.discriminator, _labelled(settings, "train", True, skips, batch_size),
                               _labelled(settings, "test", False, skips, batch_size), info.num_classes,
                               phase_dir(settings.model_dir, phase), finetune_layers=evaluation.finetune_layers,
                               steps=evaluation.eval_steps or FINETUNE_STEPS,
                               image_size=settings.eval_image_size, seed=settings.training.seed)
    logging.info("finetune (%d conv layers trained): %s", evaluation.finetune_layers, json.dumps(results))


def knn_eval(settings, info, strategy=None):
    """Weighted k-NN (k 20, cosine, T 0.07) on the pooled frozen conv_1..conv_5 of `eval_source`,
    into model_dir/knn_eval (knn_eval_random for the random baseline): no training."""
    batch_size = settings.evaluation.eval_batch_size or settings.training.batch_size
    phase = _results_phase(settings, "knn_eval")
    with precision(settings.evaluation.eval_precision), _counting_skips(settings, phase) as skips:
        features = _features(settings)
        # Both splits once, with the test pre-processing: the bank holds the training images as they are.
        results = run_knn_eval(features, _labelled(settings, "train", False, skips, batch_size),
                               _labelled(settings, "test", False, skips, batch_size), info.num_classes,
                               phase_dir(settings.model_dir, phase), strategy=strategy,
                               extra={"dataset": settings.data.dataset, "image_size": settings.eval_image_size})
    logging.info("knn_eval (%s): %s", features.source, json.dumps(results))


def random_baselines(settings, info, strategy=None):
    """linear_eval and knn_eval of the random baseline (the paper's random row), for the report."""
    baseline = settings.replace(eval_source=RANDOM)
    linear_eval(baseline, info, strategy)
    knn_eval(baseline, info, strategy)


def report(settings, info=None, strategy=None):
    """model_dir/report.md and report.png: trained against random, linear and k-NN, per conv layer."""
    paths = write_run_report(settings.model_dir)
    if paths is None:
        logging.warning("no report: %s has no evaluation with its random baseline beside it", settings.model_dir)
    else:
        logging.info("wrote %s and %s", paths["report.md"], paths["report.png"])
