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


def scaled_loss(optimizer, loss):
    """The loss to differentiate: scaled with fp16's LossScaleOptimizer (apply() unscales and skips
    non-finite steps), unchanged otherwise."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.scale_loss(loss)
    return loss
