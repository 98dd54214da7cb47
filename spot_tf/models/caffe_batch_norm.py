"""Caffe's BatchNorm layer: normalisation with nothing learned, as split-brain's linear probes use it."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="spot_tf")
class CaffeBatchNorm(keras.layers.Layer):
    """Per-channel batch normalisation without scale or shift (Caffe's `BatchNorm` layer).

    Training normalises with the batch's statistics and accumulates them; inference normalises with
    the accumulated ones. Caffe keeps decayed *sums* and their decayed weight and divides one by the
    other, so the statistics are an unbiased average from the first step on (a Keras moving average
    at 0.999 would still be near its initial 0 / 1 after a short run); the variance gets Bessel's
    correction. Per-replica statistics under a strategy, as Caffe's single-GPU test had.

    Args:
        moving_average_fraction: Decay of the sums (Caffe's default 0.999).
        epsilon: Added to the variance (Caffe's default 1e-5).
    """

    def __init__(self, moving_average_fraction=0.999, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.moving_average_fraction = moving_average_fraction
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = (input_shape[-1],)
        # aggregation="mean": the replicas' updates of one step average into one value. autocast=False:
        # read in float32 under a mixed policy too, as the statistics are computed.
        self.mean_sum = self.add_weight(shape=channels, initializer="zeros", trainable=False,
                                        aggregation="mean", autocast=False, name="mean_sum")
        self.variance_sum = self.add_weight(shape=channels, initializer="zeros", trainable=False,
                                            aggregation="mean", autocast=False, name="variance_sum")
        self.weight_sum = self.add_weight(shape=(), initializer="zeros", trainable=False, aggregation="mean",
                                          autocast=False, name="weight_sum")

    def call(self, inputs, training=False):
        x = ops.cast(inputs, "float32")
        if training:
            axes = tuple(range(len(x.shape) - 1))
            mean, variance = ops.moments(x, axes)
            count = ops.cast(ops.prod(ops.shape(x)[:-1]), "float32")
            decay = self.moving_average_fraction
            self.mean_sum.assign(decay * self.mean_sum + mean)
            self.variance_sum.assign(decay * self.variance_sum + variance * count / ops.maximum(count - 1.0, 1.0))
            self.weight_sum.assign(decay * self.weight_sum + 1.0)
        else:
            # Before any training step the sums are 0: normalise with mean 0, variance 1.
            weight = ops.maximum(self.weight_sum, 1e-12)
            seen = ops.cast(self.weight_sum > 0, "float32")
            mean = self.mean_sum / weight * seen
            variance = self.variance_sum / weight * seen + (1.0 - seen)
        out = (x - mean) * ops.rsqrt(variance + self.epsilon)
        return ops.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "moving_average_fraction": self.moving_average_fraction,
                "epsilon": self.epsilon}
