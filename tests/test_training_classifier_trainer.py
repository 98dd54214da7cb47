import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.training.classifier_trainer import ClassifierTrainer, batch_accuracy, classification_loss

CLASSES = 8


class _ColourClassifier(ClassifierTrainer):
    """The smallest ClassifierTrainer: one dense head on the images' mean colour."""

    def __init__(self, model, **kwargs):
        super().__init__(model, ("loss",), ("head",), CLASSES, **kwargs)

    def logits(self, images, training):
        return {"head": self.model(tf.reduce_mean(images, axis=[1, 2]), training=training)}

    def trained_variables(self):
        return self.model.trainable_variables


def _trainer(weights=None):
    model = keras.Sequential([keras.layers.Dense(CLASSES, kernel_initializer=keras.initializers.GlorotUniform(0),
                                                 bias_initializer=keras.initializers.RandomNormal(seed=1))])
    model.build((None, 3))
    if weights is not None:
        model.set_weights(weights)
    trainer = _ColourClassifier(model)
    trainer.compile(keras.optimizers.SGD(0.1, momentum=0.9))
    return trainer


def _test_set(crops=None, examples=13, seed=0):
    rng = np.random.default_rng(seed)
    shape = (examples,) + ((crops,) if crops else ()) + (4, 4, 3)
    images = rng.uniform(-1, 1, shape).astype(np.float32)
    labels = rng.integers(0, CLASSES, examples).astype(np.int32)
    return images, labels


def _expected(trainer, images, labels):
    """numpy top-1 / top-5 over every example (the 10-crop test averages the softmax)."""
    kernel, bias = trainer.model.get_weights()
    if images.ndim == 5:
        logits = images.mean(axis=(2, 3)) @ kernel + bias
        e = np.exp(logits - logits.max(-1, keepdims=True))
        scores = (e / e.sum(-1, keepdims=True)).mean(axis=1)
    else:
        scores = images.mean(axis=(1, 2)) @ kernel + bias
    rank = (scores > scores[np.arange(len(labels)), labels][:, None]).sum(-1)
    return {"head": {"top1": 100.0 * np.mean(rank < 1), "top5": 100.0 * np.mean(rank < 5)}}


def _approx(results):
    return {head: pytest.approx(scores, abs=1e-4) for head, scores in results.items()}


def test_compile_builds_the_optimizer_on_the_trained_variables():
    trainer = _trainer()
    assert trainer.built and trainer.optimizer.built
    assert trainer.step is trainer.optimizer.iterations and trainer.optimizers() == [trainer.optimizer]
    # SGD momentum: one velocity per trained variable, of its shape.
    velocities = [v for v in trainer.optimizer.variables if v.shape != ()]
    assert [tuple(v.shape) for v in velocities] == [(3, CLASSES), (CLASSES,)]


@pytest.mark.parametrize("crops", [None, 3])
def test_results_count_every_example_once_on_one_device(crops):
    images, labels = _test_set(crops)
    trainer = _trainer()
    expected = _expected(trainer, images, labels)
    # 13 examples in batches of 4: the last batch holds one.
    results = trainer.test_results(tf.data.Dataset.from_tensor_slices((images, labels)).batch(4))
    assert results == _approx(expected)
    assert 0.0 < expected["head"]["top1"] < expected["head"]["top5"] < 100.0  # the test tells them apart
    # Dropping the last example, or counting it twice, would change both.
    for index in (np.arange(12), np.r_[np.arange(13), 12]):
        other = _expected(trainer, images[index], labels[index])["head"]
        assert other["top1"] != expected["head"]["top1"] and other["top5"] != expected["head"]["top5"]
    # A second evaluation starts from zero counts.
    again = trainer.test_results(tf.data.Dataset.from_tensor_slices((images[:4], labels[:4])).batch(4))
    assert again == _approx(_expected(trainer, images[:4], labels[:4]))


@pytest.mark.parametrize("crops", [None, 3])
@pytest.mark.parametrize("distribution", ["keras", "per_replica_pipeline"])
def test_results_count_every_example_once_under_two_replicas(two_replicas, crops, distribution):
    images, labels = _test_set(crops)
    single = _trainer()
    strategy = two_replicas
    with strategy.scope():
        mirrored = _trainer(single.model.get_weights())
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if distribution == "keras":
        # Keras splits each global batch of 4: the last one gives one replica 1 example, the other none.
        test = dataset.batch(4)
    else:
        # As the phases: one pipeline batching per replica (2), the replicas taking turns.
        test = strategy.distribute_datasets_from_function(
            lambda context: dataset.batch(context.get_per_replica_batch_size(4)))
    expected = single.test_results(dataset.batch(4))
    assert expected == _approx(_expected(single, images, labels))
    assert mirrored.test_results(test) == _approx(expected)


def test_the_loss_is_the_replicas_share_of_the_batch_mean(two_replicas):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, CLASSES)).astype(np.float32) * 3
    labels = np.array([1, 5, 0, 7], np.int32)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    per_example = -log_softmax[np.arange(4), labels]
    assert float(classification_loss(labels, logits)) == pytest.approx(per_example.mean(), rel=1e-5)
    strategy = two_replicas
    data = next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((logits, labels)).batch(4))))
    shares = strategy.run(tf.function(lambda x, y: classification_loss(y, x)), args=data)
    first, second = (float(s) for s in strategy.experimental_local_results(shares))
    # Each replica: its examples' sum over the global batch of 4; the shares sum to the mean.
    assert (first, second) == pytest.approx((per_example[:2].sum() / 4, per_example[2:].sum() / 4), rel=1e-5)
    assert first + second == pytest.approx(per_example.mean(), rel=1e-5)


def test_batch_accuracy_is_the_fraction_of_arg_max_hits():
    logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.5, 0.0]], np.float32)
    assert float(batch_accuracy(np.array([1, 0, 0, 1]), logits)) == pytest.approx(0.5)
    assert float(batch_accuracy(np.array([1, 0, 2, 0], np.int64), tf.constant(logits, tf.bfloat16))) == 1.0
