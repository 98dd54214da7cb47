"""The discriminator C: the original's AlexNet variant with a mask-prediction head."""
import keras
import tensorflow as tf
from keras import ops

from spot_tf.models.conv_unit import ConvUnit, GroupedConvUnit
from spot_tf.models.empty_batch import call_allowing_empty

# Per-channel RGB mean subtracted from 0..255 pixels before the discriminator.
RGB_MEAN = (123.68, 116.78, 103.94)
CONV_LAYERS = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")


@keras.saving.register_keras_serializable(package="spot_tf")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's LRN over channels (Keras 3 has none): wraps `tf.nn.local_response_normalization`.

    Args:
        depth_radius: Half-width of the channel window.
        bias: Additive bias.
        alpha: Scale of the sum of squares.
        beta: Exponent.
    """

    def __init__(self, depth_radius=2, bias=1.0, alpha=2e-5, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def call(self, inputs):
        # The LRN kernel has no bfloat16 version: normalise in float32.
        out = tf.nn.local_response_normalization(tf.cast(inputs, tf.float32), self.depth_radius,
                                                 self.bias, self.alpha, self.beta)
        return tf.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


def _pooled_size(size, kernel, stride, padding):
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def conv5_grid(image_size, padding="same"):
    """Spatial size of conv_5 for a square input (conv_1 11/4, pool_1 3/2, pool_2 3/2)."""
    size = _pooled_size(image_size, 11, 4, padding)
    size = _pooled_size(size, 3, 2, padding)
    return _pooled_size(size, 3, 2, padding)


def head_grid(image_size, padding="same", pool5=False):
    """Spatial size of the map the mask and real/fake heads see (conv_5, or pool_5 when on)."""
    grid = conv5_grid(image_size, padding)
    return _pooled_size(grid, 3, 2, padding) if pool5 else grid


@keras.saving.register_keras_serializable(package="spot_tf")
class Discriminator(keras.Model):
    """AlexNet-style classifier of real vs repaired images that also predicts the dropped entries.

    Input: images in [-1, 1]; they are mapped to `x * 127.5 + 127.5 - RGB_MEAN` first. Output: a
    dict with `conv_1`..`conv_5` activations, `mask_logits` [B, cells] (one per head-grid cell,
    1 = kept) and `logits` [B, 2] (index 1 = real). Biases start at 0.1, kernels glorot-uniform,
    slim L2 5e-5 on kernels; batch norm (no scale) only on conv_5 (per group) and fc_1.

    Args:
        image_size: Input size; fixes the fc_1 kernel (it spans the whole head map).
        padding: "same" (the original STL-10 run) or "valid" for conv_1, pool_1, pool_2 and pool_5.
        pool5: Max-pool 3x3/2 after conv_5 before the heads (on for ae_depth 5, so the head grid
            matches the encoder's).
        dropout_rate: Dropout after fc_1 (the original keeps 0.5).
        sync_batch_norm: Batch statistics over all replicas instead of per replica.
    """

    def __init__(self, image_size=96, padding="same", pool5=False, dropout_rate=0.5, sync_batch_norm=False,
                 **kwargs):
        super().__init__(**kwargs)
        padding = padding.lower()
        if padding not in ("same", "valid"):
            raise ValueError(f"discriminator padding must be 'same' or 'valid', got {padding!r}")
        self.image_size = image_size
        self.padding = padding
        self.pool5 = pool5
        self.dropout_rate = dropout_rate
        self.sync_batch_norm = sync_batch_norm
        grid = head_grid(image_size, padding, pool5)
        if grid < 1:
            raise ValueError(f"image_size {image_size} is too small for the discriminator "
                             f"(padding {padding!r}, pool5 {pool5})")
        self.grid = grid
        unit = dict(bias_initializer=keras.initializers.Constant(0.1), activation="relu")
        bn = dict(batch_norm=True, bn_scale=False, sync_batch_norm=sync_batch_norm)
        self.conv_1 = ConvUnit(96, 11, strides=4, padding=padding, name="conv_1", **unit)
        self.pool_1 = keras.layers.MaxPooling2D(3, 2, padding=padding, name="pool_1")
        self.lrn_1 = LocalResponseNormalization(name="lrn_1")
        self.conv_2 = GroupedConvUnit(256, kernel_size=5, name="conv_2", **unit)
        self.pool_2 = keras.layers.MaxPooling2D(3, 2, padding=padding, name="pool_2")
        self.lrn_2 = LocalResponseNormalization(name="lrn_2")
        self.conv_3 = ConvUnit(384, 3, name="conv_3", **unit)
        self.conv_4 = GroupedConvUnit(384, kernel_size=3, name="conv_4", **unit)
        self.conv_5 = GroupedConvUnit(256, kernel_size=3, name="conv_5", **unit, **bn)
        self.pool_5 = keras.layers.MaxPooling2D(3, 2, padding=padding, name="pool_5") if pool5 else None
        self.drop_pred = ConvUnit(1, 3, name="drop_pred", bias_initializer=keras.initializers.Constant(0.1))
        self.fc_1 = ConvUnit(4096, grid, padding="valid", name="fc_1", **unit, **bn)
        self.dropout = keras.layers.Dropout(dropout_rate, name="dropout")
        self.fc_2 = ConvUnit(2, 1, padding="valid", name="fc_2",
                             bias_initializer=keras.initializers.Constant(0.1))

    def build(self, input_shape=None):
        """Creates every variable, the heads' included (fc_1's kernel spans the training-size map)."""
        if self.built:
            return
        # Marked built first so that the trace below only builds the sub-layers.
        self.built = True
        self(ops.zeros((1, self.image_size, self.image_size, 3)), training=False)

    def scale_images(self, images):
        """[-1, 1] images -> 0..255 pixels minus the RGB mean, as the original feeds AlexNet."""
        mean = ops.convert_to_tensor(RGB_MEAN, dtype=images.dtype)
        return images * 127.5 + 127.5 - mean

    def _conv_1_to_4(self, images, training):
        x = self.scale_images(images)
        out = {}
        x = out["conv_1"] = self.conv_1(x, training=training)
        x = self.lrn_1(self.pool_1(x))
        x = out["conv_2"] = self.conv_2(x, training=training)
        x = self.lrn_2(self.pool_2(x))
        x = out["conv_3"] = self.conv_3(x, training=training)
        out["conv_4"] = self.conv_4(x, training=training)
        return out

    def features(self, images, training=None):
        """conv_1..conv_5 activations of [-1, 1] images (any size the convolutions accept).

        `images` may be a tuple of batches (e.g. real and repaired): conv_1..conv_4 have no batch
        norm and run on each apart, so backprop skips a part no gradient is asked of (the real half
        for the repair network); they are joined before conv_5, whose batch norm sees them all.
        In inference, a batch may be empty (see empty_batch.py).
        """
        # Built whole first: a model saved after features() alone must hold every weight.
        self.build()
        if isinstance(images, (tuple, list)):
            return self._features(tuple(images), training)
        return call_allowing_empty(lambda batch: self._features((batch,), training), images, training)

    def _features(self, parts, training):
        per_part = [self._conv_1_to_4(part, training) for part in parts]
        out = {name: per_part[0][name] if len(parts) == 1 else ops.concatenate([p[name] for p in per_part], axis=0)
               for name in CONV_LAYERS[:4]}
        out["conv_5"] = self.conv_5(out["conv_4"], training=training)
        return out

    def call(self, images, training=None, dropout_mask=None, dropout_seed=None):
        """Returns conv_1..conv_5, mask_logits and logits of `images` (a batch or a tuple of them).

        `dropout_mask` (1 = kept, shape of fc_1's output) or `dropout_seed` (stateless [2]) fix the
        fc_1 dropout draw in training; otherwise the Dropout layer draws it. In inference, a batch may be
        empty (see empty_batch.py).
        """
        if isinstance(images, (tuple, list)):
            return self._outputs(tuple(images), training, dropout_mask, dropout_seed)
        return call_allowing_empty(lambda batch: self._outputs((batch,), training, dropout_mask, dropout_seed),
                                   images, training)

    def _outputs(self, parts, training, dropout_mask, dropout_seed):
        # _features, not features(): the batch is already guarded against being empty.
        self.build()
        out = self._features(parts, training)
        x = out["conv_5"]
        if self.pool_5 is not None:
            x = self.pool_5(x)
        mask_logits = self.drop_pred(x)
        x = self.fc_1(x, training=training)
        if training and dropout_seed is not None and dropout_mask is None:
            uniform = tf.random.stateless_uniform(tf.shape(x), tf.cast(dropout_seed, tf.int64))
            dropout_mask = tf.cast(uniform >= self.dropout_rate, x.dtype)
        if training and dropout_mask is not None:
            x = x * ops.cast(dropout_mask, x.dtype) / ops.cast(1.0 - self.dropout_rate, x.dtype)
        else:
            x = self.dropout(x, training=training)
        logits = self.fc_2(x)
        batch = ops.shape(out["conv_5"])[0]
        out["mask_logits"] = ops.reshape(mask_logits, (batch, -1))
        out["logits"] = ops.reshape(logits, (batch, 2))
        return out

    def tf1_variables(self, scope="discriminator"):
        names = {}
        for layer in (self.conv_1, self.conv_2, self.conv_3, self.conv_4, self.conv_5, self.drop_pred,
                      self.fc_1, self.fc_2):
            names.update(layer.tf1_variables(f"{scope}/{layer.name}"))
        return names

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "padding": self.padding,
                "pool5": self.pool5, "dropout_rate": self.dropout_rate,
                "sync_batch_norm": self.sync_batch_norm}
