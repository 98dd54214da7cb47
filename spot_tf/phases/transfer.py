"""The transfer phases: SavedModel export, linear probes, k-NN, fine-tuning, random baselines, report.

Each is `phase(settings, info, strategy)`: `info` describes the dataset, `strategy` is the run's. The
probes and the fine-tuning train with fit() under it on every worker, resume from their own
checkpoints (model_dir/<phase>/ckpt-N) and test with evaluate(); only the chief writes. Export,
k-NN and the report run on the chief (k-NN under a local strategy). All run under the
`eval_precision` policy (float32 unless asked otherwise), whatever the training phases used.
"""
import contextlib
import functools
import json
import os

import tensorflow as tf
from absl import logging

from spot_tf import data as spot_data
from spot_tf.errors import SettingError
from spot_tf.run import checkpoints
from spot_tf.run.distribution import is_chief, is_multi_worker
from spot_tf.run.folder import eval_source, export_dir, logs_dir, phase_dir
from spot_tf.run.precision import precision
from spot_tf.training.builders import build_finetune_trainer, build_probe_trainer
from spot_tf.training.finetune_trainer import FINETUNE_BATCH_SIZE, FINETUNE_STEPS
from spot_tf.training.fit_loop import fit_phase, service_job
from spot_tf.training.probe_protocols import IMAGENET_TRAIN_IMAGES, PROTOCOLS
from spot_tf.transfer import export_saved_model, load_feature_extractor, min_input_size, run_knn_eval
from spot_tf.transfer.feature_source import RANDOM
from spot_tf.transfer.report import results_text, write_report
from spot_tf.transfer.run_report import write_run_report


def chief_only(phase):
    """A phase the chief runs alone, under a local strategy (None under multi_worker); others skip it."""
    @functools.wraps(phase)
    def run(settings, info, strategy=None):
        strategy = strategy or tf.distribute.get_strategy()
        if not is_chief(strategy):
            return None
        return phase(settings, info, None if is_multi_worker(strategy) else strategy)
    return run


@chief_only
def export(settings, info, strategy=None):
    """The discriminator of model_dir/spot as a SavedModel in `export_dir` (default model_dir/export)."""
    use_ema = settings.evaluation.export_ema
    with precision(settings.evaluation.eval_precision):
        model, prefix = checkpoints.restore_spot_model(phase_dir(settings.model_dir, "spot"), settings.model,
                                                       use_ema=use_ema, setting="model_dir")
        path = export_saved_model(model.discriminator, export_dir(settings), settings.model.image_size)
    logging.info("exported conv_1..conv_5 (from %s%s) to %s", prefix, ", EMA weights" if use_ema else "", path)


def _labelled(settings, phase, split, training, image_size, batch_size, probe_protocol=None, ten_crop=False):
    """`(input_context, start_step, skip_report) -> dataset` of a labelled split, seeded by the seed and
    the step it starts at (the `batches` of fit_phase `phase`)."""
    data = settings.data

    def batches(input_context, start_step, skip_report):
        return spot_data.make_dataset(
            data.dataset, split, image_size, batch_size, training=training, seed=settings.training.seed + start_step,
            tfds_data_dir=data.tfds_data_dir, cache_dir=data.data_cache_dir, with_labels=True,
            input_context=input_context, strict_decode=data.strict_decode, skip_report=skip_report,
            fused_decode=data.fused_decode, probe_protocol=probe_protocol, ten_crop=ten_crop,
            **service_job(settings, phase, start_step, training))
    return batches


@contextlib.contextmanager
def _counting_skips(settings, phase, chief=True):
    """A SkipReport for the phase's datasets; its summary is logged and written (by the chief) at the end."""
    skips = spot_data.SkipReport()
    with skips.raise_setting_errors():
        yield skips
    if chief:
        writer = tf.summary.create_file_writer(logs_dir(settings.model_dir, phase))
        skips.write(writer, 0, phase_dir(settings.model_dir, phase))
        writer.close()


def _features(settings):
    return load_feature_extractor(eval_source(settings), settings.model, use_ema=settings.evaluation.export_ema,
                                  seed=settings.training.seed)


def _results_phase(settings, phase):
    """The folder of an evaluation's results: `<phase>_random` for the random baseline."""
    return f"{phase}_{RANDOM}" if eval_source(settings) == RANDOM else phase


