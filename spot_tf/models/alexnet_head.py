"""AlexNet's classifier on top of the discriminator's conv_5: what Krähenbühl et al.'s VOC fine-tuning
trains (philkr/voc-classification on an AlexNet up to drop7, with a new fc8).

pool5 (max 3x3/2, the discriminator's padding) -> fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU ->
dropout -> fc8 (one logit per class). This discriminator has no fc6/fc7 of AlexNet's shape (its fc_1
spans its own head grid), so all three are new: fc6 and fc7 as Caffe's AlexNet initialises them
(gaussian std 0.005, bias 0.1), fc8 as the reference's new layer (gaussian std 0.01, bias 0.1).
"""
import keras

TRAIN_FROM = ("all", "fc6", "fc8")


@keras.saving.register_keras_serializable(package="spot_tf")
class AlexNetHead(keras.Model):
    """`head(conv_5 map, training)` -> logits [B, num_classes].

    Args:
        num_classes: Number of outputs (VOC's 20).
        map_shape: (height, width, channels) of the conv_5 map at the training size (fixes fc6).
        padding: pool5's padding, the discriminator's ("same" or "valid").
        dropout_rate: Dropout after fc6 and fc7 (AlexNet's 0.5).
        seed: Seed of the initializers and of the dropout.
    """

    def __init__(self, num_classes, map_shape, padding="same", dropout_rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.map_shape = tuple(map_shape)
        self.padding = padding
        self.dropout_rate = dropout_rate
        self.seed = seed

        def dense(units, stddev, name, activation=None, offset=0):
            return keras.layers.Dense(
                units, activation=activation, name=name, bias_initializer=keras.initializers.Constant(0.1),
                kernel_initializer=keras.initializers.RandomNormal(
                    stddev=stddev, seed=None if seed is None else seed + offset))

        self.pool_5 = keras.layers.MaxPooling2D(3, 2, padding=padding, name="pool_5")
        self.flatten = keras.layers.Flatten()
        self.fc6 = dense(4096, 0.005, "fc6", "relu", 0)
        self.drop6 = keras.layers.Dropout(dropout_rate, seed=seed, name="drop6")
        self.fc7 = dense(4096, 0.005, "fc7", "relu", 1)
        self.drop7 = keras.layers.Dropout(dropout_rate, seed=None if seed is None else seed + 1, name="drop7")
        self.fc8 = dense(num_classes, 0.01, "fc8", offset=2)
        self.build((None,) + self.map_shape)

    def build(self, input_shape):
        if self.built:
            return
        self.built = True
        self(keras.ops.zeros((1,) + tuple(input_shape[1:])))

    def call(self, conv_5, training=False):
        x = self.flatten(self.pool_5(conv_5))
        x = self.drop6(self.fc6(x), training=training)
        x = self.drop7(self.fc7(x), training=training)
        return self.fc8(x)

    def layers_from(self, train_from):
        """The head's layers trained from `train_from` ("all" and "fc6": fc6..fc8; "fc8": fc8)."""
        if train_from not in TRAIN_FROM:
            raise ValueError(f"train_from must be one of {TRAIN_FROM}, got {train_from!r}")
        return [self.fc8] if train_from == "fc8" else [self.fc6, self.fc7, self.fc8]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "map_shape": self.map_shape,
                "padding": self.padding, "dropout_rate": self.dropout_rate, "seed": self.seed}
