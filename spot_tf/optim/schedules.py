"""The linear-probe references' learning-rate schedules (the training phases use `linear_policy`)."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="spot_tf")
class InverseSqrtDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(t) = initial / sqrt(1 + initial * weight_decay * t): deepcluster's eval_linear decay.

    Args:
        initial_learning_rate: lr at step 0.
        weight_decay: The weight decay that sets the decay's pace (the reference reuses it).
    """

    def __init__(self, initial_learning_rate, weight_decay):
        self.initial_learning_rate = initial_learning_rate
        self.weight_decay = weight_decay

    def __call__(self, step):
        step = ops.cast(step, "float32")
        return self.initial_learning_rate / ops.sqrt(1.0 + self.initial_learning_rate * self.weight_decay * step)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "weight_decay": self.weight_decay}


def step_decay(learning_rate, step_size, gamma):
    """Caffe's "step" policy: lr * gamma ** floor(t / step_size)."""
    return keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=step_size, decay_rate=gamma,
                                                       staircase=True)
