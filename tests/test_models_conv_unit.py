import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.conv_unit import ConvUnit, GroupedConvUnit, conv2d_patch_gradient, conv2d_tap_gradient, slim_l2
from spot_tf.models.device_kernels import cpu_has_native_bf16
from spot_tf.run.precision import precision


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


def _unit_gradients(unit, x, extra=None):
    """The unit's output, its input and kernel gradients (of a fixed random weighting of the output), and
    the ops of that graph."""
    @tf.function
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = unit(x, training=True, extra_inputs=extra)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.random.stateless_normal(tf.shape(y), seed=(1, 2)))
        return (y,) + tuple(tape.gradient(loss, [x, unit.conv.kernel]))
    return forward_backward(x), forward_backward.get_concrete_function(x).graph.get_operations()


def _types(ops):
    return {op.type for op in ops}


class _OneDnnGradients(ConvUnit):
    """A ConvUnit that leaves every gradient to TF's own convolution gradients (oneDNN's kernels)."""

    def _tap_gradient(self, inputs):
        return False

    def _patch_gradient(self, inputs):
        return False


def _twin(unit, input_shape, cls=ConvUnit, dtype=None):
    """The same unit and weights, as `cls`, under `dtype` (the unit's own policy by default)."""
    config = unit.get_config() | ({"dtype": dtype} if dtype else {})
    twin = cls.from_config(config)
    twin.build(input_shape)
    twin.set_weights(unit.get_weights())
    return twin


def _assert_close(got, want, tolerance):
    for mine, theirs in zip(got, want):
        mine, theirs = tf.cast(mine, tf.float32).numpy(), tf.cast(theirs, tf.float32).numpy()
        assert np.linalg.norm(mine - theirs) <= tolerance * np.linalg.norm(theirs)


@pytest.mark.parametrize("extra", [False, True], ids=["plain", "extra-input"])
def test_bf16_small_map_conv_takes_its_kernel_gradient_from_tap_matmuls(extra, native_bf16_cpu):
    # A 6x6 map with 256 x 256 channels: oneDNN's bf16 weight gradient is slow there (the repair
    # network's first block, the discriminator's conv_3); one matmul per kernel tap is not.
    x = tf.random.stateless_normal((2, 6, 6, 256), seed=(21, 22))
    mask = tf.cast(tf.random.stateless_uniform((2, 6, 6, 1), seed=(23, 24)) < 0.5, tf.float32) if extra else None
    shape = (2, 6, 6, 257 if extra else 256)
    with precision("bf16"):
        unit = ConvUnit(256, 3, batch_norm=True, activation="leaky_relu",
                        kernel_initializer=keras.initializers.GlorotUniform(seed=3))
        unit.build(shape)
        got, ops = _unit_gradients(unit, x, mask)
        want, onednn_ops = _unit_gradients(_twin(unit, shape, _OneDnnGradients), x, mask)
    assert got[0].dtype == tf.bfloat16 and "MatMul" in _types(ops) and "MatMul" not in _types(onednn_ops)
    # Only the mask's one input channel (extra-input case) keeps oneDNN's weight gradient.
    assert all(op.inputs[0].shape[-1] == 1 for op in ops if op.type == "Conv2DBackpropFilter")
    # The same output and input gradient; the kernel gradient sums the same products in another order (within
    # 1% of oneDNN's bf16 one in norm, which holds on CPUs without native bfloat16 too).
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    _assert_close(got[2:], want[2:], 0.01)
    _, ops32 = _unit_gradients(_twin(unit, shape, dtype="float32"), x, mask)
    assert "Conv2DBackpropFilter" in _types(ops32) and "MatMul" not in _types(ops32)  # float32 is unchanged


def test_bf16_small_map_conv_takes_the_tap_matmuls_only_on_a_cpu_with_native_bf16():
    x = tf.random.stateless_normal((2, 6, 6, 256), seed=(21, 22))
    with precision("bf16"):
        unit = ConvUnit(256, 3, kernel_initializer=keras.initializers.GlorotUniform(seed=3))
        unit.build(x.shape)
        got, ops = _unit_gradients(unit, x)
        want, _ = _unit_gradients(_twin(unit, x.shape, _OneDnnGradients), x)
    if cpu_has_native_bf16():
        assert "MatMul" in _types(ops) and "Conv2DBackpropFilter" not in _types(ops)
        _assert_close(got[2:], want[2:], 0.01)
    else:
        # Emulated bfloat16 (AVX2): TF's own gradient ops, so exactly oneDNN's gradients.
        assert "MatMul" not in _types(ops) and "Conv2DBackpropFilter" in _types(ops)
        np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[1], want[1])


