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
from spot_tf.paths import in_run
from spot_tf.run import checkpoints
from spot_tf.run.checkpoint_files import checkpoint_steps
from spot_tf.run.distribution import is_chief, is_multi_worker
from spot_tf.run.folder import eval_source, export_dir, logs_dir, phase_dir
from spot_tf.run.precision import precision
from spot_tf.safe_write import write_json
from spot_tf.training.builders import build_finetune_trainer, build_probe_trainer
from spot_tf.training.finetune_trainer import FINETUNE_BATCH_SIZE, FINETUNE_STEPS
from spot_tf.training.fit_loop import fit_phase, service_job
from spot_tf.training.probe_protocols import IMAGENET_TRAIN_IMAGES, PROTOCOLS
from spot_tf.transfer import export_saved_model, load_feature_extractor, min_input_size, run_knn_eval
from spot_tf.transfer.feature_source import RANDOM
from spot_tf.transfer.report import (conflict_message, evaluation_conflict, results_text, same_evaluated,
                                    write_report)
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


def labelled_batches(settings, phase, split, training, image_size, batch_size, probe_protocol=None,
                     ten_crop=False, voc_view=None):
    """`(input_context, start_step, skip_report) -> dataset` of a labelled split, seeded by the seed and
    the step it starts at (the `batches` of fit_phase `phase`); of `voc_dataset` in a VOC protocol's
    `voc_view`."""
    data = settings.data

    def batches(input_context, start_step, skip_report):
        return spot_data.make_dataset(
            data.voc_dataset if voc_view else data.dataset, split, image_size, batch_size, training=training,
            seed=settings.training.seed + start_step, tfds_data_dir=data.tfds_data_dir, cache_dir=data.data_cache_dir,
            with_labels=True, input_context=input_context, strict_decode=data.strict_decode, skip_report=skip_report,
            fused_decode=data.fused_decode, probe_protocol=probe_protocol, ten_crop=ten_crop, voc_view=voc_view,
            **service_job(settings, phase, start_step, training))
    return batches


@contextlib.contextmanager
def counting_skips(settings, phase, chief=True):
    """A SkipReport for the phase's datasets; its summary is logged and written (by the chief) at the end."""
    skips = spot_data.SkipReport()
    with skips.raise_setting_errors():
        yield skips
    if chief:
        writer = tf.summary.create_file_writer(logs_dir(settings.model_dir, phase))
        skips.write(writer, 0, phase_dir(settings.model_dir, phase))
        writer.close()


def feature_extractor(settings):
    """The FeatureExtractor of the evaluation's source (`eval_source`: a checkpoint, an export or the seeded
    random network)."""
    return load_feature_extractor(eval_source(settings), settings.model, use_ema=settings.evaluation.export_ema,
                                  seed=settings.training.seed)


def results_phase(settings, phase):
    """The folder of an evaluation's results: `<phase>_random` for the random baseline."""
    return f"{phase}_{RANDOM}" if eval_source(settings) == RANDOM else phase


def _train_images(settings, info):
    """The labelled training split's size; ImageNet's when it is too large to count (ImageNet TFRecords)."""
    count = info.num_examples.get("train")
    if not count:
        logging.info("%s: the train split is too large to count; the probe protocol takes it as ImageNet's "
                     "%d images", settings.data.dataset, IMAGENET_TRAIN_IMAGES)
    return count or IMAGENET_TRAIN_IMAGES


def checked_image_size(settings, image_size):
    """`image_size`, unless the discriminator cannot take it (SettingError naming eval_image_size)."""
    smallest = min_input_size(settings.model.disc_padding)
    if image_size < smallest:
        raise SettingError("eval_image_size", image_size, f"the discriminator ({settings.model.disc_padding} "
                           f"padding) needs images of at least {smallest} px")
    return image_size


def _probe_image_size(settings):
    """The probes' and k-NN's image size: `eval_image_size`, else the probe protocol's."""
    evaluation = settings.evaluation
    return checked_image_size(settings, evaluation.eval_image_size or PROTOCOLS[evaluation.probe_protocol].image_size)


# What a phase's checkpoints were trained on: a rerun resumes them only if all of it is the same.
IDENTITY = ("source", "protocol", "finetune_layers", "train_from", "image_size", "batch_size", "num_classes",
            "fc_channels")
