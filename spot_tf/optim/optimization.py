"""Optimizers and the learning-rate policy of the original trainers."""
import keras
import tensorflow as tf

BIAS_GRADIENT_MULTIPLIER = 2.0


def linear_policy(learning_rate, total_steps, end_factor=0.01):
    """The original 'linear' policy: from lr down to lr / 100 over the first 90% of the steps, then flat."""
    return keras.optimizers.schedules.PolynomialDecay(
        learning_rate, decay_steps=max(1, int(0.9 * total_steps)),
        end_learning_rate=learning_rate * end_factor, power=1.0)


def make_adam(learning_rate, loss_scale=False):
    """The original's Adam (beta_1 0.5, epsilon 1e-5); wrapped for dynamic loss scaling with fp16."""
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.5, epsilon=1e-5)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scale else optimizer


def current_learning_rate(optimizer):
    """The learning rate the optimizer applies at its current step."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    lr = inner.learning_rate
    return lr(inner.iterations) if callable(lr) else lr


def is_bias(variable):
    # Keras Conv2D names its bias "bias"; batch-norm offsets ("beta") are not slim biases.
    return variable.path.endswith("/bias")


def multiply_bias_gradients(gradients, variables, multiplier=BIAS_GRADIENT_MULTIPLIER):
    """The original trainers multiply every bias gradient by 2 (slim's multiply_gradients)."""
    return [g * tf.cast(multiplier, g.dtype) if g is not None and is_bias(v) else g
            for g, v in zip(gradients, variables)]


def apply_decayed(optimizer, gradients, variables, weight_decay, bias_gradient_multiplier=1.0, decays=None):
    """Caffe's and PyTorch's SGD step: ``weight_decay * v`` added to the gradient of each variable
    ``decays`` picks (all by default), the bias gradients multiplied (``multiply_bias_gradients``: Caffe's
    bias ``lr_mult``), then ``optimizer.apply``.

    Call it per replica: each adds its share of the decay, ``weight_decay / replicas``, as the optimizer
    sums the replicas' gradients.

    Args:
      optimizer: a Keras optimizer.
      gradients, variables: this replica's gradients and the variables they update.
      weight_decay: the L2 factor (0: none).
      bias_gradient_multiplier: the factor on the bias gradients.
      decays: variable -> whether it is decayed (None: every one).
    """
    share = weight_decay / tf.distribute.get_replica_context().num_replicas_in_sync
    gradients = [g + share * v if weight_decay and (decays is None or decays(v)) else g
                 for g, v in zip(gradients, variables)]
    optimizer.apply(multiply_bias_gradients(gradients, variables, bias_gradient_multiplier), variables)


def apply_update(optimizer, gradients, variables):
    """`optimizer.apply(gradients, variables)`; returns whether the update was applied (a bool tensor).

    With fp16 a LossScaleOptimizer skips an update whose scaled gradients are not finite: the weights
    and `iterations` (the global step) stay and the loss scale halves, so the step counts applied updates.
    """
    before = tf.convert_to_tensor(optimizer.iterations)
    optimizer.apply(gradients, variables)
    # Read after apply(): automatic control dependencies order it after the increment.
    return tf.convert_to_tensor(optimizer.iterations) > before


def skip_together(gradients, optimizers):
    """Makes fp16 loss scaling skip an update on every network and every replica, or on none.

    A LossScaleOptimizer decides from the gradients it is given, before they are summed over replicas
    (Keras 3.15; under MirroredStrategy it takes the first replica's decision for all, so another
    replica's overflow reaches the weights as NaN). And the original applies the networks' updates
    together, one global step for all. So when any gradient of any network on any replica is not
    finite, every gradient becomes NaN: every optimizer skips (and halves its loss scale) at the same
    step, and their `iterations` and loss scales stay equal. Without loss scaling (where NaN gradients
    would reach the weights) the gradients are returned unchanged.

    Args:
        gradients: One list of gradients (None allowed) per network, in a replica context.
        optimizers: The networks' optimizers, in the same order.

    Returns:
        The gradient lists.
    """
    if not all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers):
        return gradients
    present = [g for grads in gradients for g in grads if g is not None]
    overflows = 1.0 - tf.cast(tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in present]), tf.float32)
    context = tf.distribute.get_replica_context()
    if context.num_replicas_in_sync > 1:
        overflows = context.all_reduce(tf.distribute.ReduceOp.SUM, overflows)
    poison = tf.where(overflows > 0, float("nan"), 0.0)
    return [[None if g is None else g + tf.cast(poison, g.dtype) for g in grads] for grads in gradients]


def scaled_loss(optimizer, loss):
    """The loss to differentiate: scaled with fp16's LossScaleOptimizer (apply() unscales and skips
    non-finite steps), unchanged otherwise."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.scale_loss(loss)
    return loss
