import numpy as np
import pytest
import tensorflow as tf

from spot_tf.training.top_k import TopKAccuracies, class_scores

WEIGHTS = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32) * 4


def _logits_fn(images):
    """Two heads, each a linear map of the images' mean colour."""
    colour = tf.reduce_mean(images, axis=[1, 2])
    return {"a": tf.matmul(colour, WEIGHTS), "b": -tf.matmul(colour, WEIGHTS[:, :4])}


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_ten_crops_average_the_softmax_over_the_crops():
    images = tf.random.stateless_uniform((3, 10, 8, 8, 3), (1, 2), -1, 1)
    scores = class_scores(_logits_fn, images)
    colour = images.numpy().mean(axis=(2, 3))  # [B, crops, 3]
    for name, weights in (("a", WEIGHTS), ("b", -WEIGHTS[:, :4])):
        expected = _softmax(colour @ weights).mean(axis=1)
        np.testing.assert_allclose(scores[name].numpy(), expected, rtol=1e-5, atol=1e-6)
        assert scores[name].dtype == tf.float32
        # The mean of the probabilities, not the softmax of the mean logit.
        assert not np.allclose(expected, _softmax((colour @ weights).mean(axis=1)), atol=1e-3)


def test_a_batch_of_single_images_gives_the_logits():
    images = tf.random.stateless_uniform((3, 8, 8, 3), (3, 4), -1, 1)
    scores = class_scores(_logits_fn, images)
    for name, logits in _logits_fn(images).items():
        np.testing.assert_array_equal(scores[name].numpy(), logits.numpy())


def test_ten_crops_in_a_graph_with_an_unknown_batch():
    fn = tf.function(lambda x: class_scores(_logits_fn, x), input_signature=[tf.TensorSpec([None, 10, 8, 8, 3])])
    images = tf.random.stateless_uniform((2, 10, 8, 8, 3), (5, 6), -1, 1)
    np.testing.assert_allclose(fn(images)["a"].numpy(), class_scores(_logits_fn, images)["a"].numpy(), rtol=1e-6)


def test_accuracies_in_percent_and_top5_beyond_the_top1():
    accuracies = TopKAccuracies(("conv_1", "conv_5"), num_classes=10)
    # Label ranks 0, 4, 5 and 0 (0 = the best score): top-1 2 of 4, top-5 3 of 4.
    scores = np.tile(np.arange(10, 0, -1, dtype=np.float32), (4, 1))
    labels = np.array([0, 4, 5, 0])
    accuracies.update(labels, {"conv_1": scores, "conv_5": scores[:, ::-1].copy()})
    assert accuracies.examples() == 4
    assert accuracies.results() == {"conv_1": {"top1": 50.0, "top5": 75.0},
                                    "conv_5": {"top1": 0.0, "top5": pytest.approx(25.0)}}
    logs = {name: value.numpy() for name, value in accuracies.logs().items()}
    assert set(logs) == {"conv_1_top1", "conv_1_top5", "conv_5_top1", "conv_5_top5"}
    assert logs["conv_1_top1"].shape == (1,) and logs["conv_1_top5"][0] == pytest.approx(75.0)
    # A second batch (label ranks 0 and 9) adds to the counts: 3 of 6 and 4 of 6.
    accuracies.update(np.array([0, 9]), {"conv_1": scores[:2], "conv_5": scores[:2]})
    assert accuracies.results()["conv_1"] == pytest.approx({"top1": 50.0, "top5": 400.0 / 6})
    assert accuracies.examples() == 6


def test_top5_is_capped_at_the_number_of_classes():
    accuracies = TopKAccuracies(("conv_5",), num_classes=3)
    assert [metric.get_config()["k"] for metric in accuracies.metrics.values()] == [1, 3]
    scores = np.array([[3.0, 2.0, 1.0]] * 3, np.float32)
    accuracies.update(np.array([0, 1, 2]), {"conv_5": scores})
    assert accuracies.results() == {"conv_5": {"top1": pytest.approx(100.0 / 3), "top5": 100.0}}
    assert TopKAccuracies(("x",), num_classes=1000).metrics["x", "top5"].get_config()["k"] == 5


def test_the_examples_of_every_replica_count_once(two_replicas):
    with two_replicas.scope():
        accuracies = TopKAccuracies(("conv_1",), num_classes=3)

    def step():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        size = 2 + replica  # replicas test 2 and 3 examples: an uneven last batch
        accuracies.update(tf.zeros([size], tf.int32), {"conv_1": tf.one_hot(tf.zeros([size], tf.int32), 3)})

    two_replicas.run(tf.function(step))
    assert accuracies.examples() == 5 and accuracies.results()["conv_1"]["top1"] == pytest.approx(100.0)
