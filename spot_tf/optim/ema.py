"""Exponential moving average of trainable weights, as the original's tf.train.ExponentialMovingAverage."""
import tensorflow as tf


class WeightAverage(tf.Module):
    """Keeps (and checkpoints) a moving average of `variables`.

    Like TF1's `ExponentialMovingAverage(decay, num_updates=global_step)`, the decay used at step t
    is min(decay, (1 + t) / (10 + t)), so early averages follow the weights closely.

    Args:
        variables: The (trainable) variables to average; their order fixes the checkpoint layout.
        decay: The asymptotic decay (the original: 0.9999).
    """

    def __init__(self, variables, decay=0.9999, name="ema"):
        super().__init__(name=name)
        self.decay = decay
        sources = tuple(variables)
        # Not tracked: the variables belong to (and are checkpointed with) their model.
        self._sources = lambda: sources
        # ONLY_FIRST_REPLICA: every replica holds the same weights, so one update is the update.
        self.averages = [
            tf.Variable(tf.convert_to_tensor(v), trainable=False,
                        name=f"average_{i}", aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            for i, v in enumerate(self.sources)]

    @property
    def sources(self):
        return self._sources()

    def update(self, step, applied=True):
        """Moves every average towards its variable.

        Args:
            step: The global step before this update.
            applied: Whether the optimizer applied this step's update (a bool or bool tensor). An update
                that fp16 loss scaling skipped moves no average: the averages follow the applied updates,
                as the step does.
        """
        step = tf.cast(step, tf.float32)
        # A decay of 1 leaves the averages, without a cond (which a replica context restricts).
        decay = tf.where(applied, tf.minimum(self.decay, (1.0 + step) / (10.0 + step)), 1.0)
        for average, source in zip(self.averages, self.sources):
            value = tf.cast(tf.convert_to_tensor(source), average.dtype)
            average.assign_sub((1.0 - decay) * (average - value))

    def copy_to_sources(self):
        """Overwrites the variables with their averages (for export or evaluation of EMA weights)."""
        for average, source in zip(self.averages, self.sources):
            source.assign(tf.cast(average, source.dtype))
