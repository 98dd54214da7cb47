"""The linear probes on frozen conv_1..conv_5, trained by fit() and tested by evaluate()."""
import tensorflow as tf

from spot_tf.optim.optimization import apply_decayed, is_bias
from spot_tf.training.classifier_trainer import (ClassifierTrainer, batch_accuracy, classification_loss,
                                                  labelled_batch)


def probe_logged(layers):
    """The logged names: each head's loss and training accuracy."""
    return tuple(f"{name}_{key}" for name in layers for key in ("loss", "acc"))


class ProbeTrainer(ClassifierTrainer):
    """Trains a LinearProbe on a frozen feature extractor with SGD and coupled weight decay.

    The network only runs forward, in inference mode, behind stop_gradient: nothing of it changes. All
    heads train from one forward pass per batch.

    Args:
        features: images -> {layer: map} (a spot_tf.transfer FeatureExtractor, made in the strategy scope).
        probe: A built LinearProbe over those layers.
        weight_decay: L2 added to the gradients (Caffe's and PyTorch's `weight_decay`).
        decay_biases: Whether the biases are decayed too (PyTorch decays all; split-brain's Caffe none).
        bias_gradient_multiplier: Factor on the bias gradients: Caffe's bias `lr_mult` (with SGD the same).
    """

    def __init__(self, features, probe, weight_decay, decay_biases=True, bias_gradient_multiplier=1.0, **kwargs):
        super().__init__(probe, probe_logged(probe.layer_names), probe.layer_names, probe.num_classes, **kwargs)
        self.features = features
        self.weight_decay = weight_decay
        self.decay_biases = decay_biases
        self.bias_gradient_multiplier = bias_gradient_multiplier

    def logits(self, images, training):
        frozen = {name: tf.stop_gradient(value) for name, value in self.features(images).items()}
        return self.model(frozen, training=training)

    def trained_variables(self):
        return self.model.trainable_variables

    def train_step(self, data):
        images, labels = labelled_batch(data)
        variables = self.trained_variables()
        with tf.GradientTape() as tape:
            logits = self.logits(images, training=True)
            losses = {name: classification_loss(labels, logits[name]) for name in self.model.layer_names}
            total = tf.add_n(list(losses.values()))
        apply_decayed(self.optimizer, tape.gradient(total, variables), variables, self.weight_decay,
                      self.bias_gradient_multiplier, decays=None if self.decay_biases else lambda v: not is_bias(v))
        self.step_metrics.update({f"{name}_loss": loss for name, loss in losses.items()},
                                 {f"{name}_acc": batch_accuracy(labels, logits[name]) for name in losses})
        return self.step_metrics.step_logs()

    def checkpoint(self):
        """The probes and their optimizer: the frozen network comes from its own source."""
        return tf.train.Checkpoint(probe=self.model, optimizer=self.optimizer)
