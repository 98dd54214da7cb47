import math

import numpy as np
import pytest
import tensorflow as tf
import keras

from spot_tf.optim.optimization import (apply_decayed, apply_update, current_learning_rate, is_bias, linear_policy, make_adam,
                                           multiply_bias_gradients, scaled_loss, skip_together)
from spot_tf.run.distribution import scalar_value


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


def _built(loss_scale, variables):
    optimizer = make_adam(1e-3, loss_scale=loss_scale)
    optimizer.build(variables)
    return optimizer


def test_apply_update_says_whether_the_loss_scale_skipped_the_update():
    var = keras.Variable([1.0, 2.0])
    optimizer = _built(True, [var])
    assert bool(apply_update(optimizer, [tf.constant([1.0, 1.0])], [var]))
    assert int(optimizer.iterations) == 1
    before = var.numpy().copy()
    assert not bool(apply_update(optimizer, [tf.constant([1.0, math.inf])], [var]))
    # Skipped: the weights and the step stay, the loss scale halves.
    assert int(optimizer.iterations) == 1 and np.array_equal(var.numpy(), before)
    assert float(optimizer.dynamic_scale) == 2.0 ** 14


def test_networks_with_loss_scaling_skip_together():
    a, b = keras.Variable([1.0]), keras.Variable([1.0, 2.0])
    optimizers = [_built(True, [a]), _built(True, [b])]
    grads = skip_together([[tf.constant([1.0])], [tf.constant([math.nan, 1.0]), None]], optimizers)
    assert not np.isfinite(grads[0][0].numpy()).any() and grads[1][1] is None
    optimizers[0].apply(grads[0], [a])
    optimizers[1].apply(grads[1][:1], [b])
    assert [int(o.iterations) for o in optimizers] == [0, 0]
    assert [float(o.dynamic_scale) for o in optimizers] == [2.0 ** 14, 2.0 ** 14]
    finite = skip_together([[tf.constant([1.0])], [tf.constant([3.0, 1.0])]], optimizers)
    assert [g.numpy().tolist() for grads in finite for g in grads] == [[1.0], [3.0, 1.0]]


def test_skip_together_leaves_gradients_without_loss_scaling():
    var = keras.Variable([1.0])
    grads = [[tf.constant([math.nan])], [tf.constant([1.0])]]
    assert skip_together(grads, [_built(False, [var]), _built(True, [var])]) is grads


def test_an_overflow_on_one_replica_skips_the_update_on_every_replica(two_replicas):
    strategy = two_replicas
    with strategy.scope():
        var = keras.Variable([1.0])
        optimizer = _built(True, [var])

    def replica_step():
        # Only the second replica's gradient overflows; Keras alone would apply the first's decision.
        second = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.float32)
        (grads,) = skip_together([[tf.constant([1.0]) / (1.0 - second)]], [optimizer])
        optimizer.apply(grads, [var])
        return tf.reduce_all(tf.math.is_finite(grads[0]))

    finite = strategy.experimental_local_results(tf.function(lambda: strategy.run(replica_step))())
    assert [bool(f) for f in finite] == [False, False]
    assert scalar_value(optimizer.iterations) == 0 and tf.convert_to_tensor(var).numpy().tolist() == [1.0]
    assert scalar_value(optimizer.dynamic_scale) == 2.0 ** 14


def _decay_step(strategy, decays, bias_gradient_multiplier=2.0):
    """Kernel and bias (both 1) after one SGD step (lr 1) of apply_decayed, weight decay 0.1, with a gradient
    of 1 on each replica."""
    with strategy.scope():
        layer = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="ones")
        layer.build((None, 1))
        optimizer = keras.optimizers.SGD(1.0)
        optimizer.build(layer.trainable_variables)

    def replica_step():
        variables = layer.trainable_variables
        apply_decayed(optimizer, [tf.ones_like(v) for v in variables], variables, 0.1, bias_gradient_multiplier,
                      decays=decays)

    tf.function(lambda: strategy.run(replica_step))()
    return [float(tf.reshape(v, [])) for v in (layer.kernel, layer.bias)]


@pytest.mark.parametrize("replicas", [1, 2])
def test_weight_decay_is_shared_between_replicas_and_bias_gradients_multiplied(replicas, two_replicas):
    strategy = two_replicas if replicas == 2 else tf.distribute.get_strategy()
    # Gradients are summed over replicas, the decay counted once: 1 - (replicas + 0.1), and the bias
    # (multiplied by 2, its decay too): 1 - 2 (replicas + 0.1).
    kernel, bias = _decay_step(strategy, decays=None)
    assert kernel == pytest.approx(1 - (replicas + 0.1)) and bias == pytest.approx(1 - 2 * (replicas + 0.1))
    kernel, bias = _decay_step(strategy, decays=lambda v: not is_bias(v), bias_gradient_multiplier=1.0)
    assert kernel == pytest.approx(1 - (replicas + 0.1)) and bias == pytest.approx(1 - replicas)
