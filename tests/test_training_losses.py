import numpy as np
import pytest
import tensorflow as tf

from spot_tf.errors import SettingError
from spot_tf.training import losses


def _outputs(batch=3, grid=2, size=8, seed=0):
    rng = np.random.RandomState(seed)
    return {"logits": tf.constant(rng.normal(size=(2 * batch, 2)), tf.float32),
            "mask_logits": tf.constant(rng.normal(size=(2 * batch, grid * grid)), tf.float32),
            "mask": tf.constant((rng.uniform(size=(batch, grid, grid, 1)) < 0.5).astype(np.float32)),
            "repaired": tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)), tf.float32)}


def _softmax_ce(logits, labels):
    logits = logits - logits.max(1, keepdims=True)
    return -(logits[np.arange(len(labels)), labels] - np.log(np.exp(logits).sum(1)))


def test_terms_match_a_numpy_reference():
    out = _outputs()
    images = tf.random.stateless_uniform((3, 8, 8, 3), (1, 2), -1, 1)
    terms, d_total, r_total = losses.spot_losses(images, out, tf.constant(0.5), tf.constant(0.25), 3, "paper")
    logits, mask = out["logits"].numpy(), out["mask"].numpy()
    real = np.array([1, 1, 1, 0, 0, 0])
    assert float(terms["real_fake_ce"]) == pytest.approx(_softmax_ce(logits, real).mean(), rel=1e-5)
    assert float(terms["swapped_ce"]) == pytest.approx(_softmax_ce(logits, 1 - real).mean(), rel=1e-5)
    labels = np.concatenate([np.ones_like(mask), mask]).reshape(6, 4)
    z = out["mask_logits"].numpy()
    sigmoid_ce = np.maximum(z, 0) - z * labels + np.log1p(np.exp(-np.abs(z)))
    assert float(terms["mask_ce_x0.1"]) == pytest.approx(0.1 * sigmoid_ce.mean(), rel=1e-5)
    weights = np.repeat(np.repeat(mask, 4, 1), 4, 2) * np.ones((1, 1, 1, 3))
    squared = weights * (out["repaired"].numpy() - images.numpy()) ** 2
    assert float(terms["masked_mse_x30"]) == pytest.approx(30 * squared.sum() / weights.sum(), rel=1e-5)
    assert float(d_total) == pytest.approx(float(terms["real_fake_ce"] + terms["mask_ce_x0.1"]) + 0.25, rel=1e-6)
    assert float(r_total) == pytest.approx(float(terms["swapped_ce"] + terms["masked_mse_x30"]) + 0.5, rel=1e-6)


def test_code_variant_adds_the_discriminator_terms():
    out = _outputs(seed=1)
    images = tf.zeros((3, 8, 8, 3))
    terms, _, r_paper = losses.spot_losses(images, out, 0.0, 0.0, 3, "paper")
    _, _, r_code = losses.spot_losses(images, out, 0.0, 0.0, 3, "code")
    assert float(r_code - r_paper) == pytest.approx(float(terms["real_fake_ce"] + terms["mask_ce_x0.1"]), rel=1e-6)
    with pytest.raises(SettingError, match="must be one of code, paper") as raised:
        losses.spot_losses(images, out, 0.0, 0.0, 3, "gan")
    assert (raised.value.setting, raised.value.value) == ("generator_loss", "gan")


def test_dropped_pixels_do_not_count_in_the_repair_mse():
    out = _outputs(seed=2)
    images = out["repaired"]
    changed = out["repaired"] + (1.0 - tf.repeat(tf.repeat(out["mask"], 4, 1), 4, 2)) * 5.0
    same = losses.repair_terms(images, changed, out["logits"], out["mask"], 3)["masked_mse_x30"]
    assert float(same) == 0.0


def test_autoencoder_loss_is_30_mse():
    images = tf.zeros((2, 4, 4, 3))
    assert float(losses.autoencoder_loss(images, tf.fill((2, 4, 4, 3), 0.5), 2)["reconstruction_mse_x30"]) == \
        pytest.approx(30 * 0.25)


def test_terms_are_per_replica_shares(two_replicas):
    """Both replicas hold the same half: their shares add up to the loss of that half on one device."""
    out = _outputs(batch=2, seed=3)
    images = tf.random.stateless_uniform((2, 8, 8, 3), (3, 4), -1, 1)
    single, _, _ = losses.spot_losses(images, out, 0.0, 0.0, global_batch=2)
    shares = two_replicas.run(lambda: losses.spot_losses(images, out, 0.0, 0.0, global_batch=4)[0])
    for key in ("real_fake_ce", "mask_ce_x0.1", "swapped_ce", "masked_mse_x30"):
        total = two_replicas.reduce("SUM", shares[key], axis=None)
        assert float(total) == pytest.approx(float(single[key]), rel=1e-5), key