def _train_images(settings, info):
    """The labelled training split's size; ImageNet's when it is too large to count (ImageNet TFRecords)."""
    count = info.num_examples.get("train")
    if not count:
        logging.info("%s: the train split is too large to count; the probe protocol takes it as ImageNet's "
                     "%d images", settings.data.dataset, IMAGENET_TRAIN_IMAGES)
    return count or IMAGENET_TRAIN_IMAGES


def _image_size(settings, image_size):
    """`image_size`, unless the discriminator cannot take it (SettingError naming eval_image_size)."""
    smallest = min_input_size(settings.model.disc_padding)
    if image_size < smallest:
        raise SettingError("eval_image_size", image_size, f"the discriminator ({settings.model.disc_padding} "
                           f"padding) needs images of at least {smallest} px")
    return image_size


def _probe_image_size(settings):
    """The probes' and k-NN's image size: `eval_image_size`, else the probe protocol's."""
    evaluation = settings.evaluation
    return _image_size(settings, evaluation.eval_image_size or PROTOCOLS[evaluation.probe_protocol].image_size)


# What a phase's checkpoints were trained on: a rerun resumes them only if all of it is the same.
IDENTITY = ("source", "protocol", "finetune_layers", "image_size", "batch_size", "num_classes")
IDENTITY_FILE = "evaluation.json"
# The setting that changes each part of the identity.
IDENTITY_SETTINGS = {"source": "eval_source", "protocol": "probe_protocol", "finetune_layers": "finetune_layers",
                     "image_size": "eval_image_size", "batch_size": "eval_batch_size", "num_classes": "dataset"}


