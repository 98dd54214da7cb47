import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.errors import SettingError
from spot_tf.models import SpotModel
from spot_tf.optim.optimization import make_adam
from spot_tf.run.precision import precision
from spot_tf.training.spot_trainer import SpotTrainer

SIZE, BATCH = 32, 8


def _trainer(generator_loss="code", sync_batch_norm=False, dropout_rate=0.5, seed=0, weights=None):
    model = SpotModel(image_size=SIZE, sync_batch_norm=sync_batch_norm, dropout_rate=dropout_rate)
    if weights is not None:
        model.build()
        model.set_weights(weights)
    trainer = SpotTrainer(model, generator_loss=generator_loss, seed=seed)
    trainer.compile(make_adam(3e-4), make_adam(3e-4), jit_compile=False)
    return trainer


def _batch(seed=0, duplicate_halves=False):
    """A batch whose two halves (one per replica) keep as many entries, or are equal."""
    rng = np.random.RandomState(seed)
    images = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)
    mask = (rng.uniform(size=(BATCH // 2, 2, 2, 1)) < 0.3).astype(np.float32)
    if duplicate_halves:
        images[BATCH // 2:] = images[:BATCH // 2]
        mask = np.concatenate([mask, mask])
    else:
        # The same count of kept entries per half: the masked MSE is a mean per replica (per tower).
        mask = np.concatenate([mask, mask[:, ::-1, ::-1]])
    return {"images": images, "mask": mask}


def _one_step(trainer, batch):
    history = trainer.fit(tf.data.Dataset.from_tensors(batch).repeat(), epochs=1, steps_per_epoch=1, verbose=0,
                          shuffle=False)
    return {k: v[-1] for k, v in history.history.items()}


def test_step_trains_repair_and_discriminator_only():
    trainer = _trainer()
    model = trainer.model
    frozen = [v.numpy().copy() for v in model.autoencoder.weights]
    repair = [v.numpy().copy() for v in model.repair.trainable_variables]
    disc = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    logs = _one_step(trainer, _batch())
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(frozen, model.autoencoder.weights))
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(repair, model.repair.trainable_variables))
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(disc, model.discriminator.trainable_variables))
    assert int(trainer.repair_optimizer.iterations) == 1 and int(trainer.discriminator_optimizer.iterations) == 1
    for key in ("real_fake_ce", "mask_ce_x0.1", "swapped_ce", "masked_mse_x30", "accuracy_real", "mask_accuracy"):
        assert np.isfinite(logs[key])
    # The repair total of the code variant holds the discriminator's terms (quirk 1).
    expected = logs["swapped_ce"] + logs["masked_mse_x30"] + logs["l2_repair"] + logs["real_fake_ce"] + \
        logs["mask_ce_x0.1"]
    assert logs["repair_loss"] == pytest.approx(expected, rel=1e-5)


def test_generator_loss_variants_differ_only_for_the_repair_network():
    batch = _batch(1)
    code = _trainer("code")
    paper = _trainer("paper", weights=code.model.get_weights())
    fixed = dict(images=tf.constant(batch["images"]), mask=tf.constant(batch["mask"]),
                 dropout_mask=tf.ones((2 * BATCH, 1, 1, 4096)))
    _, _, d_code, r_code, rg_code, dg_code = code.compute_gradients(**fixed)
    _, terms, d_paper, r_paper, rg_paper, dg_paper = paper.compute_gradients(**fixed)
    assert float(d_code) == pytest.approx(float(d_paper), rel=1e-6)
    for a, b in zip(dg_code, dg_paper):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    assert float(r_code - r_paper) == pytest.approx(float(terms["real_fake_ce"] + terms["mask_ce_x0.1"]), rel=1e-4)
    assert max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(rg_code, rg_paper)) > 1e-6


