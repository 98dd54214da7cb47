import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.models.linear_probe import LinearProbe
from spot_tf.run.distribution import scalar_value
from spot_tf.training.builders import build_probe_trainer
from spot_tf.training.probe_protocols import PROTOCOLS
from spot_tf.training.probe_trainer import ProbeTrainer, probe_logged
from spot_tf.transfer.feature_source import features_of
from toy_data import colour_dataset

CLASSES = 3
SHAPES = {"conv_1": (4, 4, 3), "conv_2": (2, 2, 3)}


@pytest.fixture(scope="module")
def discriminator():
    keras.utils.set_random_seed(0)
    disc = Discriminator(32)
    disc(tf.zeros((1, 32, 32, 3)))
    return disc


@pytest.mark.parametrize("protocol", ["splitbrain", "deepcluster"])
def test_learns_a_separable_problem_and_keeps_the_network_frozen(discriminator, protocol):
    before = [w.numpy().copy() for w in discriminator.weights]
    train = colour_dataset(num_classes=4, examples=64, batch_size=8, seed=0).shuffle(8, seed=0).repeat()
    test = colour_dataset(num_classes=4, examples=32, batch_size=8, seed=1)
    trainer = build_probe_trainer(features_of(discriminator), PROTOCOLS[protocol], 4, 32, train_images=64,
                                  batch_size=8, seed=0)
    assert trainer.model.pooling == PROTOCOLS[protocol].pooling
    history = trainer.fit(train, epochs=1, steps_per_epoch=24, verbose=0)
    assert int(trainer.step) == 24
    assert set(history.history) == set(probe_logged(CONV_LAYERS))
    results = trainer.test_results(test)
    assert tuple(results) == CONV_LAYERS
    assert max(r["top1"] for r in results.values()) > 90.0
    for name in CONV_LAYERS:
        assert 0.0 <= results[name]["top1"] <= results[name]["top5"] == 100.0  # 4 classes: top-5 is all
    for weight, value in zip(discriminator.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value, err_msg=weight.path)


def _features(images):
    """Frozen 'features' without weights: the images and every other pixel of them."""
    return {"conv_1": images, "conv_2": images[:, ::2, ::2, :], "unused": images * 0}


def _probe():
    probe = LinearProbe(SHAPES, CLASSES, target_features=12, seed=0)
    assert probe.grids == {"conv_1": (2, 2), "conv_2": (2, 2)}
    for i, head in enumerate(probe.heads):  # biases that a decay would move
        head.layers[-1].bias.assign(np.linspace(-1, 1, CLASSES) * (i + 1))
    return probe


def _trainer(weight_decay, decay_biases, multiplier, learning_rate=0.1, weights=None):
    probe = _probe()
    if weights is not None:
        probe.set_weights(weights)
    trainer = ProbeTrainer(_features, probe, weight_decay, decay_biases=decay_biases,
                           bias_gradient_multiplier=multiplier)
    trainer.compile(keras.optimizers.SGD(learning_rate, momentum=0.9))
    return trainer


def _batches(count, batch, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (batch, 4, 4, 3)).astype(np.float32), rng.integers(0, CLASSES, batch).astype(np.int32))
            for _ in range(count)]


def _dataset(batches):
    return tf.data.Dataset.from_tensor_slices(tuple(np.concatenate(part) for part in zip(*batches))).batch(
        len(batches[0][1]))


def _pooled(images, name):
    x = _features(images)[name].astype(np.float64)
    if name == "conv_1":  # 4x4 -> 2x2: the mean of each 2x2 block
        x = x.reshape(len(x), 2, 2, 2, 2, 3).mean(axis=(2, 4))
    return x.reshape(len(x), -1)


def _hand_training(weights, batches, lr, weight_decay, decay_biases, multiplier, momentum=0.9):
    """Keras' SGD (v = momentum v - lr g; w += v) on the summed cross-entropies, coupled weight decay."""
    weights = [w.astype(np.float64) for w in weights]
    velocities = [np.zeros_like(w) for w in weights]
    losses = []
    for images, labels in batches:
        grads, step_losses = [], {}
        for h, name in enumerate(SHAPES):
            kernel, bias = weights[2 * h], weights[2 * h + 1]
            x = _pooled(images, name)
            logits = x @ kernel + bias
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            step_losses[name] = -np.mean(np.log(p[np.arange(len(labels)), labels]))
            d = (p - np.eye(CLASSES)[labels]) / len(labels)
            g_kernel = x.T @ d + weight_decay * kernel
            g_bias = d.sum(0) + (weight_decay * bias if decay_biases else 0.0)
            grads += [g_kernel, multiplier * g_bias]
        losses.append(step_losses)
        for w, v, g in zip(weights, velocities, grads):
            v *= momentum
            v -= lr * g
            w += v
    return weights, losses


