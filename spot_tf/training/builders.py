"""The compiled trainers of every phase that trains: the two unsupervised ones, the probes, the fine-tunings.

Call them inside the strategy scope and the phase's precision (spot_tf.run.precision).
"""
import keras
import tensorflow as tf

from spot_tf.models import Autoencoder
from spot_tf.models.alexnet_head import AlexNetHead
from spot_tf.models.conv5_classifier import Conv5Classifier, head_map
from spot_tf.models.fcn32s import FCN32s
from spot_tf.models.linear_probe import LinearProbe
from spot_tf.optim.optimization import linear_policy, make_adam
from spot_tf.run.checkpoints import build_spot_model
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.training.finetune_trainer import FinetuneTrainer
from spot_tf.training.probe_trainer import ProbeTrainer
from spot_tf.training.segmentation_trainer import SegmentationTrainer
from spot_tf.training.spot_trainer import SpotTrainer
from spot_tf.training.voc_finetune_trainer import VOCFinetuneTrainer


def _adam(settings, total_steps):
    training = settings.training
    return make_adam(linear_policy(training.learning_rate, total_steps), training.mixed_precision == "fp16")


def build_autoencoder_trainer(settings):
    """Phase 1: the autoencoder with its Adam over `ae_steps`, initialised from `seed`."""
    # The initializers draw from Keras' global generator: the same seed gives the same initial weights.
    keras.utils.set_random_seed(settings.training.seed)
    trainer = AutoencoderTrainer(Autoencoder(settings.model.ae_depth, name="autoencoder"))
    trainer.build_for(settings.model.image_size)
    trainer.compile(_adam(settings, settings.training.ae_steps), jit_compile=settings.training.xla)
    return trainer


def build_spot_trainer(settings):
    """Phase 2: the SpotModel (autoencoder not yet restored, the rest initialised from `seed`) with one
    Adam per network over `spot_steps`."""
    training = settings.training
    trainer = SpotTrainer(build_spot_model(settings.model, seed=training.seed, name="spot_model"),
                          generator_loss=training.generator_loss, seed=training.seed)
    trainer.compile(_adam(settings, training.spot_steps), _adam(settings, training.spot_steps),
                    jit_compile=training.xla)
    return trainer


def build_probe_trainer(features, protocol, num_classes, image_size, train_images, batch_size, seed=None):
    """Linear probes on `features` (frozen) with a ProbeProtocol's heads, SGD and schedule.

    Args:
        features: images -> {layer: map}: a FeatureExtractor.
        protocol: A spot_tf.training.probe_protocols.ProbeProtocol.
        num_classes: Number of classes.
        image_size: Side of the training crops (sets each map's shape).
        train_images: Size of the labelled training split (scales the schedule's period).
        batch_size: Images per step.
        seed: Seed of the heads' initializer.
    """
    maps = features(tf.zeros((1, image_size, image_size, 3)))
    shapes = {name: tuple(value.shape[1:]) for name, value in maps.items()}
    probe = LinearProbe(shapes, num_classes, pooling=protocol.pooling, batch_norm=protocol.batch_norm, seed=seed,
                        name="probe")
    trainer = ProbeTrainer(features, probe, protocol.weight_decay, decay_biases=protocol.decay_biases,
                           bias_gradient_multiplier=protocol.bias_gradient_multiplier)
    trainer.compile(protocol.optimizer(train_images, batch_size))
    return trainer


def build_finetune_trainer(discriminator, num_classes, finetune_layers, steps, image_size, learning_rate=1e-3,
                           seed=None):
    """The original's conv_5 classifier on `discriminator` with its Adam and 'linear' policy over `steps`."""
    map_shape = tuple(head_map(discriminator, tf.zeros((1, image_size, image_size, 3)), training=False).shape[1:])
    classifier = Conv5Classifier(num_classes, map_shape[:2], seed=seed, name="classifier")
    classifier.build((None,) + map_shape)
    trainer = FinetuneTrainer(discriminator, classifier, finetune_layers)
    trainer.compile(make_adam(linear_policy(learning_rate, steps)))
    return trainer


def build_voc_finetune_trainer(discriminator, protocol, train_from, image_size, num_classes, dropout_rate=0.5,
                               seed=None):
    """Krähenbühl et al.'s VOC fine-tuning of `discriminator` under a new AlexNetHead, with the protocol's SGD."""
    conv_5 = discriminator.features(tf.zeros((1, image_size, image_size, 3)), training=False)["conv_5"]
    head = AlexNetHead(num_classes, tuple(conv_5.shape[1:]), padding=discriminator.padding,
                       dropout_rate=dropout_rate, seed=seed, name="head")
    trainer = VOCFinetuneTrainer(discriminator, head, protocol, train_from)
    trainer.compile(protocol.optimizer())
    return trainer


def build_segmentation_trainer(discriminator, protocol, steps, replicas, num_classes):
    """FCN-32s on `discriminator` (conv layers and head trained), with the protocol's SGD over `steps`."""
    fcn = FCN32s(num_classes, padding=discriminator.padding, dropout_rate=protocol.dropout_rate,
                 fc_channels=protocol.fc_channels, name="head")
    fcn.build((None, None, None, discriminator.conv_5.filters))
    trainer = SegmentationTrainer(discriminator, fcn, protocol)
    trainer.compile(protocol.optimizer(steps, replicas))
    return trainer
