"""The original code's STL-10 transfer: the conv_5 classifier, optionally with the top conv layers,
trained by fit() and tested by evaluate().

The original's Adam (beta_1 0.5, epsilon 1e-5) with the 'linear' policy, bias gradients x2 and slim L2
5e-5 on the trained kernels, for 15,600 steps of 128 images (400 epochs of STL-10's 5,000). It builds
the classifier with the discriminator in training mode (`fix_bn=False`): every batch norm normalises
with batch statistics while training and updates its moving statistics on the labelled images, which
the test then uses, even when no conv layer is trained.
"""
import tensorflow as tf

from spot_tf.models import CONV_LAYERS
from spot_tf.models.conv5_classifier import head_map, trained_layers
from spot_tf.models.empty_batch import call_allowing_empty
from spot_tf.optim.optimization import BIAS_GRADIENT_MULTIPLIER, multiply_bias_gradients
from spot_tf.optim.regularization import l2_term
from spot_tf.training.classifier_trainer import (ClassifierTrainer, batch_accuracy, classification_loss,
                                                  labelled_batch)

# The original: 400 epochs of the 5,000 labelled STL-10 images at batch 128 ((5000 // 128) * 400).
FINETUNE_STEPS = 15600
FINETUNE_BATCH_SIZE = 128
HEAD = "conv_5"
LOGGED = ("loss", "total_loss", "acc")


class FinetuneTrainer(ClassifierTrainer):
    """Trains a Conv5Classifier on a restored discriminator, its top `finetune_layers` conv layers with it.

    Every conv layer of the discriminator is made trainable, so that its batch norm follows
    `training=True` (a frozen Keras 3 batch norm would run in inference mode); which weights change is
    decided by the optimizer's variables.

    Args:
        discriminator: A restored Discriminator; its batch-norm statistics and top layers change in place.
        classifier: A built Conv5Classifier on its conv_5 (pool_5) map.
        finetune_layers: How many of the top conv layers train (0 = the classifier alone).
        bias_gradient_multiplier: Factor on the bias gradients (the original's 2).
    """

    def __init__(self, discriminator, classifier, finetune_layers=0, bias_gradient_multiplier=BIAS_GRADIENT_MULTIPLIER,
                 **kwargs):
        super().__init__(classifier, LOGGED, (HEAD,), classifier.num_classes, **kwargs)
        self.discriminator = discriminator
        self.finetune_layers = finetune_layers
        self.bias_gradient_multiplier = bias_gradient_multiplier
        self.trained_units = [classifier] + [getattr(discriminator, name) for name in trained_layers(finetune_layers)]
        for name in CONV_LAYERS:
            getattr(discriminator, name).trainable = True

    def logits(self, images, training):
        # training=True: batch statistics in every batch norm, whose moving statistics are updated.
        return call_allowing_empty(lambda batch: {HEAD: self.model(head_map(self.discriminator, batch, training=training))},
                                   images, training)

    def trained_variables(self):
        return [v for unit in self.trained_units for v in unit.trainable_variables]

    def train_step(self, data):
        images, labels = labelled_batch(data)
        variables = self.trained_variables()
        with tf.GradientTape() as tape:
            logits = self.logits(images, training=True)[HEAD]
            loss = classification_loss(labels, logits)
            # The frozen layers' L2 is a constant: only the trained units' counts, as in the gradients.
            total = loss + tf.add_n([l2_term(unit) for unit in self.trained_units])
        grads = multiply_bias_gradients(tape.gradient(total, variables), variables, self.bias_gradient_multiplier)
        self.optimizer.apply(grads, variables)
        self.step_metrics.update({"loss": loss, "total_loss": total}, {"acc": batch_accuracy(labels, logits)})
        return self.step_metrics.step_logs()

    def checkpoint(self):
        """The classifier, the whole discriminator (trained layers and re-estimated batch norms), the optimizer."""
        return tf.train.Checkpoint(classifier=self.model, discriminator=self.discriminator, optimizer=self.optimizer)