@pytest.mark.parametrize("decay_biases,multiplier", [(False, 2.0), (True, 1.0)])
def test_two_steps_equal_a_hand_computation(decay_biases, multiplier):
    trainer = _trainer(0.05, decay_biases, multiplier)
    start = trainer.model.get_weights()
    batches = _batches(2, 6)
    history = trainer.fit(_dataset(batches), epochs=1, verbose=0)
    expected, losses = _hand_training(start, batches, 0.1, 0.05, decay_biases, multiplier)
    assert int(trainer.step) == 2
    for got, want, variable in zip(trainer.model.get_weights(), expected, trainer.model.weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=variable.path)
    # The logged losses: the mean over the two steps of each head's loss before its update.
    for name in SHAPES:
        assert history.history[f"{name}_loss"][-1] == pytest.approx(np.mean([l[name] for l in losses]), rel=1e-5)
        assert 0.0 <= history.history[f"{name}_acc"][-1] <= 1.0


def test_the_hand_computation_tells_the_settings_apart():
    # Guards the test above: each setting changes the weights two steps reach.
    start, batches = _probe().get_weights(), _batches(2, 6)
    reference = _hand_training(start, batches, 0.1, 0.05, False, 2.0)[0]
    for other in ((0.0, False, 2.0), (0.05, True, 2.0), (0.05, False, 1.0)):
        changed = _hand_training(start, batches, 0.1, *other)[0]
        assert any(not np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(reference, changed)), other


def test_two_replicas_train_as_one_device_on_the_same_global_batches(two_replicas):
    # A large decay: were each replica to add all of it, the weights would be well off.
    settings = dict(weight_decay=0.2, decay_biases=True, multiplier=2.0, learning_rate=0.2)
    batches = _batches(2, 8, seed=1)
    single = _trainer(**settings)
    start = single.model.get_weights()
    single_logs = single.fit(_dataset(batches), epochs=1, verbose=0).history
    strategy = two_replicas
    with strategy.scope():
        mirrored = _trainer(**settings, weights=start)
    mirrored_logs = mirrored.fit(_dataset(batches), epochs=1, verbose=0).history
    assert scalar_value(mirrored.step) == int(single.step) == 2
    for a, b, variable in zip(mirrored.model.get_weights(), single.model.get_weights(), single.model.weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=variable.path)
    assert any(not np.allclose(a, b) for a, b in zip(start, single.model.get_weights()))
    for key in single_logs:
        assert mirrored_logs[key][-1] == pytest.approx(single_logs[key][-1], rel=1e-5), key


def test_checkpoint_holds_the_probe_and_its_optimizer_not_the_network(discriminator, tmp_path):
    train = colour_dataset(num_classes=4, examples=16, batch_size=8, seed=0)
    trainer = build_probe_trainer(features_of(discriminator), PROTOCOLS["splitbrain"], 4, 32, train_images=16,
                                  batch_size=8, seed=0)
    trainer.fit(train, epochs=1, verbose=0)
    path = trainer.checkpoint().save(str(tmp_path / "ckpt"))
    saved = [name for name, _ in tf.train.list_variables(path) if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    roots = {name.split("/")[0] for name in saved}
    assert roots == {"probe", "optimizer", "save_counter"}
    # Every probe variable (dense weights and batch-norm sums), every optimizer variable, nothing else
    # (a variable reachable twice, as the dense weights from the optimizer, is saved once).
    assert len(trainer.model.non_trainable_weights) == 15  # the 5 CaffeBatchNorms' sums and weights
    assert len(saved) == len(trainer.model.weights) + len(trainer.optimizer.variables) + 1
    network = {tuple(w.shape) for w in discriminator.weights} - {tuple(w.shape) for w in trainer.model.weights}
    assert not network & {tuple(shape) for _, shape in tf.train.list_variables(path)}
    # Restored into a fresh trainer: the probe (its batch-norm statistics too) and the optimizer come back.
    fresh = build_probe_trainer(features_of(discriminator), PROTOCOLS["splitbrain"], 4, 32, train_images=16,
                                batch_size=8, seed=1)
    fresh.checkpoint().restore(path).assert_existing_objects_matched()
    assert int(fresh.step) == 2
    assert float(fresh.model.heads[0].layers[1].weight_sum.numpy()) == pytest.approx(1.999)
    for a, b in zip(fresh.model.weights + fresh.optimizer.variables,
                    trainer.model.weights + trainer.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=b.path)