IDENTITY_FILE = "evaluation.json"
# The setting that changes each part of what was evaluated (the identity and the rest of "evaluated").
IDENTITY_SETTINGS = {"source": "eval_source", "protocol": "probe_protocol", "finetune_layers": "finetune_layers",
                     "image_size": "eval_image_size", "batch_size": "eval_batch_size", "num_classes": "dataset",
                     "dataset": "dataset", "ten_crop": "ten_crop", "protocol_steps": "eval_batch_size",
                     "train_from": "voc_train_from", "fc_channels": "voc_seg_fc_channels"}


def _refuse(settings, key, reason):
    setting = IDENTITY_SETTINGS.get(key, "model_dir")
    value = settings.flat().get(setting) if setting != "model_dir" else settings.model_dir
    raise SettingError(setting, value, reason)


def evaluation_record(settings, source, evaluated):
    """What an evaluation of `source` evaluates, as results.json records it: a source inside the run as a
    path relative to model_dir, so that a moved run still recognises what it evaluated."""
    return {"source": in_run(settings.model_dir, source), "dataset": settings.data.dataset, **evaluated}


def _check_results(settings, phase, evaluated):
    """Refuses, before any work, an evaluation whose results would replace another evaluation's."""
    conflict = evaluation_conflict(phase_dir(settings.model_dir, phase), evaluated)
    if conflict:
        _refuse(settings, conflict[1], conflict_message(conflict))


def claim_phase(settings, phase, evaluated):
    """Records what model_dir/<phase> trains on, or refuses to resume checkpoints (or replace results) of
    something else. A record that no checkpoint or result stands behind (its command failed before it
    trained) is replaced."""
    directory = phase_dir(settings.model_dir, phase)
    path = os.path.join(directory, IDENTITY_FILE)
    identity = {key: value for key, value in evaluated.items() if key in IDENTITY}
    saved = None
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            if not isinstance(saved, dict):
                raise ValueError("not a mapping")
        except (OSError, ValueError) as err:
            raise SettingError("model_dir", settings.model_dir, f"{path} is not an evaluation record of spot_tf "
                               f"({str(err).splitlines()[0]}): move it away or repair it") from None
        for key in IDENTITY:
            if not same_evaluated(key, saved.get(key), identity.get(key), directory) and checkpoint_steps(directory):
                _refuse(settings, key, f"{directory} holds checkpoints trained with {key} {saved.get(key)!r}, not "
                        f"{identity.get(key)!r}: rerun with the same settings to resume, or use another model_dir")
    _check_results(settings, phase, evaluated)
    if saved is None or any(not same_evaluated(key, saved.get(key), identity.get(key), directory)
                            for key in IDENTITY):
        write_json(path, identity)


