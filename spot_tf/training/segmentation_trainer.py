"""FCN-32s on the discriminator, trained on VOC segmentation by fit() and tested by evaluate().

Every conv layer and the FCN head train (the reference fine-tunes them all). The loss is each image's
per-pixel softmax cross-entropy averaged over its non-void pixels (Caffe's SoftmaxWithLoss with
normalize: true, ignore_label 255), averaged over the images of the step; the optimizer averages the
gradients of its accumulation steps (see voc_seg_protocol.py). Weight decay is added to the kernels'
gradients and the bias gradients doubled, as Caffe's decay_mult 0 / lr_mult 2 on biases do.

Batch norm: as voc_finetune_trainer.py says, the discriminator's conv_5 batch norm runs in training
mode (here over one image's pixels) and its moving statistics, re-estimated on VOC, serve the test.
"""
import warnings

import numpy as np
import tensorflow as tf

from spot_tf.models import CONV_LAYERS
from spot_tf.models.fcn32s import segmentation_logits
from spot_tf.optim.optimization import apply_decayed
from spot_tf.run.distribution import num_replicas
from spot_tf.training.classifier_trainer import ClassifierTrainer
from spot_tf.training.segmentation_metrics import ConfusionMatrix


def pixel_loss(masks, logits):
    """This replica's share of the step's loss: per image, the mean cross-entropy over its non-void
    pixels; those means averaged over the global batch.

    Args:
        masks: int [B, H, W] class indices, VOID_LABEL (or anything outside the classes) ignored.
        logits: [B, H, W, classes].
    """
    classes = logits.shape[-1]
    masks = tf.cast(masks, tf.int32)
    valid = (masks >= 0) & (masks < classes)
    per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.where(valid, masks, 0), tf.cast(logits, tf.float32))
    valid = tf.cast(valid, tf.float32)
    # An image with no labelled pixel adds nothing (Caffe's normalisation would divide by zero).
    per_image = tf.reduce_sum(per_pixel * valid, axis=[1, 2]) / tf.maximum(tf.reduce_sum(valid, axis=[1, 2]), 1.0)
    return tf.nn.compute_average_loss(per_image, global_batch_size=tf.shape(masks)[0] * num_replicas())


def is_kernel(variable):
    return variable.path.endswith("/kernel")


class SegmentationTrainer(ClassifierTrainer):
    """Trains an FCN32s head and the conv layers of a restored discriminator.

    Args:
        discriminator: A restored Discriminator (its conv layers and batch norm change in place).
        fcn: A built FCN32s.
        protocol: A spot_tf.training.voc_seg_protocol.SegmentationProtocol.
    """

    def __init__(self, discriminator, fcn, protocol, **kwargs):
        super().__init__(fcn, ("loss",), None, fcn.num_classes, **kwargs)
        self.discriminator = discriminator
        self.protocol = protocol
        self.trained_units = [fcn] + [getattr(discriminator, name) for name in CONV_LAYERS]
        for name in CONV_LAYERS:
            # Trainable, so that the batch norm follows `training` (see the module docstring).
            getattr(discriminator, name).trainable = True
        self.confusion = ConfusionMatrix(fcn.num_classes)

    @property
    def step(self):
        # fit() steps, one image per replica each. Keras' `iterations` counts the updates (one every
        # accumulation steps); its own counter, which the learning-rate schedule reads, counts the steps.
        return self.optimizer._iterations

    @property
    def metrics(self):
        return super().metrics + [self.confusion]

    def logits(self, images, training):
        return segmentation_logits(self.discriminator, self.model, images, training=training)

    def call(self, images, training=False):
        return self.logits(images, training)

    def trained_variables(self):
        return [v for unit in self.trained_units for v in unit.trainable_variables]

    def train_step(self, data):
        images, masks = data
        variables = self.trained_variables()
        with tf.GradientTape() as tape:
            loss = pixel_loss(masks, self.logits(images, training=True))
        apply_decayed(self.optimizer, tape.gradient(loss, variables), variables, self.protocol.weight_decay,
                      self.protocol.bias_gradient_multiplier, decays=is_kernel)
        self.step_metrics.update({"loss": loss})
        return self.step_metrics.step_logs()

    def predict_classes(self, images):
        """int32 [B, H, W] arg-max classes of whole images."""
        return tf.argmax(self.logits(images, False), axis=-1, output_type=tf.int32)

    def test_step(self, data):
        images, masks = data
        self.confusion.update_state(masks, self.predict_classes(images))
        counts = tf.cast(self.confusion.result(), tf.float32)
        # This replica's pixel accuracy so far, for the progress bar (see StepMetrics for the axis).
        return {"pixel_accuracy": tf.reshape(100.0 * tf.linalg.trace(counts) / tf.maximum(tf.reduce_sum(counts), 1.0),
                                             [1])}

    def test_results(self, dataset):
        """evaluate() over `dataset`: the [classes, classes] int64 pixel confusion matrix [truth, prediction],
        every pixel of every replica counted once."""
        self.confusion.reset_state()
        with warnings.catch_warnings():
            # See ClassifierTrainer.test_results.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            self.evaluate(dataset, verbose=0)
        return np.asarray(self.confusion.result())

    def checkpoint(self):
        """The FCN head, the whole discriminator (trained layers and re-estimated batch norm), the optimizer."""
        return tf.train.Checkpoint(head=self.model, discriminator=self.discriminator, optimizer=self.optimizer)
