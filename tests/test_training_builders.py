import keras
import pytest

from spot_tf.optim.optimization import current_learning_rate
from spot_tf.run.precision import precision
from spot_tf.settings import RunSettings
from spot_tf.training.builders import build_autoencoder_trainer, build_spot_trainer


def _settings(**values):
    return RunSettings.from_flat("/tmp/unused", {"image_size": 32, "ae_steps": 10, "spot_steps": 20,
                                                 "learning_rate": 1e-3, **values}).validate()


def test_trainers_follow_the_settings():
    autoencoder = build_autoencoder_trainer(_settings())
    assert autoencoder.model.depth == 4 and autoencoder.optimizer is not None
    assert float(current_learning_rate(autoencoder.optimizer)) == pytest.approx(1e-3)
    autoencoder.optimizer.iterations.assign(9)  # the linear policy ends at 90% of ae_steps
    assert float(current_learning_rate(autoencoder.optimizer)) == pytest.approx(1e-5)
    spot = build_spot_trainer(_settings(keep_prob=0.5, generator_loss="paper", seed=3))
    assert spot.model.get_config()["keep_prob"] == 0.5 and spot.model.image_size == 32
    assert spot.generator_loss == "paper" and spot.seed == 3
    spot.repair_optimizer.iterations.assign(9)  # halfway through 90% of spot_steps
    assert float(current_learning_rate(spot.repair_optimizer)) == pytest.approx(1e-3 - 0.5 * (1e-3 - 1e-5))
    assert spot.repair_optimizer is not spot.discriminator_optimizer


def test_fp16_scales_the_loss_and_bf16_computes_in_bfloat16():
    with precision("fp16"):
        trainer = build_autoencoder_trainer(_settings(mixed_precision="fp16"))
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    with precision("bf16"):
        trainer = build_spot_trainer(_settings(mixed_precision="bf16"))
    assert trainer.model.discriminator.compute_dtype == "bfloat16"
    assert not isinstance(trainer.repair_optimizer, keras.optimizers.LossScaleOptimizer)


def test_initial_weights_follow_the_seed():
    import numpy as np
    first, again, other = (build_spot_trainer(_settings(seed=seed)).model for seed in (5, 5, 6))
    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    kernel = first.discriminator.conv_1.conv.kernel.path
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first.weights, other.weights)
               if a.path == kernel)
    ae, ae_again = (build_autoencoder_trainer(_settings(seed=5)).model for _ in range(2))
    for a, b in zip(ae.weights, ae_again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