def write_scalars(settings, phase, results, step, prefix="test"):
    """Every number of `results` (nested dicts; None skipped) as a TensorBoard scalar `test/<keys>`."""
    writer = tf.summary.create_file_writer(logs_dir(settings.model_dir, phase))

    def write(tag, value):
        if isinstance(value, dict):
            for key, item in value.items():
                write(f"{tag}/{key}", item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            tf.summary.scalar(tag, value)
    with writer.as_default(step=step):
        write(prefix, results)
    writer.close()


def _write_accuracies(out_dir, results, title, evaluated):
    write_report(results, out_dir, title, evaluated)
    print(results_text(results))


def train_and_test(settings, strategy, phase, build, steps, train, test, evaluated, title, score=None,
                   write=_write_accuracies, summaries=None):
    """Builds a classifier trainer in the strategy scope, fits it to `steps` (resuming from its checkpoints
    in model_dir/<phase>), tests it and writes results.json (chief). Returns the results.

    `score` turns what the trainer's test_results returns into the results (default: as they are);
    `write(out_dir, results, title, evaluated)` writes them (default: top-1 / top-5 per head);
    `summaries(trainer)` gives fit_phase's image summaries (default: scalars only)."""
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    with precision(settings.evaluation.eval_precision), counting_skips(settings, phase, chief) as skips:
        with strategy.scope():
            trainer, source = build()
        evaluated = evaluation_record(settings, source, evaluated)
        if chief:
            claim_phase(settings, phase, evaluated)
        step = fit_phase(settings, strategy, trainer, phase, steps, train,
                         summaries=summaries(trainer) if summaries else None, skips=skips)
        test_batches = strategy.distribute_datasets_from_function(lambda context: test(context, 0, skips))
        results = trainer.test_results(test_batches)
        # The test images that decoded (ten crops of one count once), for the report's noise sentence.
        counted = {"test_images": trainer.accuracies.examples()} if trainer.accuracies else {}
    if score is not None:
        results = score(results)
    if chief:
        write(phase_dir(settings.model_dir, phase), results, title, {**evaluated, "steps": int(step), **counted})
        write_scalars(settings, phase, results, int(step))
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
    phase = results_phase(settings, "linear_eval")

    def build():
        features = feature_extractor(settings)
        return build_probe_trainer(features, protocol, info.num_classes, image_size, train_images, batch_size,
                                   seed=settings.training.seed), features.source

    evaluated = {"protocol": evaluation.probe_protocol, "image_size": image_size, "batch_size": batch_size,
                 "ten_crop": evaluation.ten_crop, "num_classes": info.num_classes,
                 "protocol_steps": protocol_steps,
                 "full_protocol": (not evaluation.eval_steps and image_size == protocol.image_size
                                   and batch_size == protocol.batch_size)}
    results = train_and_test(
        settings, strategy, phase, build, steps,
        labelled_batches(settings, phase, "train", True, image_size, batch_size, evaluation.probe_protocol),
        labelled_batches(settings, phase, "test", False, image_size, batch_size, evaluation.probe_protocol,
                  evaluation.ten_crop),
        evaluated, f"Linear probes on frozen conv layers ({evaluation.probe_protocol} protocol)")
    logging.info("linear_eval: %s", json.dumps(results))


def finetune(settings, info, strategy=None):
    """The original's conv_5 classifier, top `finetune_layers` conv layers trained, into
    model_dir/finetune_conv<N>: 15,600 steps of 128 unless eval_steps / eval_batch_size say otherwise."""
    evaluation = settings.evaluation
    phase = results_phase(settings, f"finetune_conv{evaluation.finetune_layers}")
    image_size = checked_image_size(settings, settings.eval_image_size)
    batch_size = evaluation.eval_batch_size or FINETUNE_BATCH_SIZE
    steps = evaluation.eval_steps or FINETUNE_STEPS

    def build():
        features = feature_extractor(settings)
        if features.discriminator is None:
            raise SettingError("eval_source", eval_source(settings), "finetune trains conv layers, so it needs a "
                               "checkpoint (this port's or an original TF1 one), not a SavedModel")
        return build_finetune_trainer(features.discriminator, info.num_classes, evaluation.finetune_layers,
                                      steps, image_size, seed=settings.training.seed), features.source

    evaluated = {"protocol": "original STL-10 classifier", "finetune_layers": evaluation.finetune_layers,
                 "image_size": image_size, "batch_size": batch_size, "num_classes": info.num_classes}
    results = train_and_test(settings, strategy, phase, build, steps,
                             labelled_batches(settings, phase, "train", True, image_size, batch_size),
                             labelled_batches(settings, phase, "test", False, image_size, batch_size), evaluated,
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
    phase = results_phase(settings, "knn_eval")
    with precision(evaluation.eval_precision), counting_skips(settings, phase) as skips:
        features = feature_extractor(settings)
        evaluated = evaluation_record(settings, features.source, {"protocol": evaluation.probe_protocol,
                                                                  "image_size": image_size, "steps": 0,
                                                                  "num_classes": info.num_classes})
        _check_results(settings, phase, evaluated)
        # Both splits once, with the test pre-processing: the bank holds the training images as they are.
        train, test = (labelled_batches(settings, phase, split, False, image_size, batch_size,
                                        evaluation.probe_protocol) for split in ("train", "test"))
        results = run_knn_eval(features, train(None, 0, skips), test(None, 0, skips), info.num_classes,
                               phase_dir(settings.model_dir, phase), strategy=strategy, evaluated=evaluated)
    logging.info("knn_eval (%s): %s", features.source, json.dumps(results))


def random_baselines(settings, info, strategy=None):
    """linear_eval and knn_eval of the random baseline (the paper's random row), for the report; the VOC
    phases' too when `voc_dataset` is set."""
    baseline = settings.replace(eval_source=RANDOM)
    linear_eval(baseline, info, strategy)
    knn_eval(baseline, info, strategy)
    if settings.data.voc_dataset:
        # Imported here: the VOC phases build on this module.
        from spot_tf.phases import voc
        voc.random_baselines(settings, info, strategy)
    if settings.data.voc_seg_dataset:
        from spot_tf.phases import voc_segmentation
        voc_segmentation.random_baseline(settings, info, strategy)


@chief_only
def report(settings, info=None, strategy=None):
    """model_dir/report.md and report.png: trained against random, linear and k-NN per conv layer, and the
    VOC07 classification mAPs where those phases ran."""
    paths = write_run_report(settings.model_dir)
    if paths is None:
        logging.warning("no report: %s has no evaluation with its random baseline beside it", settings.model_dir)
    else:
        logging.info("wrote %s and %s", paths["report.md"], paths["report.png"])
