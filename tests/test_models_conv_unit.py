import numpy as np
import pytest
import tensorflow as tf

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


def test_config_round_trip():
    unit = GroupedConvUnit(8, kernel_size=3, batch_norm=True, bn_scale=False, activation="relu", name="g")
    clone = GroupedConvUnit.from_config(unit.get_config())
    assert clone.get_config() == unit.get_config()
    single = ConvUnit(4, 2, strides=2, activation="leaky_relu", weight_decay=0.0)
    assert ConvUnit.from_config(single.get_config()).get_config() == single.get_config()