def test_bias_gradients_are_doubled():
    trainer = _trainer(dropout_rate=0.0)
    batch = _batch(2)
    _, _, _, _, r_grads, _ = trainer.compute_gradients(tf.constant(batch["images"]), tf.constant(batch["mask"]))
    variables = trainer.model.repair.trainable_variables
    bias = next(i for i, v in enumerate(variables) if v.path.endswith("conv2/conv/bias"))
    before = variables[bias].numpy().copy()
    _one_step(trainer, batch)
    # Adam hides a gradient's scale in its step, not in its first moment m = (1 - beta_1) * g.
    m = trainer.repair_optimizer._momentums[bias].numpy()
    g = r_grads[bias].numpy()
    big = np.abs(g) > 1e-3 * np.max(np.abs(g))
    assert np.median(m[big] / ((1 - 0.5) * g[big])) == pytest.approx(2.0, rel=1e-3)
    weight = next(i for i, v in enumerate(variables) if v.path.endswith("conv2/conv/kernel"))
    g = r_grads[weight].numpy()
    big = np.abs(g) > 1e-3 * np.max(np.abs(g))
    assert np.median(trainer.repair_optimizer._momentums[weight].numpy()[big] / (0.5 * g[big])) == \
        pytest.approx(1.0, rel=1e-3)
    assert not np.array_equal(before, variables[bias].numpy())


def test_masks_differ_per_step_and_resume_reproduces_them():
    trainer = _trainer()
    a = trainer._seeds()
    trainer.repair_optimizer.iterations.assign(5)
    b = trainer._seeds()
    assert not np.array_equal(a[0], b[0]) and not np.array_equal(a[0], a[1])
    other = _trainer()
    other.repair_optimizer.iterations.assign(5)
    np.testing.assert_array_equal(other._seeds()[0], b[0])


@pytest.mark.parametrize("sync_batch_norm,duplicate_halves", [(True, False), (False, True)])
def test_one_device_equals_two_replicas(sync_batch_norm, duplicate_halves, two_replicas):
    """Same weights, batch and mask: one step on one device == one step on two CPU replicas.

    Each replica normalises like one of the original's towers: batch-norm statistics (unless
    synchronized) and the masked MSE are per replica. So with per-replica batch norm the halves are
    equal; with synchronized batch norm only their kept counts are.
    """
    batch = _batch(3, duplicate_halves)
    single = _trainer(sync_batch_norm=sync_batch_norm, dropout_rate=0.0)
    start = single.model.get_weights()
    single_logs = _one_step(single, batch)
    strategy = two_replicas
    with strategy.scope():
        mirrored = _trainer(sync_batch_norm=sync_batch_norm, dropout_rate=0.0, weights=start)
    mirrored_logs = _one_step(mirrored, batch)
    for key in ("discriminator_loss", "repair_loss", "real_fake_ce", "masked_mse_x30", "l2_repair"):
        assert mirrored_logs[key] == pytest.approx(single_logs[key], rel=1e-4), key
    pairs = list(zip(single.model.get_weights(), mirrored.model.get_weights()))
    pairs += [(a.numpy(), b.numpy()) for a, b in zip(single.ema.averages, mirrored.ema.averages)]
    _assert_same_adam_step(pairs)


def _assert_same_adam_step(pairs, lr=3e-4):
    # Adam's first step is lr * g / (|g| + eps): where |g| ~ eps (1e-5), float noise in g (a different
    # summation order over replicas) moves that entry's update by up to lr. Every other entry agrees
    # to float precision (an entry whose g is noise may flip sign: 2 lr); the gradients themselves are
    # compared exactly in the next test.
    off = sum(int(np.sum(~np.isclose(a, b, rtol=1e-4, atol=3e-5))) for a, b in pairs)
    total = sum(a.size for a, _ in pairs)
    assert off <= 1e-2 * total, f"{off} of {total} entries differ"
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=0, atol=2 * lr)


def test_replica_gradients_sum_to_the_single_device_gradient(two_replicas):
    """The per-replica loss scaling: the SUM all-reduce of replica gradients is the global gradient."""
    # Fixed initial weights: how many leaky-ReLU signs flip (below) depends on them, not on test order.
    keras.utils.set_random_seed(0)
    batch = _batch(4, duplicate_halves=True)
    single = _trainer(dropout_rate=0.0)
    start = single.model.get_weights()
    _, _, _, _, r_single, d_single = single.compute_gradients(tf.constant(batch["images"]),
                                                              tf.constant(batch["mask"]))
    strategy = two_replicas
    with strategy.scope():
        mirrored = _trainer(dropout_rate=0.0, weights=start)
    data = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))))
    step = tf.function(lambda d: strategy.run(lambda x: mirrored.compute_gradients(x["images"], x["mask"])[4:],
                                              args=(d,)))
    per_replica = step(data)
    off = total = 0
    for grads_single, grads_replicas in zip((r_single, d_single), per_replica):
        for g, g_rep in zip(grads_single, grads_replicas):
            summed = strategy.reduce(tf.distribute.ReduceOp.SUM, g_rep, axis=None).numpy()
            scale = float(np.max(np.abs(g)))
            off += int(np.sum(~np.isclose(summed, g, rtol=1e-2, atol=1e-3 * scale)))
            total += g.numpy().size
    # At 32 px repair_0's batch norm sees 16 values per channel: float noise between graph and eager
    # kernels flips a few leaky-ReLU signs (whole channels then differ). A loss-scaling error would
    # put every entry off by 50-100%.
    assert off <= 1e-3 * total, f"{off} of {total} gradient entries differ"


