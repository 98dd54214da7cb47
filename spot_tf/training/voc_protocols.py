"""The two PASCAL VOC 2007 classification protocols, one preset each: every full-protocol constant
lives here (see ../shared/VOC07.md for their sources).

FINETUNE: Krähenbühl et al. 2016 (philkr/voc-classification src/train_cls.py, experiments/ALL_PARAMS):
80,000 SGD steps of 16 random 227 px crops (momentum 0.9, lr 0.001 halved every 10,000 steps, weight
decay 1e-6 on weights and biases, bias lr x2, gradients clipped at global norm 10); sigmoid
cross-entropy with the difficult-only entries masked; 10 random crops summed at test; mAP by
sklearn's average_precision_score with the reference's pessimistic tie-break.

SVM: Goyal et al. 2019 (fair_self_supervision_benchmark tools/svm, VISSL svm_voc07): 227x227
images, conv features average-pooled to the probe grids and L2-normalised, one linear SVM per class
and layer, costs chosen by 3-fold cross-validation on trainval; mAP as the area under the monotone
precision-recall curve (VOCap).
"""
import dataclasses

import keras

from spot_tf.optim.schedules import step_decay



@dataclasses.dataclass(frozen=True)
class FinetuneProtocol:
    """Krähenbühl et al.'s fine-tuning.

    Args:
        image_size: Side of the crops.
        batch_size: Images per step.
        steps: Training steps.
        learning_rate: SGD's initial learning rate.
        decay_every: Steps between the learning rate's halvings.
        gamma: Factor of each decay.
        momentum: SGD momentum.
        weight_decay: L2 added to the gradients of weights and biases.
        bias_gradient_multiplier: Caffe's bias lr_mult.
        clip_norm: Global L2 norm the gradients are clipped to.
        test_crops: Random crops whose logits are summed at test.
        metric: The protocol's metric (a spot_tf.transfer.voc_metrics metric).
        source: Where the numbers come from.
    """

    image_size: int = 227
    batch_size: int = 16
    steps: int = 80000
    learning_rate: float = 0.001
    decay_every: int = 10000
    gamma: float = 0.5
    momentum: float = 0.9
    weight_decay: float = 1e-6
    bias_gradient_multiplier: float = 2.0
    clip_norm: float = 10.0
    test_crops: int = 10
    metric: str = "sklearn"
    source: str = "Krähenbühl et al. 2016, philkr/voc-classification (train_cls.py, ALL_PARAMS)"

    def optimizer(self):
        """SGD with momentum and the step schedule (weight decay and clipping are the trainer's)."""
        return keras.optimizers.SGD(step_decay(self.learning_rate, self.decay_every, self.gamma),
                                    momentum=self.momentum)


@dataclasses.dataclass(frozen=True)
class SVMProtocol:
    """Goyal et al.'s linear SVMs on frozen features.

    Args:
        image_size: Side of the (squashed) images.
        folds: Cross-validation folds of the cost sweep.
        metric: The protocol's metric (a spot_tf.transfer.voc_metrics metric).
        source: Where the numbers come from.
    """

    image_size: int = 227
    folds: int = 3
    metric: str = "vocap"
    source: str = "Goyal et al. 2019, fair_self_supervision_benchmark tools/svm and VISSL svm_voc07"


FINETUNE = FinetuneProtocol()
SVM = SVMProtocol()
# The paper's VOC07 classification (Jenni & Favaro 2018; random row as Pathak et al. report it).
PAPER_MAP = {"trained": 69.8, "random": 53.3}
