import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.transfer.feature_source import features_of
from spot_tf.transfer.knn import count_hits, feature_bank, knn_class_scores, pooled_features, run_knn_eval
from toy_data import colour_dataset

IMAGE_SIZE = 6
FAKE_CHANNELS = {"conv_1": 7, "conv_2": 6, "conv_3": 5, "conv_4": 5, "conv_5": 4}


def fake_feature_fn(seed=0):
    """Random conv maps derived from the images: a fixed random projection per layer, then ReLU."""
    rng = np.random.default_rng(seed)
    pixels = IMAGE_SIZE * IMAGE_SIZE * 3
    kernels = {name: tf.constant(rng.normal(size=(pixels, 2 * 2 * c)), tf.float32) for name, c in FAKE_CHANNELS.items()}

    def fn(images):
        flat = tf.reshape(images, (-1, pixels))
        return {name: tf.reshape(tf.nn.relu(tf.matmul(flat, kernels[name])), (-1, 2, 2, c))
                for name, c in FAKE_CHANNELS.items()}
    return fn


def random_data(examples, num_classes, seed, batch_size=8):
    """Random images whose label is mostly, not always, a function of them (so accuracy is in between)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (examples, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    labels = np.argmax(images.reshape(examples, -1)[:, :num_classes], axis=1)
    flip = rng.random(examples) < 0.3
    labels[flip] = rng.integers(0, num_classes, flip.sum())
    return images, labels.astype(np.int32), tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def reference_knn(train_x, train_y, test_x, test_y, num_classes, k, temperature):
    """Weighted k-NN in float64 numpy, written out directly: returns (top-1 %, top-5 %, class votes)."""
    train_x = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    test_x = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    votes = np.zeros((len(test_x), num_classes))
    for q, query in enumerate(test_x):
        similarity = train_x @ query
        for i in np.argsort(-similarity, kind="stable")[:k]:
            votes[q, train_y[i]] += np.exp(similarity[i] / temperature)
    top1 = top5 = 0
    for q, label in enumerate(test_y):
        ranking = list(np.argsort(-votes[q], kind="stable"))
        voted = votes[q, label] > 0
        top1 += voted and ranking[0] == label
        top5 += voted and label in ranking[:min(5, num_classes)]
    return 100.0 * top1 / len(test_y), 100.0 * top5 / len(test_y), votes


def numpy_pooled(fn, images, layer):
    return np.asarray(fn(tf.constant(images))[layer], np.float64).mean(axis=(1, 2))


def test_pooled_features_are_normalised_channel_means():
    maps = {"conv_1": tf.random.stateless_normal((3, 4, 5, 6), seed=(1, 2))}
    pooled = pooled_features(maps)["conv_1"].numpy()
    expected = maps["conv_1"].numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(pooled, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-5)


def test_classes_as_directions_are_classified_perfectly(tmp_path):
    # Each class is one axis of an 8-dimensional "image", plus noise; the features are the image itself.
    num_classes, rng = 8, np.random.default_rng(0)

    def directions(per_class):
        labels = np.repeat(np.arange(num_classes), per_class).astype(np.int32)
        images = np.eye(num_classes)[labels] + 0.2 * rng.normal(size=(len(labels), num_classes))
        return tf.data.Dataset.from_tensor_slices((images.reshape(-1, 1, 1, num_classes).astype(np.float32),
                                                   labels)).shuffle(200, seed=0).batch(16)

    # 16 training examples per class: 4 of the 20 neighbours are always of another class.
    results = run_knn_eval(lambda images: {name: images for name in CONV_LAYERS}, directions(16), directions(8),
                           num_classes, tmp_path, verbose=0)
    assert results == {name: {"top1": 100.0, "top5": 100.0} for name in CONV_LAYERS}


@pytest.mark.parametrize("k, temperature", [(20, 0.07), (5, 1.0), (1, 0.07)])
def test_matches_a_numpy_reference(tmp_path, k, temperature):
    fn = fake_feature_fn()
    train_x, train_y, train = random_data(120, 10, seed=1)
    test_x, test_y, test = random_data(60, 10, seed=2)
    results = run_knn_eval(fn, train, test, 10, tmp_path, k=k, temperature=temperature, bank_dtype="float32",
                           verbose=0)
    for name in CONV_LAYERS:
        top1, top5, _ = reference_knn(numpy_pooled(fn, train_x, name), train_y, numpy_pooled(fn, test_x, name),
                                      test_y, 10, k, temperature)
        assert results[name] == {"top1": top1, "top5": top5}, name
    if k == 1:  # one neighbour votes for one class: the other four "top-5" classes have no vote
        assert all(r["top1"] == r["top5"] for r in results.values())
    else:
        assert 10.0 < results["conv_1"]["top1"] < results["conv_1"]["top5"] < 100.0


def test_class_scores_are_the_log_of_the_weighted_votes():
    fn, temperature = fake_feature_fn(), 0.5
    train_x, train_y, _ = random_data(50, 6, seed=3)
    test_x, test_y, _ = random_data(20, 6, seed=4)
    bank, queries = (numpy_pooled(fn, x, "conv_2") for x in (train_x, test_x))
    *_, votes = reference_knn(bank, train_y, queries, test_y, 6, 7, temperature)
    normalise = lambda x: tf.constant(x / np.linalg.norm(x, axis=1, keepdims=True), tf.float32)  # noqa: E731
    scores = knn_class_scores(normalise(queries), normalise(bank), train_y, 6, 7, temperature).numpy()
    assert np.array_equal(np.isfinite(scores), votes > 0) and (votes == 0).any()
    np.testing.assert_allclose(np.exp(scores), votes, rtol=1e-5)


def test_near_neighbours_outweigh_a_majority():
    # Two far class-0 neighbours (similarity 0.1) against one near class-1 neighbour (0.9).
    bank = tf.constant([[0.1, np.sqrt(0.99)], [0.1, -np.sqrt(0.99)], [0.9, np.sqrt(0.19)]], tf.float32)
    scores = knn_class_scores(tf.constant([[1.0, 0.0]]), bank, [0, 0, 1], 3, 3, 0.07)
    assert int(tf.argmax(scores[0])) == 1 and scores[0, 2] == -np.inf
    # With T = 100 every weight is about 1: the majority wins.
    assert int(tf.argmax(knn_class_scores(tf.constant([[1.0, 0.0]]), bank, [0, 0, 1], 3, 3, 100.0)[0])) == 0


def test_a_class_without_a_vote_is_never_a_hit():
    scores = tf.constant([[0.0, -np.inf, -np.inf, -np.inf, -np.inf, -np.inf]] * 3)
    top1, top5 = count_hits(scores, tf.constant([0, 1, 2]), 5)
    assert (int(top1), int(top5)) == (1, 1)  # classes 1 and 2 are among the first five only by index


def test_chunk_size_does_not_change_the_results(tmp_path):
    fn = fake_feature_fn()
    _, _, train = random_data(100, 10, seed=5)
    _, _, test = random_data(40, 10, seed=6)
    results = [run_knn_eval(fn, train, test, 10, tmp_path / str(size), chunk_size=size, verbose=0)
               for size in (1, 7, 40, 1000)]
    assert all(r == results[0] for r in results[1:])


def test_two_replicas_give_the_single_device_bank_and_results(two_replicas, tmp_path):
    fn = fake_feature_fn()
    # 43 = 6 x 7 + 1: the last batch leaves one replica with no example.
    _, _, train = random_data(43, 10, seed=7, batch_size=7)
    _, _, test = random_data(30, 10, seed=8, batch_size=7)
    single, single_labels = feature_bank(fn, train, dtype="float32")
    mirrored, mirrored_labels = feature_bank(fn, train, strategy=two_replicas, dtype="float32")
    np.testing.assert_array_equal(mirrored_labels, single_labels)
    for name in CONV_LAYERS:
        assert mirrored[name].shape == (43, FAKE_CHANNELS[name])
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-6, atol=1e-7, err_msg=name)
    assert (run_knn_eval(fn, train, test, 10, tmp_path / "mirrored", k=5, strategy=two_replicas, verbose=0)
            == run_knn_eval(fn, train, test, 10, tmp_path / "single", k=5, verbose=0))


def test_float16_bank_is_the_rounded_float32_bank():
    fn = fake_feature_fn()
    _, _, train = random_data(30, 10, seed=9)
    half, _ = feature_bank(fn, train)
    full, _ = feature_bank(fn, train, dtype="float32")
    for name in CONV_LAYERS:
        assert half[name].dtype == np.float16
        np.testing.assert_array_equal(half[name], full[name].astype(np.float16), err_msg=name)


def test_a_discriminator_writes_the_report(tmp_path):
    keras.utils.set_random_seed(0)
    discriminator = Discriminator(32)
    discriminator(tf.zeros((1, 32, 32, 3)))
    train = colour_dataset(num_classes=4, examples=64, batch_size=8, seed=0)
    test = colour_dataset(num_classes=4, examples=32, batch_size=8, seed=1)
    results = run_knn_eval(features_of(discriminator, "disc"), train, test, 4, tmp_path, extra={"data": "colours"},
                           evaluated={"protocol": "test"}, verbose=0)
    assert tuple(results) == CONV_LAYERS
    assert max(r["top1"] for r in results.values()) > 90.0
    assert all(0.0 <= r["top1"] <= r["top5"] == 100.0 for r in results.values())  # 4 classes: top-5 is all
    with open(tmp_path / "results.json") as f:
        written = json.load(f)
    assert list(written) == list(CONV_LAYERS) + ["evaluated"] and written.pop("evaluated") == {"protocol": "test",
                                                                                       "test_images": 32}
    assert written == results
    assert all(set(r) == {"top1", "top5"} for r in written.values())
    assert (tmp_path / "results.md").exists() and (tmp_path / "top1.png").exists()
    with open(tmp_path / "knn_settings.json") as f:
        assert json.load(f) == {"k": 20, "temperature": 0.07, "bank_dtype": "float16", "train_examples": 64,
                                "test_examples": 32, "source": "disc", "extra": {"data": "colours"}}


def test_bad_arguments_are_named(tmp_path):
    fn = fake_feature_fn()
    _, _, ds = random_data(16, 4, seed=10)
    with pytest.raises(ValueError, match="num_classes"):
        run_knn_eval(fn, ds, ds, 1, tmp_path, verbose=0)
    for bad, match in [(dict(k=0), "k must"), (dict(k=17), "k=17 exceeds the 16"), (dict(temperature=0.0), "temp"),
                       (dict(chunk_size=0), "chunk_size"), (dict(layers=("conv_1", "fc_1")), "fc_1")]:
        with pytest.raises(ValueError, match=match):
            run_knn_eval(fn, ds, ds, 4, tmp_path, verbose=0, **bad)
    with pytest.raises(ValueError, match="no batches"):
        run_knn_eval(fn, ds.take(0), ds, 4, tmp_path, verbose=0)
    images = np.zeros((4, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
    bad_labels = tf.data.Dataset.from_tensor_slices((images, np.array([0, 1, 4, 2], np.int32))).batch(2)
    with pytest.raises(ValueError, match=r"training labels must lie in \[0, num_classes=4\), got 0..4"):
        run_knn_eval(fn, bad_labels, ds, 4, tmp_path, k=2, verbose=0)
    with pytest.raises(ValueError, match="test labels"):
        run_knn_eval(fn, ds, bad_labels, 4, tmp_path, k=2, verbose=0)
    assert not (tmp_path / "results.json").exists()
