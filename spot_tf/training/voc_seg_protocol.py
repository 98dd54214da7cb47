"""The PASCAL VOC segmentation protocol, one preset: every full-protocol constant lives here.

FCN-32s as the SSL papers ran it (richzhang/colorization feature_learning_tests/segmentation:
solver0.prototxt, solve.py, train_val.prototxt; FCN: shelhamer/fcn.berkeleyvision.org voc-fcn-alexnet):
Caffe SGD, momentum 0.9, weight decay 5e-4 on the weights (decay_mult 0 on the biases), bias lr x2,
`iter_size` 20 over batches of one whole image (each image's softmax loss averaged over its non-void
pixels, the 20 averaged), lr 1e-4 for 50,000 updates, then 1e-5, then 1e-6, 150,000 updates in all;
whole images at test. Trained on VOC2011 train + SBD, tested on seg11valid (736 images).

Here one fit() step is one image per replica; the optimizer accumulates the gradients of
`accumulation_steps(replicas)` steps before it updates, so an update averages ~20 images as Caffe's
iter_size does. Batches of 20 padded images would not be the same: this discriminator's conv_5 batch
norm would take the padding into its batch statistics, where per-image batches normalise each image over
its own pixels.
"""
import dataclasses

import keras

from spot_tf.optim.schedules import step_decay


@dataclasses.dataclass(frozen=True)
class SegmentationProtocol:
    """FCN-32s fine-tuning on VOC segmentation.

    Args:
        updates: Solver updates (Caffe's max_iter).
        iter_size: Images averaged into one update (Caffe's iter_size over batch 1).
        learning_rate: SGD's initial learning rate.
        decays: How many times the learning rate drops by `gamma`, at equal intervals (1e-4, 1e-5, 1e-6).
        gamma: Factor of each drop.
        momentum: SGD momentum.
        weight_decay: L2 added to the kernels' gradients (Caffe's weight_decay; none on biases).
        bias_gradient_multiplier: Caffe's bias lr_mult.
        dropout_rate: Dropout after fc6 and fc7.
        fc_channels: Width of fc6 and fc7.
        test_set: The reference's test images.
        source: Where the numbers come from.
    """

    updates: int = 150000
    iter_size: int = 20
    learning_rate: float = 1e-4
    decays: int = 2
    gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    bias_gradient_multiplier: float = 2.0
    dropout_rate: float = 0.5
    fc_channels: int = 4096
    test_set: str = "seg11valid"
    source: str = ("FCN-32s (shelhamer/fcn.berkeleyvision.org voc-fcn-alexnet) as richzhang/colorization "
                   "feature_learning_tests/segmentation runs it")

    def accumulation_steps(self, replicas):
        """fit() steps (one image per replica each) per update: iter_size images, rounded to the replicas."""
        return max(1, round(self.iter_size / replicas))

    def steps(self, replicas):
        """fit() steps of the whole protocol."""
        return self.updates * self.accumulation_steps(replicas)

    def optimizer(self, steps, replicas):
        """SGD with momentum over accumulated gradients, the learning rate dropping at equal thirds of
        `steps` (the reference's 50k / 100k of 150k updates; Keras counts the accumulation steps)."""
        schedule = step_decay(self.learning_rate, max(1, steps // (self.decays + 1)), self.gamma)
        accumulation = self.accumulation_steps(replicas)
        return keras.optimizers.SGD(schedule, momentum=self.momentum,
                                    gradient_accumulation_steps=accumulation if accumulation > 1 else None)


SEGMENTATION = SegmentationProtocol()
# The paper's VOC segmentation column (Jenni & Favaro 2018; the random row as Pathak et al. report it).
PAPER_MIOU = {"trained": 38.1, "random": 19.8}