def _claim(settings, phase, identity):
    """Records what model_dir/<phase> trains on, or refuses to resume checkpoints of something else."""
    path = os.path.join(phase_dir(settings.model_dir, phase), IDENTITY_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        for key in IDENTITY:
            if saved.get(key) != identity.get(key):
                setting = IDENTITY_SETTINGS[key]
                raise SettingError(setting, settings.flat().get(setting), (
                    f"{os.path.dirname(path)} holds checkpoints trained with {key} {saved.get(key)!r}, not "
                    f"{identity.get(key)!r}: rerun with the same settings to resume, or use another model_dir"))
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(identity, f, indent=2)


def _train_and_test(settings, strategy, phase, build, steps, train, test, evaluated, title):
    """Builds a classifier trainer in the strategy scope, fits it to `steps` (resuming from its checkpoints
    in model_dir/<phase>), tests it and writes results.json (chief). Returns the results."""
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    with precision(settings.evaluation.eval_precision), _counting_skips(settings, phase, chief) as skips:
        with strategy.scope():
            trainer, source = build()
        if chief:
            _claim(settings, phase, {key: value for key, value in {"source": source, **evaluated}.items()
                                     if key in IDENTITY})
        step = fit_phase(settings, strategy, trainer, phase, steps, train, skips=skips)
        test_batches = strategy.distribute_datasets_from_function(lambda context: test(context, 0, skips))
        results = trainer.test_results(test_batches)
    if chief:
        evaluated = {"source": source, **evaluated, "steps": int(step), "dataset": settings.data.dataset}
        write_report(results, phase_dir(settings.model_dir, phase), title, evaluated)
        writer = tf.summary.create_file_writer(logs_dir(settings.model_dir, phase))
        with writer.as_default(step=int(step)):
            for layer, scores in results.items():
                for key, value in scores.items():
                    tf.summary.scalar(f"test/{layer}/{key}", value)
        writer.close()
        print(results_text(results))
    return results


def linear_eval(settings, info, strategy=None):
    """Linear probes on frozen conv_1..conv_5 of `eval_source` in the `probe_protocol`, into
    model_dir/linear_eval (linear_eval_random for the random baseline)."""
    evaluation = settings.evaluation
    protocol = PROTOCOLS[evaluation.probe_protocol]
    image_size = _probe_image_size(settings)
    batch_size = evaluation.eval_batch_size or protocol.batch_size
    train_images = _train_images(settings, info)
    protocol_steps = protocol.steps(train_images, batch_size)
    steps = evaluation.eval_steps or protocol_steps
    phase = _results_phase(settings, "linear_eval")

    def build():
        features = _features(settings)
        return build_probe_trainer(features, protocol, info.num_classes, image_size, train_images, batch_size,
                                   seed=settings.training.seed), features.source

    evaluated = {"protocol": evaluation.probe_protocol, "image_size": image_size, "batch_size": batch_size,
                 "ten_crop": evaluation.ten_crop, "num_classes": info.num_classes,
                 "protocol_steps": protocol_steps,
                 "full_protocol": (not evaluation.eval_steps and image_size == protocol.image_size
                                   and batch_size == protocol.batch_size)}
    results = _train_and_test(
        settings, strategy, phase, build, steps,
        _labelled(settings, phase, "train", True, image_size, batch_size, evaluation.probe_protocol),
        _labelled(settings, phase, "test", False, image_size, batch_size, evaluation.probe_protocol,
                  evaluation.ten_crop),
        evaluated, f"Linear probes on frozen conv layers ({evaluation.probe_protocol} protocol)")
    logging.info("linear_eval: %s", json.dumps(results))


def finetune(settings, info, strategy=None):
    """The original's conv_5 classifier, top `finetune_layers` conv layers trained, into
    model_dir/finetune_conv<N>: 15,600 steps of 128 unless eval_steps / eval_batch_size say otherwise."""
    evaluation = settings.evaluation
    phase = _results_phase(settings, f"finetune_conv{evaluation.finetune_layers}")
    image_size = _image_size(settings, settings.eval_image_size)
    batch_size = evaluation.eval_batch_size or FINETUNE_BATCH_SIZE
    steps = evaluation.eval_steps or FINETUNE_STEPS

    def build():
        features = _features(settings)
        if features.discriminator is None:
            raise SettingError("eval_source", eval_source(settings), "finetune trains conv layers, so it needs a "
                               "checkpoint (this port's or an original TF1 one), not a SavedModel")
        return build_finetune_trainer(features.discriminator, info.num_classes, evaluation.finetune_layers,
                                      steps, image_size, seed=settings.training.seed), features.source

    evaluated = {"protocol": "original STL-10 classifier", "finetune_layers": evaluation.finetune_layers,
                 "image_size": image_size, "batch_size": batch_size, "num_classes": info.num_classes}
    results = _train_and_test(settings, strategy, phase, build, steps,
                              _labelled(settings, phase, "train", True, image_size, batch_size),
                              _labelled(settings, phase, "test", False, image_size, batch_size), evaluated,
                              f"Linear classifier on conv_5, top {evaluation.finetune_layers} conv layers trained")
    logging.info("finetune (%d conv layers trained): %s", evaluation.finetune_layers, json.dumps(results))


@chief_only
def knn_eval(settings, info, strategy=None):
    """Weighted k-NN (k 20, cosine, T 0.07) on the pooled frozen conv_1..conv_5 of `eval_source`, into
    model_dir/knn_eval (knn_eval_random for the random baseline): no training. Both splits through the
    probe protocol's test view."""
    evaluation = settings.evaluation
    image_size = _probe_image_size(settings)
    batch_size = evaluation.eval_batch_size or settings.training.batch_size
    phase = _results_phase(settings, "knn_eval")
    with precision(evaluation.eval_precision), _counting_skips(settings, phase) as skips:
        features = _features(settings)
        # Both splits once, with the test pre-processing: the bank holds the training images as they are.
        train, test = (_labelled(settings, phase, split, False, image_size, batch_size, evaluation.probe_protocol)
                       for split in ("train", "test"))
        results = run_knn_eval(features, train(None, 0, skips), test(None, 0, skips), info.num_classes,
                               phase_dir(settings.model_dir, phase), strategy=strategy,
                               evaluated={"source": features.source, "protocol": evaluation.probe_protocol,
                                          "image_size": image_size, "steps": 0, "dataset": settings.data.dataset,
                                          "num_classes": info.num_classes})
    logging.info("knn_eval (%s): %s", features.source, json.dumps(results))


def random_baselines(settings, info, strategy=None):
    """linear_eval and knn_eval of the random baseline (the paper's random row), for the report."""
    baseline = settings.replace(eval_source=RANDOM)
    linear_eval(baseline, info, strategy)
    knn_eval(baseline, info, strategy)


@chief_only
def report(settings, info=None, strategy=None):
    """model_dir/report.md and report.png: trained against random, linear and k-NN, per conv layer."""
    paths = write_run_report(settings.model_dir)
    if paths is None:
        logging.warning("no report: %s has no evaluation with its random baseline beside it", settings.model_dir)
    else:
        logging.info("wrote %s and %s", paths["report.md"], paths["report.png"])
