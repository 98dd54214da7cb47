"""Tests of spot_tf/training/voc_protocols.py: the references' constants and the fine-tuning's schedule."""
import numpy as np

from spot_tf.training.voc_protocols import FINETUNE, PAPER_MAP, SVM


def test_the_fine_tuning_preset_is_krahenbuhls():
    assert (FINETUNE.image_size, FINETUNE.batch_size, FINETUNE.steps, FINETUNE.test_crops) == (227, 16, 80000, 10)
    assert (FINETUNE.weight_decay, FINETUNE.clip_norm, FINETUNE.bias_gradient_multiplier) == (1e-6, 10.0, 2.0)
    assert FINETUNE.metric == "sklearn" and SVM.metric == "vocap" and (SVM.image_size, SVM.folds) == (227, 3)
    assert PAPER_MAP == {"trained": 69.8, "random": 53.3}


def test_sgd_halves_the_learning_rate_every_10000_steps():
    optimizer = FINETUNE.optimizer()
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 9999, 10000, 25000, 79999)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 5e-4, 2.5e-4, 1e-3 / 128], rtol=1e-6)
    assert abs(float(optimizer.momentum) - 0.9) < 1e-9
