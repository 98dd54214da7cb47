import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.models.conv5_classifier import head_map
from spot_tf.optim.regularization import l2_term
from spot_tf.training.builders import build_finetune_trainer
from spot_tf.training.finetune_trainer import FinetuneTrainer
from toy_data import colour_dataset

MOMENTUM = 0.975  # the discriminator's batch norms (slim's decay)
BN_STATISTICS = {"moving_mean", "moving_variance"}


def _discriminator(size=32):
    keras.utils.set_random_seed(0)
    disc = Discriminator(size)
    disc(tf.zeros((1, size, size, 3)))
    return disc


def _weights(disc):
    # Paths without the model's name, which Keras numbers apart when a session builds several.
    return {w.path.split("/", 1)[1]: w.numpy().copy() for w in disc.weights}


def _changed(disc, before):
    return {path for path, value in _weights(disc).items() if not np.array_equal(value, before[path])}


def _batch(examples=8, seed=0):
    return next(iter(colour_dataset(num_classes=4, examples=examples, batch_size=examples, seed=seed)))


def _conv_5_batch_moments(disc, images):
    """Per group of conv_5: the batch mean and (biased) variance of the convolution its batch norm sees."""
    conv_4 = disc.features(images, training=False)["conv_4"]
    moments = []
    for unit, part in zip(disc.conv_5.units, tf.split(conv_4, 2, axis=-1)):
        x = unit.conv(part).numpy().astype(np.float64).reshape(-1, unit.filters)
        moments.append((x.mean(0), x.var(0)))
    return moments


def test_the_classifier_alone_trains_and_conv_5s_batch_norms_re_estimate_their_statistics():
    disc = _discriminator()
    disc.conv_5.trainable = False  # even so: the original runs the discriminator in training mode
    before = _weights(disc)
    trainer = build_finetune_trainer(disc, 4, finetune_layers=0, steps=8, image_size=32, seed=1)
    classifier_before = [w.numpy().copy() for w in trainer.model.weights]
    images, labels = _batch()
    steps = 8
    trainer.fit(tf.data.Dataset.from_tensors((images, labels)).repeat(), epochs=1, steps_per_epoch=steps, verbose=0)
    assert int(trainer.step) == steps
    # The classifier's kernel and bias are trained.
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(classifier_before, trainer.model.weights))
    # In the discriminator only the moving statistics move, those of conv_5's two batch norms (the
    # only ones the classifier's input passes through); no weight of it is trained.
    changed = _changed(disc, before)
    assert changed == {f"conv_5/conv_{g}/BatchNorm/{name}" for g in (0, 1) for name in BN_STATISTICS}
    assert disc.conv_5.trainable
    # Re-estimated on the labelled batch: from 0 / 1 towards its moments, by 1 - 0.975 per step.
    moved = 1.0 - MOMENTUM ** steps
    for bn, (mean, variance) in zip((unit.bn for unit in disc.conv_5.units), _conv_5_batch_moments(disc, images)):
        assert np.abs(mean).max() > 1.0  # a frozen moving mean (0) would be far off
        np.testing.assert_allclose(bn.moving_mean.numpy(), moved * mean, rtol=1e-3, atol=1e-3 * np.abs(mean).max())
        np.testing.assert_allclose(bn.moving_variance.numpy(), (1.0 - moved) + moved * variance, rtol=1e-3)
    # The test uses the re-estimated statistics.
    results = trainer.test_results(tf.data.Dataset.from_tensors((images, labels)))
    assert set(results) == {"conv_5"} and set(results["conv_5"]) == {"top1", "top5"}
    logits = trainer.model(head_map(disc, images, training=False)).numpy()
    expected_top1 = 100.0 * np.mean(logits.argmax(-1) == labels.numpy())
    assert results["conv_5"]["top1"] == pytest.approx(expected_top1)


def test_one_finetuned_layer_changes_only_conv_5():
    disc = _discriminator()
    before = _weights(disc)
    trainer = build_finetune_trainer(disc, 4, finetune_layers=1, steps=3, image_size=32, seed=1)
    trainer.fit(colour_dataset(num_classes=4, examples=24, batch_size=8, seed=0), epochs=1, verbose=0)
    changed = _changed(disc, before)
    assert {path.split("/")[0] for path in changed} == {"conv_5"}
    # Both groups' kernels and offsets are trained, their statistics re-estimated.
    assert {path.split("/", 2)[2] for path in changed} == {"conv/kernel", "BatchNorm/beta", "BatchNorm/moving_mean",
                                                          "BatchNorm/moving_variance"}
    assert {path.split("/")[1] for path in changed} == {"conv_0", "conv_1"}