def _against_conv2d(conv, strides, x, kernel, d_out):
    """(`conv(x, kernel)`, `tf.nn.conv2d`'s SAME output, [(got, want)] input and kernel gradients for `d_out`)."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, kernel])
        mine, theirs = conv(x, kernel), tf.nn.conv2d(x, kernel, strides, "SAME")
    gradients = zip(tape.gradient(mine, [x, kernel], output_gradients=d_out),
                    tape.gradient(theirs, [x, kernel], output_gradients=d_out))
    return mine, theirs, list(gradients)


def test_bf16_tap_kernel_gradient_is_the_float32_kernel_gradient_rounded_once():
    x = tf.cast(tf.random.stateless_normal((3, 5, 4, 6), seed=(25, 26)), tf.bfloat16)
    kernel = tf.cast(tf.random.stateless_normal((3, 3, 6, 7), seed=(27, 28)), tf.bfloat16)
    d_out = tf.cast(tf.random.stateless_normal((3, 5, 4, 7), seed=(29, 30)), tf.bfloat16)
    mine, theirs, gradients = _against_conv2d(conv2d_tap_gradient, 1, x, kernel, d_out)
    np.testing.assert_array_equal(mine, theirs)
    (d_x, library_d_x), (d_kernel, _) = gradients
    np.testing.assert_array_equal(d_x, library_d_x)  # The input gradient is TF's own op.
    # One matmul per tap sums in float32 on every CPU, so the kernel gradient is float32's of the same
    # bfloat16 values, rounded once (one ulp of slack for the order of the sums). oneDNN's own bf16
    # Conv2DBackpropFilter is no reference: on a CPU without native bfloat16 it is off by several ulps.
    x32, kernel32 = tf.cast(x, tf.float32), tf.cast(kernel, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(kernel32)
        y32 = tf.nn.conv2d(x32, kernel32, 1, "SAME")
    d_kernel32 = tape.gradient(y32, kernel32, output_gradients=tf.cast(d_out, tf.float32))
    np.testing.assert_allclose(tf.cast(d_kernel, tf.float32), d_kernel32, rtol=2 ** -7, atol=1e-4)


def test_bf16_tiling_conv_takes_matmul_gradients(native_bf16_cpu):
    # The encoder's 2x2 / 2 convolutions: oneDNN's strided bf16 backward kernels are slow, matmuls are not.
    x = tf.random.stateless_normal((2, 8, 6, 16), seed=(31, 32))
    with precision("bf16"):
        unit = ConvUnit(32, 2, strides=2, batch_norm=True, activation="leaky_relu",
                        kernel_initializer=keras.initializers.GlorotUniform(seed=4))
        unit.build(x.shape)
        got, ops = _unit_gradients(unit, x)
        want, _ = _unit_gradients(_twin(unit, x.shape, _OneDnnGradients), x)
    assert got[0].dtype == tf.bfloat16
    assert not {"Conv2DBackpropFilter", "Conv2DBackpropInput"} & _types(ops)
    assert {"MatMul", "DepthToSpace"} <= _types(ops)
    np.testing.assert_array_equal(got[0], want[0])
    _assert_close(got[1:], want[1:], 0.01)
    _, ops32 = _unit_gradients(_twin(unit, x.shape, dtype="float32"), x)
    assert {"Conv2DBackpropFilter", "Conv2DBackpropInput"} <= _types(ops32) and "MatMul" not in _types(ops32)


def test_patch_gradients_are_the_convolution_gradients():
    x = tf.random.stateless_normal((2, 6, 4, 3), seed=(33, 34))
    kernel = tf.random.stateless_normal((2, 2, 3, 5), seed=(35, 36))
    d_out = tf.random.stateless_normal((2, 3, 2, 5), seed=(37, 38))
    mine, theirs, gradients = _against_conv2d(conv2d_patch_gradient, 2, x, kernel, d_out)
    np.testing.assert_array_equal(mine, theirs)
    for got, want in gradients:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
