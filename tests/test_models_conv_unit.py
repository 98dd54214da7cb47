import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.conv_unit import ConvUnit, GroupedConvUnit, slim_l2


def test_slim_l2_has_the_half():
    w = tf.constant([[3.0, 4.0]])
    assert float(slim_l2(5e-5)(w)) == pytest.approx(5e-5 * 25 / 2)


def test_batch_norm_unit_has_no_bias_and_tf1_names():
    unit = ConvUnit(8, 3, batch_norm=True, bn_scale=False, activation="relu")
    unit.build((None, 5, 5, 4))
    names = unit.tf1_variables("s")
    assert sorted(names) == ["s/BatchNorm/beta", "s/BatchNorm/moving_mean", "s/BatchNorm/moving_variance",
                             "s/weights"]
    assert unit.conv.bias is None


def test_grouped_unit_convolves_each_half_alone():
    unit = GroupedConvUnit(6, kernel_size=3, groups=2)
    x = tf.random.stateless_normal((1, 5, 5, 4), seed=(1, 1))
    y = unit(x)
    assert y.shape == (1, 5, 5, 6)
    # Changing the second half of the input channels leaves the first group's output unchanged.
    x2 = tf.concat([x[..., :2], x[..., 2:] + 1.0], axis=-1)
    y2 = unit(x2)
    np.testing.assert_allclose(y[..., :3], y2[..., :3], atol=1e-6)
    assert np.max(np.abs(y[..., 3:] - y2[..., 3:])) > 1e-3
    assert sorted(unit.tf1_variables("c")) == ["c/conv_0/biases", "c/conv_0/weights", "c/conv_1/biases",
                                               "c/conv_1/weights"]


@pytest.mark.parametrize("make", [
    lambda: ConvUnit(4, 2, strides=2, activation="leaky_relu", weight_decay=0.0, bias_decay=1e-4),
    lambda: ConvUnit(4, (3, 1), batch_norm=True, bn_scale=False, activation="relu", bn_momentum=0.9,
                     kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1, seed=1)),
    lambda: GroupedConvUnit(8, kernel_size=3, batch_norm=True, bn_scale=False, activation="relu",
                            bias_initializer=keras.initializers.Constant(0.1), name="g"),
], ids=["ConvUnit", "ConvUnit-batch-norm", "GroupedConvUnit"])
def test_serialization_and_keras_file(make, tmp_path):
    x = tf.random.stateless_normal((2, 6, 6, 4), seed=(19, 20))
    run_layer_test(make(), x, tmp_path, call_kwargs={"training": False})


def _reference(unit, x, training):
    """The same unit computed with a plain convolution and Keras' own BatchNormalization layer."""
    y = tf.nn.conv2d(x, unit.conv.kernel, strides=1, padding=unit.padding.upper())
    if unit.conv.use_bias:
        y = y + unit.conv.bias
    if unit.bn is not None:
        reference = keras.layers.BatchNormalization(momentum=unit.bn_momentum, epsilon=unit.bn_epsilon,
                                                    scale=unit.bn_scale)
        reference.build(y.shape)
        for name in ("beta", "moving_mean", "moving_variance") + (("gamma",) if unit.bn_scale else ()):
            getattr(reference, name).assign(getattr(unit.bn, name))
        y = reference(y, training=training)
        return (unit.activation(y) if unit.activation else y), reference
    return (unit.activation(y) if unit.activation else y), None


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_equals_keras_batch_norm(training):
    unit = ConvUnit(6, 3, batch_norm=True, activation="leaky_relu")
    x = tf.random.stateless_normal((4, 5, 5, 3), seed=(7, 8))
    unit.build(x.shape)
    unit.bn.gamma.assign(tf.linspace(0.5, 1.5, 6))
    unit.bn.beta.assign(tf.linspace(-0.2, 0.2, 6))
    unit.bn.moving_mean.assign(tf.linspace(-1.0, 1.0, 6))
    unit.bn.moving_variance.assign(tf.linspace(0.5, 2.0, 6))
    expected, reference = _reference(unit, x, training)
    got = unit(x, training=training)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # The moving statistics move as Keras moves them (biased batch variance).
    np.testing.assert_allclose(unit.bn.moving_mean.numpy(), reference.moving_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(unit.bn.moving_variance.numpy(), reference.moving_variance.numpy(), rtol=1e-5)


def test_fused_batch_norm_gradients_equal_keras():
    unit = ConvUnit(4, 3, batch_norm=True, activation="relu")
    x = tf.random.stateless_normal((3, 4, 4, 2), seed=(9, 10))
    unit.build(x.shape)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        got = tf.reduce_sum(tf.sin(unit(x, training=True)))
        reference_out, reference = _reference(unit, x, training=True)
        want = tf.reduce_sum(tf.sin(reference_out))
    for mine, theirs in ((x, x), (unit.conv.kernel, unit.conv.kernel), (unit.bn.gamma, reference.gamma),
                         (unit.bn.beta, reference.beta)):
        np.testing.assert_allclose(tape.gradient(got, mine), tape.gradient(want, theirs), rtol=1e-3, atol=1e-5)


def test_a_kernel_spanning_the_whole_map_runs_as_a_matmul_with_the_same_result():
    unit = ConvUnit(7, 3, padding="valid", activation="relu", bias_initializer="ones")
    x = tf.random.stateless_normal((2, 3, 3, 5), seed=(11, 12))
    unit.build(x.shape)
    assert unit._covers_input(x)
    np.testing.assert_allclose(unit(x), _reference(unit, x, False)[0], rtol=1e-5, atol=1e-6)
    larger = tf.random.stateless_normal((2, 4, 4, 5), seed=(13, 14))
    assert not unit._covers_input(larger)
    np.testing.assert_allclose(unit(larger), _reference(unit, larger, False)[0], rtol=1e-5, atol=1e-6)


def test_extra_input_channels_equal_a_concatenated_input():
    unit = ConvUnit(5, 3, batch_norm=True, activation="leaky_relu")
    x = tf.random.stateless_normal((2, 6, 6, 4), seed=(15, 16))
    extra = tf.cast(tf.random.stateless_uniform((2, 6, 6, 1), seed=(17, 18)) < 0.5, tf.float32)
    joined = tf.concat([x, extra], axis=-1)
    unit.build(joined.shape)
    np.testing.assert_allclose(unit(x, training=False, extra_inputs=extra), unit(joined, training=False),
                               rtol=1e-5, atol=1e-5)
