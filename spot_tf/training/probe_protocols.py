"""The linear-probe protocols of the literature, one preset each (`--probe_protocol`).

splitbrain (the paper's table; Zhang et al., "Split-Brain Autoencoders", CVPR 2017), from
richzhang/colorization feature_learning_tests/linear: train_val.prototxt (227 px crops + mirror of the
256 px images, central 227 crop at test; maps resized bilinearly to ~9,000 features, a parameter-free
BatchNorm, one InnerProduct per layer with bias lr x2 and no bias decay) and solver.prototxt (SGD,
base_lr 0.01, momentum 0.9, weight_decay 5e-4, lr x0.1 every 40,000 iterations, 140,000 iterations of
64 x iter_size 4 = 256 images: 27.97 ImageNet epochs).

deepcluster (facebookresearch/deepcluster eval_linear.py; Caron et al., ECCV 2018): 224 px random crops
+ flip of the 256 px central square, central 224 crop at test; average pooling to the same grids, no
batch norm; SGD lr 0.01, momentum 0.9, weight decay 1e-4 on every parameter, lr / sqrt(1 + lr * wd * t),
batch 256, 90 epochs.

On another dataset a preset trains the same number of epochs, with its schedule's steps scaled alike.
"""
import dataclasses

import keras

from spot_tf.optim.schedules import InverseSqrtDecay, step_decay

IMAGENET_TRAIN_IMAGES = 1281167


@dataclasses.dataclass(frozen=True)
class ProbeProtocol:
    """One reference's linear-probe protocol.

    Args:
        image_size: Side of the crops the network sees.
        batch_size: Images per step.
        epochs: Passes over the labelled training split.
        learning_rate: SGD's initial learning rate.
        momentum: SGD momentum.
        weight_decay: L2 added to the gradients.
        decay_biases: Whether the biases are decayed too.
        bias_gradient_multiplier: Caffe's bias lr_mult.
        schedule: "step" (x `gamma` every `decay_every_epochs`) or "inverse_sqrt" (InverseSqrtDecay).
        decay_every_epochs: The step schedule's period, in epochs.
        gamma: The step schedule's factor.
        pooling: How a map becomes its grid (spot_tf.models.pooling.POOLING).
        batch_norm: A parameter-free batch norm on the pooled features.
        source: Where the numbers come from.
    """

    image_size: int
    batch_size: int
    epochs: float
    learning_rate: float
    momentum: float
    weight_decay: float
    decay_biases: bool
    bias_gradient_multiplier: float
    schedule: str
    pooling: str
    batch_norm: bool
    source: str
    decay_every_epochs: float = 0.0
    gamma: float = 1.0

    def _in_steps(self, epochs, train_images, batch_size):
        return max(1, round(epochs * train_images / (batch_size or self.batch_size)))

    def steps(self, train_images, batch_size=None):
        """The preset's training steps on a split of `train_images` at `batch_size` (default its own)."""
        return self._in_steps(self.epochs, train_images, batch_size)

    def learning_rate_schedule(self, train_images, batch_size=None):
        """The preset's schedule, its period scaled to the dataset as its epochs are."""
        if self.schedule == "inverse_sqrt":
            return InverseSqrtDecay(self.learning_rate, self.weight_decay)
        return step_decay(self.learning_rate, self._in_steps(self.decay_every_epochs, train_images, batch_size),
                          self.gamma)

    def optimizer(self, train_images, batch_size=None):
        """SGD with the preset's momentum and schedule (weight decay is the trainer's, on the gradients)."""
        return keras.optimizers.SGD(self.learning_rate_schedule(train_images, batch_size), momentum=self.momentum)


def _imagenet_epochs(iterations, batch_size):
    return iterations * batch_size / IMAGENET_TRAIN_IMAGES


PROTOCOLS = {
    "splitbrain": ProbeProtocol(
        image_size=227, batch_size=256, epochs=_imagenet_epochs(140000, 256), learning_rate=0.01, momentum=0.9,
        weight_decay=5e-4, decay_biases=False, bias_gradient_multiplier=2.0, schedule="step",
        decay_every_epochs=_imagenet_epochs(40000, 256), gamma=0.1, pooling="bilinear", batch_norm=True,
        source="richzhang/colorization feature_learning_tests/linear (train_val.prototxt, solver.prototxt)"),
    "deepcluster": ProbeProtocol(
        image_size=224, batch_size=256, epochs=90, learning_rate=0.01, momentum=0.9, weight_decay=1e-4,
        decay_biases=True, bias_gradient_multiplier=1.0, schedule="inverse_sqrt", pooling="average",
        batch_norm=False, source="facebookresearch/deepcluster eval_linear.py"),
}