def test_replicas_draw_different_masks(two_replicas):
    strategy = two_replicas
    with strategy.scope():
        trainer = _trainer()
    seeds = strategy.run(lambda: trainer._seeds()[0])
    a, b = strategy.experimental_local_results(seeds)
    assert not np.array_equal(a.numpy(), b.numpy())


def test_unknown_generator_loss():
    with pytest.raises(SettingError, match="must be one of code, paper") as raised:
        SpotTrainer(SpotModel(image_size=32), generator_loss="gan")
    assert raised.value.setting == "generator_loss"


def test_no_placeholder_optimizer_for_keras_callbacks_to_adjust():
    trainer = _trainer()
    # Two networks, two optimizers: Keras' `optimizer` is None, not a default RMSprop nothing uses.
    assert trainer.optimizer is None
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1)
    scheduler.set_model(trainer)
    with pytest.raises(ValueError, match="learning_rate"):  # a stock callback fails instead of acting on nothing
        scheduler.on_epoch_begin(0)
    assert float(trainer.repair_optimizer.learning_rate) == pytest.approx(3e-4)
    checkpoint = trainer.checkpoint()
    assert checkpoint.repair_optimizer is trainer.repair_optimizer
    assert checkpoint.discriminator_optimizer is trainer.discriminator_optimizer


def test_bf16_step_runs_through_keras_fit_in_graph_mode():
    """One mixed_bfloat16 step through fit's compiled train_function (the path that aborted on AMX CPUs).

    The graph holds no matmul with a left operand of rank > 2 (the oneDNN heap-corruption pattern of
    TF 2.21): fc_1 is a [B, h*w*c] x [h*w*c, 4096] matmul; this only checks that the whole step runs.
    """
    size, batch = 32, 4
    images = np.random.RandomState(5).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    with precision("bf16"):
        trainer = _trainer()
        assert trainer.model.discriminator.fc_1.compute_dtype == "bfloat16"
        assert not trainer.run_eagerly
        history = trainer.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=1, steps_per_epoch=1,
                              verbose=0, shuffle=False)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert int(trainer.step) == 1 and int(trainer.discriminator_optimizer.iterations) == 1
    for key in ("discriminator_loss", "repair_loss", "real_fake_ce", "mask_ce_x0.1", "swapped_ce", "masked_mse_x30"):
        assert np.isfinite(logs[key]), key
    assert all(v.dtype == "float32" and np.all(np.isfinite(v.numpy())) for v in trainer.model.trainable_variables)


def test_with_loss_scaling_an_update_skipped_by_one_network_is_skipped_by_both():
    trainer = SpotTrainer(SpotModel(image_size=SIZE))
    trainer.compile(make_adam(3e-4, loss_scale=True), make_adam(3e-4, loss_scale=True), jit_compile=False)
    trainer.repair_optimizer.dynamic_scale.assign(math.inf)  # only the repair network's gradients overflow
    for average in trainer.ema.averages:
        average.assign(tf.zeros_like(average))  # an EMA update would move them towards the weights
    variables = trainer.model.repair.trainable_variables + trainer.model.discriminator.trainable_variables
    before = [v.numpy().copy() for v in variables]
    _one_step(trainer, _batch())
    assert int(trainer.repair_optimizer.iterations) == 0 and int(trainer.discriminator_optimizer.iterations) == 0
    assert float(trainer.discriminator_optimizer.dynamic_scale) == 2.0 ** 14
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, variables))
    assert all(not np.any(a.numpy()) for a in trainer.ema.averages)
    trainer.repair_optimizer.dynamic_scale.assign(2.0 ** 14)
    _one_step(trainer, _batch())
    assert int(trainer.repair_optimizer.iterations) == 1 and int(trainer.discriminator_optimizer.iterations) == 1
    assert all(np.any(a.numpy()) for a in trainer.ema.averages)
