"""The PASCAL VOC segmentation phase on `voc_seg_dataset`: FCN-32s on the discriminator (voc_seg), and
its random baseline (voc_seg_random).

It evaluates `eval_source` as the other evaluations do: fit() under the run's strategy on every worker,
resuming from model_dir/<phase>/ckpt-N, then every test image whole through evaluate(). results.json:
see spot_tf.transfer.voc_seg_report.
"""
import dataclasses
import json

import tensorflow as tf
from absl import logging

from spot_tf.data import SkipReport
from spot_tf.data.voc_segmentation import SEGMENTATION_CLASSES, VOCSegmentationSource, segmentation_dataset
from spot_tf.errors import SettingError
from spot_tf.phases.transfer import feature_extractor, results_phase, train_and_test
from spot_tf.run.folder import eval_source
from spot_tf.training.builders import build_segmentation_trainer
from spot_tf.training.image_summaries import segmentation_images
from spot_tf.training.voc_seg_protocol import SEGMENTATION
from spot_tf.transfer.feature_source import RANDOM
from spot_tf.transfer.voc_seg_report import results_text, segmentation_result, write_segmentation_results

# Test images shown in TensorBoard.
SAMPLES = 4


def segmentation_source(settings):
    """The VOCSegmentationSource of `voc_seg_dataset` and `sbd_dir`; SettingError if none is set."""
    data = settings.data
    if not data.voc_seg_dataset:
        raise SettingError("voc_seg_dataset", data.voc_seg_dataset, "voc_seg needs a VOCdevkit with VOC2012 or "
                           "VOC2011 (SegmentationClass, ImageSets/Segmentation)")
    return VOCSegmentationSource(data.voc_seg_dataset, data.sbd_dir)


def voc_seg(settings, info=None, strategy=None):
    """FCN-32s from `eval_source`, into model_dir/voc_seg (the random baseline: voc_seg_random): the
    protocol's 150,000 updates of 20 images unless eval_steps / eval_batch_size say otherwise."""
    evaluation = settings.evaluation
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    protocol = dataclasses.replace(SEGMENTATION, iter_size=evaluation.eval_batch_size or SEGMENTATION.iter_size,
                                   fc_channels=evaluation.voc_seg_fc_channels)
    phase = results_phase(settings, "voc_seg")
    steps = evaluation.eval_steps or protocol.steps(replicas)
    source = segmentation_source(settings)
    splits, test_set = source.splits()
    seed, max_side = settings.training.seed, evaluation.eval_image_size

    def build():
        features = feature_extractor(settings)
        if features.discriminator is None:
            raise SettingError("eval_source", eval_source(settings), "voc_seg trains conv layers, so it needs a "
                               "checkpoint (this port's or an original TF1 one), not a SavedModel")
        return build_segmentation_trainer(features.discriminator, protocol, steps, replicas,
                                          len(SEGMENTATION_CLASSES)), features.source

    def batches(split, training):
        def make(input_context, start_step, skips):
            return segmentation_dataset(splits[split], skips, training=training, seed=seed + start_step,
                                        input_context=input_context, max_side=max_side)
        return make

    def summaries(trainer):
        skips = SkipReport()
        with skips.raise_setting_errors():
            samples = list(segmentation_dataset(splits["test"][:SAMPLES], skips, training=False, max_side=max_side))
        return {"sample_images": samples, "image_fn": segmentation_images(trainer)}

    def write(out_dir, results, title, evaluated):
        write_segmentation_results(results, out_dir, title, evaluated)
        print(results_text(results))

    images_per_update = protocol.accumulation_steps(replicas) * replicas
    evaluated = {"protocol": "voc_seg", "reference": protocol.source, "dataset": settings.data.voc_seg_dataset,
                 "sbd_dir": settings.data.sbd_dir, "test_set": test_set, "test_images": len(splits["test"]),
                 "train_images": len(splits["train"]), "image_size": max_side, "batch_size": images_per_update,
                 "num_classes": len(SEGMENTATION_CLASSES), "fc_channels": protocol.fc_channels, "protocol_steps": protocol.steps(replicas),
                 "full_protocol": (not evaluation.eval_steps and not max_side and protocol == SEGMENTATION
                                   and images_per_update == SEGMENTATION.iter_size
                                   and test_set == SEGMENTATION.test_set and settings.data.sbd_dir is not None)}
    results = train_and_test(
        settings, strategy, phase, build, steps, batches("train", True), batches("test", False), evaluated,
        f"PASCAL VOC segmentation, FCN-32s ({test_set}, {len(splits['test'])} images)",
        score=lambda confusion: segmentation_result(confusion, SEGMENTATION_CLASSES), write=write,
        summaries=summaries)
    logging.info("voc_seg: %s", json.dumps(results))


def random_baseline(settings, info=None, strategy=None):
    """voc_seg of the random baseline."""
    voc_seg(settings.replace(eval_source=RANDOM), info, strategy)
