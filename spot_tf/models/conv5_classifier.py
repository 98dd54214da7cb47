"""The original code's STL-10 classifier: a convolution whose kernel spans the discriminator's conv_5 map.

As the original `AlexNet.classify`: the classifier sees conv_5 (after pool_5 when the discriminator
has one, the original's `encoded`), VALID, truncated-normal stddev 0.005 kernel, zero bias, slim L2.
"""
import keras
from keras import ops

from spot_tf.models.conv_unit import ConvUnit
from spot_tf.models.discriminator import CONV_LAYERS


def trained_layers(finetune_layers):
    """The top `finetune_layers` conv layers: 0 -> (), 1 -> (conv_5,), 2 -> (conv_4, conv_5), ..."""
    if not isinstance(finetune_layers, int) or not 0 <= finetune_layers <= len(CONV_LAYERS):
        raise ValueError(f"finetune_layers must be an integer in 0..{len(CONV_LAYERS)}, got {finetune_layers!r}")
    return CONV_LAYERS[len(CONV_LAYERS) - finetune_layers:]


@keras.saving.register_keras_serializable(package="spot_tf")
class Conv5Classifier(keras.layers.Layer):
    """Linear classifier on the discriminator's conv_5 (or pool_5) map: `classifier(map)` -> logits [B, classes].

    Args:
        num_classes: Number of classes.
        grid: (rows, cols) of the map; the kernel spans all of it (VALID), as the original's fc1.
        seed: Seed of the truncated-normal initializer.
    """

    def __init__(self, num_classes, grid, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.grid = tuple(grid)
        self.seed = seed
        # slim L2 5e-5 on the kernel (ConvUnit's default), as the original's arg scope.
        self.fc1 = ConvUnit(num_classes, self.grid, padding="valid", name="fc1",
                            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.005, seed=seed),
                            bias_initializer="zeros")

    def build(self, input_shape):
        self.fc1.build(input_shape)

    def call(self, inputs):
        return ops.reshape(self.fc1(inputs), (-1, self.num_classes))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "grid": self.grid, "seed": self.seed}


def head_map(discriminator, images, training):
    """conv_5 of the discriminator, through pool_5 when it has one (what the original classifier sees)."""
    x = discriminator.features(images, training=training)["conv_5"]
    return discriminator.pool_5(x) if discriminator.pool_5 is not None else x
