"""Running means of the logged values of a train_step, reset after each summary window."""
import keras
import tensorflow as tf
from spot_tf.run.distribution import num_replicas


class StepMetrics:
    """One keras.metrics.Mean per logged name, created on the trainer (so fit() reports them).

    Under a strategy each replica updates its own copy of a metric and reading it sums over
    replicas, so the Mean of N replica updates is their average; no collective runs in the step.

    Args:
        names: The logged names, in order.
    """

    def __init__(self, names):
        self.names = tuple(names)
        self.means = [keras.metrics.Mean(name=n) for n in self.names]

    def update(self, contributions, statistics=None):
        """`contributions` sum to the global value over replicas; `statistics` (per-replica means)
        average to it."""
        statistics = statistics or {}
        replicas = num_replicas()
        for name, mean in zip(self.names, self.means):
            if name in contributions:
                mean.update_state(tf.cast(contributions[name], tf.float32) * replicas)
            else:
                mean.update_state(tf.cast(statistics[name], tf.float32))

    def results(self):
        return {m.name: m.result() for m in self.means}

    def step_logs(self):
        """What a train_step returns: the results with a leading axis of 1.

        Keras (3.15) reduces train_step outputs under MultiWorkerMirroredStrategy with
        strategy.reduce(MEAN, value, axis=0), which fails on scalars.
        """
        return {name: tf.reshape(value, [1]) for name, value in self.results().items()}

    def reset(self):
        for m in self.means:
            m.reset_state()
