"""The transfer phases: SavedModel export, linear probes and fine-tuning of the discriminator.

They run under the `eval_precision` policy (float32 unless asked otherwise), whatever precision the
training phases used.
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
from spot_tf.transfer import export_saved_model, load_feature_extractor, run_finetune, run_linear_eval


def export(settings, info):
    """The discriminator of model_dir/spot as a SavedModel in `export_dir` (default model_dir/export)."""
    use_ema = settings.evaluation.export_ema
    with precision(settings.evaluation.eval_precision):
        model, prefix = checkpoints.restore_spot_model(phase_dir(settings.model_dir, "spot"), settings.model,
                                                       use_ema=use_ema, setting="model_dir")
        path = export_saved_model(model.discriminator, export_dir(settings), settings.model.image_size)
    logging.info("exported conv_1..conv_5 (from %s%s) to %s", prefix, ", EMA weights" if use_ema else "", path)


def _labelled(settings, split, training, skips):
    data = settings.data
    return spot_data.make_dataset(data.dataset, split, settings.eval_image_size, settings.eval_batch_size,
                                  training=training, seed=settings.training.seed, tfds_data_dir=data.tfds_data_dir,
                                  cache_dir=data.data_cache_dir, with_labels=True, strict_decode=data.strict_decode,
                                  skip_report=skips)


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
    return load_feature_extractor(eval_source(settings), settings.model, use_ema=settings.evaluation.export_ema)


def linear_eval(settings, info):
    """Linear probes on frozen conv_1..conv_5 of `eval_source`, into model_dir/linear_eval."""
    with precision(settings.evaluation.eval_precision), _counting_skips(settings, "linear_eval") as skips:
        features = _features(settings)
        results = run_linear_eval(features, _labelled(settings, "train", True, skips),
                                  _labelled(settings, "test", False, skips), info.num_classes,
                                  phase_dir(settings.model_dir, "linear_eval"), epochs=1,
                                  steps_per_epoch=max(1, settings.evaluation.eval_steps))
    logging.info("linear_eval (%s): %s", features.source, json.dumps(results))


def finetune(settings, info):
    """The original's conv_5 classifier, top `finetune_layers` conv layers trained, into
    model_dir/finetune_conv<N>."""
    evaluation = settings.evaluation
    phase = f"finetune_conv{evaluation.finetune_layers}"
    with precision(evaluation.eval_precision), _counting_skips(settings, phase) as skips:
        features = _features(settings)
        if features.discriminator is None:
            raise SettingError("eval_source", eval_source(settings), "finetune trains conv layers, so it needs a "
                               "checkpoint (this port's or an original TF1 one), not a SavedModel")
        results = run_finetune(features.discriminator, _labelled(settings, "train", True, skips),
                               _labelled(settings, "test", False, skips), info.num_classes,
                               phase_dir(settings.model_dir, phase),
                               finetune_layers=evaluation.finetune_layers, steps=max(1, evaluation.eval_steps),
                               image_size=settings.eval_image_size, seed=settings.training.seed)
    logging.info("finetune (%d conv layers trained): %s", evaluation.finetune_layers, json.dumps(results))
