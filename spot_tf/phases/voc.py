"""The PASCAL VOC 2007 classification phases on `voc_dataset`: Krähenbühl et al.'s fine-tuning
(voc07_finetune) and Goyal et al.'s linear SVMs on frozen features (voc07_svm), and their random
baselines (voc07_finetune_random, voc07_svm_random).

Both evaluate `eval_source` as the other evaluations do. The fine-tuning trains with fit() under the
run's strategy on every worker, resumes from model_dir/<phase>/ckpt-N and tests on 10 random crops;
the SVMs run on the chief, their features computed under a local strategy and cached in the phase
folder. results.json: see spot_tf.transfer.voc_report.
"""
import contextlib
import json

from absl import logging

from spot_tf import data as spot_data
from spot_tf.errors import SettingError
from spot_tf.phases.transfer import (checked_image_size, chief_only, claim_phase, counting_skips, evaluation_record,
                                     feature_extractor, labelled_batches, results_phase, train_and_test)
from spot_tf.run.folder import eval_source, phase_dir
from spot_tf.run.precision import precision
from spot_tf.training.builders import build_voc_finetune_trainer
from spot_tf.training.voc_protocols import FINETUNE, SVM
from spot_tf.transfer.feature_source import RANDOM
from spot_tf.transfer.voc_report import (evaluated_entry, results_text, score_result, write_voc_results)
from spot_tf.transfer.voc_svm import run_voc_svm


@contextlib.contextmanager
def naming_voc_dataset(settings):
    """The data package names the setting it reads `dataset`: here that is `voc_dataset`."""
    try:
        yield
    except SettingError as error:
        if error.setting != "dataset" or error.value != settings.data.voc_dataset:
            raise
        renamed = type(error)("voc_dataset", error.value, error.reason)
        raise renamed from error


def describe_voc(settings):
    """The DatasetInfo of `voc_dataset` (its train and test splits); SettingError if none is set or it is
    not a multi-label VOC source."""
    data = settings.data
    if not data.voc_dataset:
        raise SettingError("voc_dataset", data.voc_dataset, "the VOC phases need a VOCdevkit/VOC2007 folder or "
                           "tfds:voc/2007")
    info = spot_data.describe_dataset(data.voc_dataset, tfds_data_dir=data.tfds_data_dir,
                                      cache_dir=data.data_cache_dir, splits=("train", "test"))
    if not info.multi_label:
        raise SettingError("voc_dataset", data.voc_dataset, f"is a single-label {info.kind} dataset, not PASCAL "
                           "VOC (a VOCdevkit/VOC2007 folder or tfds:voc/2007)")
    return info


def voc07_finetune(settings, info=None, strategy=None):
    """Krähenbühl et al.'s fine-tuning from `voc_train_from`, into model_dir/voc07_finetune (the random
    baseline: voc07_finetune_random): 80,000 steps of 16 unless eval_steps / eval_batch_size say otherwise."""
    evaluation, protocol = settings.evaluation, FINETUNE
    phase = results_phase(settings, "voc07_finetune")
    image_size = checked_image_size(settings, evaluation.eval_image_size or protocol.image_size)
    batch_size = evaluation.eval_batch_size or protocol.batch_size
    steps = evaluation.eval_steps or protocol.steps
    with naming_voc_dataset(settings):
        voc = describe_voc(settings)

        def build():
            features = feature_extractor(settings)
            if features.discriminator is None:
                raise SettingError("eval_source", eval_source(settings), "voc07_finetune trains conv layers, so it "
                                   "needs a checkpoint (this port's or an original TF1 one), not a SavedModel")
            return build_voc_finetune_trainer(features.discriminator, protocol, evaluation.voc_train_from, image_size,
                                              voc.num_classes, seed=settings.training.seed), features.source

        def write(out_dir, results, title, evaluated):
            write_voc_results(results, out_dir, title, {**evaluated, **evaluated_entry({}, protocol.metric, results)})
            print(results_text(results, layered=False))

        evaluated = {"protocol": "voc07_finetune", "reference": protocol.source, **evaluated_entry({}, protocol.metric),
                     "train_from": evaluation.voc_train_from, "image_size": image_size, "batch_size": batch_size,
                     "num_classes": voc.num_classes, "dataset": settings.data.voc_dataset,
                     "protocol_steps": protocol.steps, "test_crops": protocol.test_crops,
                     "full_protocol": (not evaluation.eval_steps and image_size == protocol.image_size
                                       and batch_size == protocol.batch_size)}
        results = train_and_test(
            settings, strategy, phase, build, steps,
            labelled_batches(settings, phase, "train", True, image_size, batch_size, voc_view="finetune"),
            labelled_batches(settings, phase, "test", False, image_size, batch_size, voc_view="finetune"), evaluated,
            f"PASCAL VOC 2007 classification, fine-tuned from {evaluation.voc_train_from} (Krähenbühl et al.)",
            score=lambda raw: score_result(*raw, voc.class_names, protocol.metric), write=write)
    logging.info("voc07_finetune (from %s): %s", evaluation.voc_train_from, json.dumps(results))


@chief_only
def voc07_svm(settings, info=None, strategy=None):
    """Goyal et al.'s linear SVMs on the frozen conv_1..conv_5 of `eval_source`, into model_dir/voc07_svm
    (the random baseline: voc07_svm_random)."""
    evaluation, protocol = settings.evaluation, SVM
    phase = results_phase(settings, "voc07_svm")
    image_size = checked_image_size(settings, evaluation.eval_image_size or protocol.image_size)
    batch_size = evaluation.eval_batch_size or settings.training.batch_size
    out_dir = phase_dir(settings.model_dir, phase)
    with naming_voc_dataset(settings), precision(evaluation.eval_precision), \
            counting_skips(settings, phase) as skips:
        voc = describe_voc(settings)
        features = feature_extractor(settings)
        evaluated = evaluation_record(settings, features.source, evaluated_entry({
            "protocol": "voc07_svm", "reference": protocol.source, "image_size": image_size,
            "num_classes": voc.num_classes, "dataset": settings.data.voc_dataset, "solver": evaluation.svm_solver,
            "folds": protocol.folds, "steps": 0, "full_protocol": image_size == protocol.image_size},
            protocol.metric))
        # The cached features are those of this source and size: another is refused (and so are results of
        # another evaluation).
        claim_phase(settings, phase, evaluated)
        datasets = {split: (lambda split=split: labelled_batches(settings, phase, split, False, image_size,
                                                                 batch_size, voc_view="svm")(None, 0, skips))
                    for split in ("train", "test")}
        results = run_voc_svm(features, datasets, out_dir, voc.class_names, image_size, solver=evaluation.svm_solver,
                              folds=protocol.folds, strategy=strategy)
        write_voc_results(results, out_dir, "PASCAL VOC 2007 classification, linear SVMs on frozen conv layers "
                          "(Goyal et al.)", evaluated_entry(evaluated, protocol.metric, results["conv_5"]),
                          layered=True)
    print(results_text(results, layered=True))
    logging.info("voc07_svm (%s): %s", features.source, json.dumps(results))


def random_baselines(settings, info=None, strategy=None):
    """Both VOC phases of the random baseline."""
    baseline = settings.replace(eval_source=RANDOM)
    voc07_finetune(baseline, info, strategy)
    voc07_svm(baseline, info, strategy)