def test_the_trained_variables_follow_finetune_layers():
    disc = _discriminator()
    for layers, trained in ((0, ()), (1, ("conv_5",)), (2, ("conv_4", "conv_5")), (5, CONV_LAYERS)):
        trainer = build_finetune_trainer(disc, 4, finetune_layers=layers, steps=3, image_size=32)
        paths = [v.path for v in trainer.trained_variables()]
        assert paths[:2] == ["classifier/fc1/conv/kernel", "classifier/fc1/conv/bias"]
        assert {p.split("/")[1] for p in paths[2:]} == set(trained)
        # The optimizer holds a slot for the trained variables only.
        assert len(trainer.optimizer.variables) == 1 + 2 * len(paths)  # iterations, then m and v of each
    for bad in (-1, 6, 1.0):
        with pytest.raises(ValueError, match="finetune_layers"):
            build_finetune_trainer(disc, 4, finetune_layers=bad, steps=3, image_size=32)


@pytest.mark.parametrize("finetune_layers", [0, 1])
def test_the_logged_loss_total_loss_and_accuracy(finetune_layers):
    disc = _discriminator()
    trainer = build_finetune_trainer(disc, 4, finetune_layers=finetune_layers, steps=3, image_size=32, seed=1)
    images, labels = _batch(seed=2)
    # Before the step, in training mode (batch statistics), as the step computes them.
    logits = trainer.model(head_map(disc, images, training=True)).numpy().astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    loss = -np.mean(log_softmax[np.arange(len(labels)), labels.numpy()])
    units = [trainer.model] + ([disc.conv_5] if finetune_layers else [])
    # slim's L2 (5e-5 * sum(w**2) / 2) of the trained kernels only.
    l2 = sum(2.5e-5 * np.sum(v.numpy().astype(np.float64) ** 2) for unit in units for v in unit.trainable_variables
             if v.path.endswith("kernel"))
    assert float(tf.add_n([l2_term(unit) for unit in units])) == pytest.approx(l2, rel=1e-4)
    assert l2 > (1e-3 if finetune_layers else 1e-6)
    accuracy = np.mean(logits.argmax(-1) == labels.numpy())
    history = trainer.fit(tf.data.Dataset.from_tensors((images, labels)), epochs=1, verbose=0).history
    assert set(history) == {"loss", "total_loss", "acc"}
    assert history["loss"][-1] == pytest.approx(loss, rel=1e-4)
    assert history["total_loss"][-1] == pytest.approx(loss + l2, rel=1e-4)
    # The classifier's own L2 is small (kernel stddev 0.005) but there.
    assert history["total_loss"][-1] - history["loss"][-1] == pytest.approx(l2, rel=0.1, abs=3e-7)
    assert history["acc"][-1] == pytest.approx(accuracy)


def test_checkpoint_holds_the_classifier_the_discriminator_and_the_optimizer(tmp_path):
    disc = _discriminator()
    trainer = build_finetune_trainer(disc, 4, finetune_layers=0, steps=3, image_size=32, seed=1)
    trainer.fit(colour_dataset(num_classes=4, examples=16, batch_size=8), epochs=1, verbose=0)
    path = trainer.checkpoint().save(str(tmp_path / "ckpt"))
    fresh_disc = Discriminator(32)
    fresh_disc(tf.zeros((1, 32, 32, 3)))
    fresh = build_finetune_trainer(fresh_disc, 4, finetune_layers=0, steps=3, image_size=32, seed=2)
    fresh.checkpoint().restore(path).assert_existing_objects_matched()
    assert int(fresh.step) == 2
    # The re-estimated batch-norm statistics come back with the rest.
    for a, b in zip(fresh_disc.weights + fresh.model.weights + fresh.optimizer.variables,
                    disc.weights + trainer.model.weights + trainer.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=b.path)
    assert isinstance(trainer, FinetuneTrainer)
