"""Krähenbühl et al.'s PASCAL VOC 2007 classification fine-tuning, trained by fit().

The discriminator's conv_1..conv_5 under an AlexNetHead, trained from `train_from` ("all": every conv
layer and the head, the paper's column; "fc6": the head; "fc8": its last layer). The loss is the
sigmoid cross-entropy summed over the classes whose entry is not DIFFICULT, averaged over the batch.
The gradients are clipped at a global norm over all replicas' sum, then weight decay is added and the
bias gradients doubled, in Caffe's order (clip, regularise, lr_mult).

Batch norm: the reference AlexNet has none (SSL papers rescaled its weights with Krähenbühl's
data-dependent init instead); this discriminator normalises conv_5 (no scale). It runs in training
mode here, as the original code's own transfer does (`fix_bn=False`, see finetune_trainer.py): batch
statistics while training, its moving statistics re-estimated on VOC and used at test, whatever
`train_from` is. That normalises conv_5 on the target data, which is what the reference's rescaling
does for a network without batch norm. (DeepCluster's eval_voc_classif.py keeps its batch norms on
the pretrained statistics instead.)
"""
import numpy as np
import tensorflow as tf

from spot_tf.models import CONV_LAYERS
from spot_tf.optim.optimization import apply_decayed
from spot_tf.run.distribution import num_replicas
from spot_tf.training.classifier_trainer import ClassifierTrainer

DIFFICULT = -1  # spot_tf.data.voc_classes: 1 present, 0 absent, -1 difficult only.


def masked_sigmoid_loss(labels, logits):
    """This replica's share of the batch mean of the summed sigmoid cross-entropy over the classes.

    Args:
        labels: int [B, classes]: 1 present, 0 absent, -1 difficult only (left out).
        logits: [B, classes].
    """
    labels = tf.cast(labels, tf.int32)
    per_entry = tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(labels > 0, tf.float32), tf.cast(logits, tf.float32))
    per_example = tf.reduce_sum(per_entry * tf.cast(labels != DIFFICULT, tf.float32), axis=-1)
    return tf.nn.compute_average_loss(per_example, global_batch_size=tf.shape(labels)[0] * num_replicas())


def clip_in_sync(gradients, clip_norm):
    """This replica's gradient contributions, clipped so that their sum over replicas has a global L2
    norm of at most `clip_norm` (the optimizer sums the contributions)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas > 1:
        gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    clipped, _ = tf.clip_by_global_norm(gradients, clip_norm)
    return [g / replicas for g in clipped] if replicas > 1 else clipped


class VOCFinetuneTrainer(ClassifierTrainer):
    """Fine-tunes an AlexNetHead on a restored discriminator for multi-label classification.

    Args:
        discriminator: A restored Discriminator (its conv layers and batch norm change in place).
        head: A built AlexNetHead on its conv_5 map.
        protocol: A spot_tf.training.voc_protocols.FinetuneProtocol.
        train_from: "all", "fc6" or "fc8".
    """

    def __init__(self, discriminator, head, protocol, train_from="all", **kwargs):
        super().__init__(head, ("loss",), None, head.num_classes, **kwargs)
        self.discriminator = discriminator
        self.protocol = protocol
        self.train_from = train_from
        self.trained_units = head.layers_from(train_from) + (
            [getattr(discriminator, name) for name in CONV_LAYERS] if train_from == "all" else [])
        for name in CONV_LAYERS:
            # Trainable, so that the batch norm follows `training` (see the module docstring).
            getattr(discriminator, name).trainable = True

    def logits(self, images, training):
        conv_5 = self.discriminator.features(images, training=training)["conv_5"]
        return self.model(conv_5, training=training)

    def call(self, images, training=False):
        return self.logits(images, training)

    def trained_variables(self):
        return [v for unit in self.trained_units for v in unit.trainable_variables]

    def train_step(self, data):
        images, labels = data
        variables = self.trained_variables()
        with tf.GradientTape() as tape:
            loss = masked_sigmoid_loss(labels, self.logits(images, training=True))
        apply_decayed(self.optimizer, clip_in_sync(tape.gradient(loss, variables), self.protocol.clip_norm),
                      variables, self.protocol.weight_decay, self.protocol.bias_gradient_multiplier)
        self.step_metrics.update({"loss": loss})
        return self.step_metrics.step_logs()

    def summed_logits(self, images):
        """[B, classes] test scores: the logits of each example's crops ([B, crops, S, S, 3]) summed."""
        if images.shape.rank != 5:
            return self.logits(images, False)
        crops = tf.shape(images)[1]
        flat = tf.reshape(images, tf.concat([[-1], tf.shape(images)[2:]], 0))
        logits = tf.cast(self.logits(flat, False), tf.float32)
        return tf.reduce_sum(tf.reshape(logits, [-1, crops, logits.shape[-1]]), axis=1)

    def test_results(self, dataset):
        """(labels [N, classes], scores [N, classes]) numpy arrays over one pass of `dataset`, distributed
        under the strategy the trainer was built in (every worker gets all)."""
        strategy = self.distribute_strategy

        @tf.function(reduce_retracing=True)
        def step(batch):
            def replica(images, labels):
                return self.summed_logits(images), tf.cast(labels, tf.int32)
            # gather takes one value at a time (see knn.feature_bank).
            return tf.nest.map_structure(lambda value: strategy.gather(value, axis=0),
                                         strategy.run(replica, args=batch))

        labels, scores = [], []
        for batch in dataset:
            batch_scores, batch_labels = step(batch)
            scores.append(batch_scores.numpy())
            labels.append(batch_labels.numpy())
        return np.concatenate(labels), np.concatenate(scores)

    def checkpoint(self):
        """The head, the whole discriminator (trained layers and re-estimated batch norm), the optimizer."""
        return tf.train.Checkpoint(head=self.model, discriminator=self.discriminator, optimizer=self.optimizer)
