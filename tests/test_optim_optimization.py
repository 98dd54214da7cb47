import pytest
import tensorflow as tf
import keras

from spot_tf.optim.optimization import (current_learning_rate, is_bias, linear_policy, make_adam,
                                           multiply_bias_gradients, scaled_loss)


def test_linear_policy_decays_to_a_hundredth_over_90_percent_then_stays():
    schedule = linear_policy(3e-4, 1000)
    assert float(schedule(0)) == pytest.approx(3e-4)
    assert float(schedule(450)) == pytest.approx(3e-4 - 0.5 * (3e-4 - 3e-6), rel=1e-5)
    assert float(schedule(900)) == pytest.approx(3e-6)
    assert float(schedule(1000)) == pytest.approx(3e-6)


def test_adam_is_the_originals():
    opt = make_adam(3e-4)
    assert opt.beta_1 == 0.5 and opt.epsilon == 1e-5
    assert isinstance(make_adam(3e-4, loss_scale=True), keras.optimizers.LossScaleOptimizer)


def test_current_learning_rate_follows_the_step():
    opt = make_adam(linear_policy(1.0, 10))
    opt.build([keras.Variable(0.0)])
    assert float(current_learning_rate(opt)) == pytest.approx(1.0)
    opt.iterations.assign(9)
    assert float(current_learning_rate(opt)) == pytest.approx(0.01)


def test_only_bias_gradients_are_doubled():
    layer = keras.layers.Conv2D(2, 3)
    bn = keras.layers.BatchNormalization()
    layer.build((None, 5, 5, 1))
    bn.build((None, 3, 3, 2))
    variables = [layer.kernel, layer.bias, bn.gamma, bn.beta]
    assert [is_bias(v) for v in variables] == [False, True, False, False]
    grads = [tf.ones_like(v) for v in variables]
    out = multiply_bias_gradients(grads, variables)
    assert [float(tf.reduce_max(g)) for g in out] == [1.0, 2.0, 1.0, 1.0]
    assert multiply_bias_gradients([None], [layer.bias]) == [None]


def test_scaled_loss_only_with_loss_scaling():
    loss = tf.constant(2.0)
    assert float(scaled_loss(make_adam(1e-3), loss)) == 2.0
    scaled = make_adam(1e-3, loss_scale=True)
    scaled.build([keras.Variable(0.0)])
    assert float(scaled_loss(scaled, loss)) > 2.0
