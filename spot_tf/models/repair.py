"""The repair network: one residual block before the frozen decoder and one after each up-step."""
import keras
from keras import ops

from spot_tf.models.conv_unit import ConvUnit, he_fan_avg
from spot_tf.models.resize import upsample_nearest
from spot_tf.models.tracking import track_by_name


@keras.saving.register_keras_serializable(package="spot_tf")
class RepairBlock(keras.layers.Layer):
    """Inpaints the dropped entries: `x + (1 - m) * conv2(conv1(concat[x, m]))`.

    conv1 is 3x3 with batch norm and leaky ReLU; conv2 is 3x3, linear, with bias. Kept entries
    (m = 1) pass unchanged.

    Args:
        filters: Channels of x (and of both convolutions).
        preactivation: Batch norm + leaky ReLU on x before the concat, as the paper's Fig. 5 draws
            it. The original code never uses it (quirk 0 of the spec), hence the default False.
        sync_batch_norm: Batch statistics over all replicas instead of per replica.
    """

    def __init__(self, filters, preactivation=False, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.preactivation = preactivation
        self.sync_batch_norm = sync_batch_norm
        self.preact = None
        if preactivation:
            self.preact = keras.layers.BatchNormalization(momentum=0.975, epsilon=1e-3,
                                                          synchronized=sync_batch_norm, name="preact")
        self.conv1 = ConvUnit(filters, 3, batch_norm=True, activation="leaky_relu",
                              kernel_initializer=he_fan_avg(), sync_batch_norm=sync_batch_norm, name="conv1")
        self.conv2 = ConvUnit(filters, 3, kernel_initializer=he_fan_avg(), name="conv2")

    def build(self, input_shape):
        if self.preact is not None:
            self.preact.build(input_shape)
        self.conv1.build(tuple(input_shape[:-1]) + (input_shape[-1] + 1,))
        self.conv2.build(tuple(input_shape[:-1]) + (self.filters,))

    def call(self, inputs, keep_mask, training=None):
        mask = ops.cast(keep_mask, inputs.dtype)
        x = inputs
        if self.preact is not None:
            x = keras.activations.leaky_relu(self.preact(x, training=training))
        residual = self.conv2(self.conv1(x, training=training, extra_inputs=mask))
        return inputs + (1.0 - mask) * residual

    def tf1_variables(self, scope):
        names = {**self.conv1.tf1_variables(f"{scope}/conv1"), **self.conv2.tf1_variables(f"{scope}/conv2")}
        if self.preact is not None:
            for attr in ("gamma", "beta", "moving_mean", "moving_variance"):
                names[f"{scope}/preact/{attr}"] = getattr(self.preact, attr)
        return names

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "preactivation": self.preactivation,
                "sync_batch_norm": self.sync_batch_norm}


@keras.saving.register_keras_serializable(package="spot_tf")
class RepairNetwork(keras.Model):
    """The generator: repair blocks interleaved with the steps of a (frozen) decoder.

    `call(damaged, keep_mask, decoder)` runs repair_0 on the damaged features, then for every decoder
    up-step: the step (in inference mode), the mask upsampled 2x nearest, the next repair block;
    finally the decoder's RGB layer. The decoder is passed at call time so that its weights stay
    the autoencoder's and are not tracked (or trained) here.

    Args:
        widths: Channels at each repair block: the encoder's output width, then each up-step's.
        preactivation: See `RepairBlock`.
        sync_batch_norm: See `RepairBlock`.
    """

    def __init__(self, widths, preactivation=False, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.preactivation = preactivation
        self.sync_batch_norm = sync_batch_norm
        self.blocks = track_by_name(self, [RepairBlock(w, preactivation, sync_batch_norm, name=f"repair_{i}")
                                           for i, w in enumerate(self.widths)])

    def call(self, damaged, keep_mask, decoder, training=None):
        if len(decoder.steps) != len(self.blocks) - 1:
            raise ValueError(f"a repair network of {len(self.blocks)} blocks needs a decoder of "
                             f"{len(self.blocks) - 1} up-steps, got {len(decoder.steps)}")
        mask = keep_mask
        x = self.blocks[0](damaged, mask, training=training)
        for step, block in zip(decoder.steps, self.blocks[1:]):
            x = step(x, training=False)
            mask = upsample_nearest(mask)
            x = block(x, mask, training=training)
        return decoder.to_rgb(x, training=False)

    def tf1_variables(self, scope="generator"):
        names = {}
        for block in self.blocks:
            names.update(block.tf1_variables(f"{scope}/{block.name}"))
        return names

    def get_config(self):
        return {**super().get_config(), "widths": self.widths, "preactivation": self.preactivation,
                "sync_batch_norm": self.sync_batch_norm}
