"""The autoencoder of phase 1: encoder phi(x) and decoder, as in the original `AutoEncoder`."""
import keras

from spot_tf.models.conv_unit import SLIM_WEIGHT_DECAY, ConvUnit, he_fan_avg
from spot_tf.models.resize import upsample2x_bilinear_tf1
from spot_tf.models.tracking import track_by_name

# Widths of the encoder's stride-2 layers conv_1..conv_depth (the original's DEFAULT_FILTER_DIMS).
ENCODER_WIDTHS = (64, 128, 256, 512, 1024)
STEM_WIDTH = 32


def _ae_unit(filters, kernel_size, strides=1, name=None):
    # Every autoencoder conv: batch norm (centre and scale), leaky ReLU 0.2, He fan_avg init.
    return ConvUnit(filters, kernel_size, strides=strides, batch_norm=True, activation="leaky_relu",
                    kernel_initializer=he_fan_avg(), name=name)


def decoder_widths(depth):
    """Output widths of the decoder's up-steps: the encoder's mirrored, down to the stem's 32."""
    return tuple(ENCODER_WIDTHS[depth - l - 2] for l in range(depth - 1)) + (STEM_WIDTH,)


def decoder_step_names(depth):
    # The original names the up-steps deconv_0..deconv_{depth-2}, then deconv_{depth} (no depth - 1).
    return tuple(f"deconv_{l}" for l in range(depth - 1)) + (f"deconv_{depth}",)


@keras.saving.register_keras_serializable(package="spot_tf")
class Encoder(keras.Model):
    """phi(x): a 3x3 stem to 32 channels, then `depth` 2x2 stride-2 convolutions (64, 128, ...).

    Args:
        depth: Number of stride-2 layers (4 for STL-10, 5 for ImageNet); the feature grid is
            image_size / 2**depth.
    """

    def __init__(self, depth=4, **kwargs):
        super().__init__(**kwargs)
        if depth not in (1, 2, 3, 4, 5):
            raise ValueError(f"ae_depth must be between 1 and 5, got {depth}")
        self.depth = depth
        self.stem = _ae_unit(STEM_WIDTH, 3, name="conv_0")
        self.downs = track_by_name(
            self, [_ae_unit(ENCODER_WIDTHS[l], 2, strides=2, name=f"conv_{l + 1}") for l in range(depth)])

    def call(self, images, training=None):
        x = self.stem(images, training=training)
        for down in self.downs:
            x = down(x, training=training)
        return x

    def tf1_variables(self, scope="encoder"):
        names = self.stem.tf1_variables(f"{scope}/conv_0")
        for l, down in enumerate(self.downs):
            names.update(down.tf1_variables(f"{scope}/conv_{l + 1}"))
        return names

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="spot_tf")
class UpStep(keras.layers.Layer):
    """One decoder up-step: TF1 bilinear 2x resize, then a 3x3 conv with batch norm and leaky ReLU.

    Args:
        filters: Output channels.
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.unit = _ae_unit(filters, 3, name="conv")

    def build(self, input_shape):
        self.unit.build((input_shape[0], None, None, input_shape[-1]))

    def call(self, inputs, training=None):
        return self.unit(upsample2x_bilinear_tf1(inputs), training=training)

    def tf1_variables(self, scope):
        return self.unit.tf1_variables(scope)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="spot_tf")
class Decoder(keras.Model):
    """Mirror of the encoder: `depth` up-steps, then a 3x3 conv to RGB with tanh (bias, no batch norm).

    The repair network runs these same layers one at a time (`steps`, then `to_rgb`).

    Args:
        depth: The encoder's depth.
    """

    def __init__(self, depth=4, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth
        self.steps = track_by_name(
            self, [UpStep(w, name=n) for w, n in zip(decoder_widths(depth), decoder_step_names(depth))])
        # slim's ae_argscope puts the L2 on biases too: only this layer has one.
        self.to_rgb = ConvUnit(3, 3, activation="tanh", kernel_initializer=he_fan_avg(),
                               bias_decay=SLIM_WEIGHT_DECAY, name=f"deconv_{depth + 1}")

    def call(self, features, training=None):
        x = features
        for step in self.steps:
            x = step(x, training=training)
        return self.to_rgb(x, training=training)

    def tf1_variables(self, scope="decoder"):
        names = {}
        for step in self.steps:
            names.update(step.tf1_variables(f"{scope}/{step.name}"))
        names.update(self.to_rgb.tf1_variables(f"{scope}/{self.to_rgb.name}"))
        return names

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="spot_tf")
class Autoencoder(keras.Model):
    """Encoder + decoder of phase 1. `call` returns the reconstruction in [-1, 1].

    Args:
        depth: Number of stride-2 encoder layers.
    """

    def __init__(self, depth=4, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth
        self.encoder = Encoder(depth, name="encoder")
        self.decoder = Decoder(depth, name="decoder")

    def call(self, images, training=None):
        return self.decoder(self.encoder(images, training=training), training=training)

    def tf1_variables(self):
        return {**self.encoder.tf1_variables("encoder"), **self.decoder.tf1_variables("decoder")}

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}
