import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.caffe_batch_norm import CaffeBatchNorm


CHANNEL_MEANS = np.array([-4.0, -2.0, 2.0, 4.0, 6.0])


def _batches(count, shape=(4, 3, 2, 5), seed=0):
    rng = np.random.default_rng(seed)
    # Channels of different means and scales, drifting from batch to batch.
    return [(rng.normal(size=shape) * np.arange(1, shape[-1] + 1) + CHANNEL_MEANS[:shape[-1]] + 0.25 * i)
            .astype(np.float32) for i in range(count)]


def _caffe_statistics(batches, fraction=0.999):
    """Caffe's BatchNorm: decayed sums of the batch means and m/(m-1) variances, divided by their decayed weight."""
    mean_sum = variance_sum = weight = 0.0
    for x in batches:
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        m = flat.shape[0]
        mean_sum = fraction * mean_sum + flat.mean(0)
        variance_sum = fraction * variance_sum + flat.var(0) * m / (m - 1)
        weight = fraction * weight + 1.0
    return mean_sum / weight, variance_sum / weight


def test_training_normalises_with_the_batch_statistics():
    x = _batches(1)[0]
    out = CaffeBatchNorm()(x, training=True).numpy()
    flat = x.reshape(-1, 5)
    expected = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5)  # the biased variance, as Caffe
    np.testing.assert_allclose(out.reshape(-1, 5), expected, rtol=1e-4, atol=1e-4)
    normalised = out.reshape(-1, 5)
    assert np.allclose(normalised.mean(0), 0, atol=1e-5) and np.allclose(normalised.std(0), 1, atol=1e-3)


@pytest.mark.parametrize("fraction", [0.999, 0.5])
def test_inference_uses_caffes_bias_corrected_average(fraction):
    layer = CaffeBatchNorm(moving_average_fraction=fraction)
    batches = _batches(5)
    for x in batches:
        layer(x, training=True)
    mean, variance = _caffe_statistics(batches, fraction)
    np.testing.assert_allclose(layer.mean_sum.numpy() / layer.weight_sum.numpy(), mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.variance_sum.numpy() / layer.weight_sum.numpy(), variance, rtol=1e-5)
    assert float(layer.weight_sum.numpy()) == pytest.approx(sum(fraction ** i for i in range(5)))
    test = _batches(1, seed=9)[0]
    expected = (test - mean) / np.sqrt(variance + 1e-5)
    np.testing.assert_allclose(layer(test, training=False).numpy(), expected, rtol=1e-4, atol=1e-4)
    # Not the statistics of a Keras moving average started at 0 / 1 (momentum 0.999 would barely move).
    assert np.all(np.abs(mean) > 1.0)


def test_before_any_training_it_normalises_with_mean_0_and_variance_1():
    x = _batches(1)[0]
    layer = CaffeBatchNorm()
    out = layer(x).numpy()
    np.testing.assert_allclose(out, x / np.sqrt(1.0 + 1e-5), rtol=1e-6)
    assert np.all(np.isfinite(out))
    assert [w.name for w in layer.weights] == ["mean_sum", "variance_sum", "weight_sum"]
    assert not layer.trainable_weights


def test_a_one_pixel_batch_of_one_has_no_bessel_correction():
    layer = CaffeBatchNorm()
    layer(np.ones((1, 3), np.float32), training=True)
    np.testing.assert_array_equal(layer.variance_sum.numpy(), 0.0)
    np.testing.assert_array_equal(layer.mean_sum.numpy(), 1.0)


def test_mixed_precision_normalises_in_float32_and_keeps_the_compute_dtype():
    x = _batches(1)[0]
    layer = CaffeBatchNorm(dtype="mixed_bfloat16")
    out = layer(x, training=True)
    assert out.dtype == tf.bfloat16 and layer(x).dtype == tf.bfloat16
    assert layer.mean_sum.dtype == layer.variance_sum.dtype == "float32"
    flat = tf.cast(tf.cast(x, tf.bfloat16), tf.float32).numpy().reshape(-1, 5)
    np.testing.assert_allclose(layer.mean_sum.numpy(), flat.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy().reshape(-1, 5),
                               (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5), atol=2e-2)


def test_serialization_and_keras_file(tmp_path):
    layer = CaffeBatchNorm(moving_average_fraction=0.9, epsilon=1e-3)
    for x in _batches(3):
        layer(x, training=True)  # statistics the clone and the file must keep
    run_layer_test(layer, _batches(1, seed=4)[0], tmp_path, tolerance=1e-5)


def test_two_replicas_accumulate_the_mean_of_their_statistics(two_replicas):
    strategy = two_replicas
    with strategy.scope():
        layer = CaffeBatchNorm()
        layer.build((None, 3, 2, 5))
    batches = _batches(3, shape=(8, 3, 2, 5))
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(np.stack(batches)).unbatch()
                                                       .batch(8))
    step = tf.function(lambda x: strategy.run(lambda y: layer(y, training=True), args=(x,)))
    outputs = [strategy.experimental_local_results(step(x)) for x in dataset]
    # Each replica normalised its half with the half's statistics, as Caffe's single GPU did.
    for x, (first, second) in zip(batches, outputs):
        for half, out in ((x[:4], first), (x[4:], second)):
            flat = half.reshape(-1, 5)
            np.testing.assert_allclose(out.numpy().reshape(-1, 5), (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5),
                                       rtol=1e-4, atol=1e-4)
    # The sums are the average of the two replicas' sums: each step adds the mean of the halves' statistics.
    halves = [_caffe_statistics([x[:4] for x in batches]), _caffe_statistics([x[4:] for x in batches])]
    for variable in (layer.mean_sum, layer.variance_sum, layer.weight_sum):
        a, b = (v.numpy() for v in strategy.experimental_local_results(variable.value))
        np.testing.assert_array_equal(a, b)  # the replicas agree
    weight = float(layer.weight_sum.numpy())
    assert weight == pytest.approx(1 + 0.999 + 0.999 ** 2)
    np.testing.assert_allclose(layer.mean_sum.numpy() / weight, (halves[0][0] + halves[1][0]) / 2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.variance_sum.numpy() / weight, (halves[0][1] + halves[1][1]) / 2, rtol=1e-5)
    # Not the whole batch's variance (the halves' means differ per replica): per-replica statistics.
    assert not np.allclose(layer.variance_sum.numpy() / weight, _caffe_statistics(batches)[1], rtol=1e-3)
