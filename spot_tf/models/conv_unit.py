"""The convolution unit every network of the original is built from (slim's `conv2d`).

A slim conv2d is: convolution, then either a bias or a batch norm, then an activation. The
original's grouped convolutions (AlexNet conv_2, conv_4, conv_5) are two such units on the two
halves of the channels, each with its own kernel (and batch norm), which is also how the original
checkpoint stores them.
"""
import keras
import tensorflow as tf
from keras import ops

from spot_tf.models.device_kernels import TAP_WEIGHT_GRADIENT, TILING_CONV_GRADIENTS, use_cpu_rewrite
from spot_tf.models.tracking import track_by_name

# slim's l2_regularizer(s) is s * sum(w**2) / 2; Keras' L2(l) is l * sum(w**2).
SLIM_WEIGHT_DECAY = 5e-5


def slim_l2(scale=SLIM_WEIGHT_DECAY):
    """Returns a Keras regularizer equal to slim's `l2_regularizer(scale)`."""
    return keras.regularizers.L2(scale / 2.0) if scale else None


# oneDNN's bfloat16 weight gradient (its `jit_bf16` kernel: CPUs without AMX have no brgemm one) is
# slow on small maps with many channels: at batch 128, 6x6x512 -> 512 ran at about 140 GFLOP/s where
# the same sums as one matmul per kernel tap ran at 215 (6x6x256 -> 384: 180 vs 300). From 12x12 on
# the kernel is as fast (12x12x256 -> 256: 330 vs 315), and with fewer channels it is a draw (6x6x192
# -> 192 lost, 192 -> 128 at batch 256 won). The repair network's first block and the discriminator's
# conv_3 qualify.
TAP_GRADIENT_MAX_PIXELS = 8 * 8
TAP_GRADIENT_MIN_CHANNEL_PRODUCT = 256 * 256


def _tap_kernel_gradient(inputs, d_out, kernel_shape):
    """The kernel gradient of a stride-1 SAME convolution as one matmul per kernel tap.

    grad[i, j] = sum over (b, y, x) of padded_input[b, y + i, x + j, :]^T d_out[b, y, x, :]: the sum
    Conv2DBackpropFilter computes (float32 accumulation in bfloat16 too), in a different order.
    """
    kh, kw, cin, cout = kernel_shape
    height, width = inputs.shape[1], inputs.shape[2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = tf.pad(inputs, [[0, 0], [top, kh - 1 - top], [left, kw - 1 - left], [0, 0]])
    d_out = tf.reshape(d_out, [-1, cout])
    taps = [tf.matmul(tf.reshape(padded[:, i:i + height, j:j + width, :], [-1, cin]), d_out, transpose_a=True)
            for i in range(kh) for j in range(kw)]
    return tf.reshape(tf.stack(taps), kernel_shape)


@tf.custom_gradient
def conv2d_tap_gradient(inputs, kernel):
    """`tf.nn.conv2d(inputs, kernel, 1, "SAME")` whose kernel gradient is `_tap_kernel_gradient`.

    The forward op and the input gradient (Conv2DBackpropInput) are the ones TF's own gradient uses.
    """
    def grad(d_out):
        d_inputs = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(inputs), filter=kernel, out_backprop=d_out,
                                                  strides=[1, 1, 1, 1], padding="SAME")
        return d_inputs, _tap_kernel_gradient(inputs, d_out, kernel.shape)

    return tf.nn.conv2d(inputs, kernel, 1, "SAME"), grad


@tf.custom_gradient
def conv2d_patch_gradient(inputs, kernel):
    """A convolution whose square kernel equals its stride (the encoder's 2x2 / 2), with matmul gradients.

    The windows tile the input, so with x = space_to_depth(inputs) (channels in the kernel's (row,
    column, channel) order) the convolution is x @ W: the kernel gradient is x^T @ d_out and the input
    gradient depth_to_space(d_out @ W^T), the same sums as Conv2DBackpropFilter / -Input. In bfloat16
    oneDNN runs those two strided kernels at 60-100 GFLOP/s where the matmuls reach 140-300 (the
    encoder's backward 30% faster in all); its forward kernel is as fast as the matmul and is kept.
    Needs the input's height and width divisible by the stride (then SAME has no padding).
    """
    stride, cout = kernel.shape[0], kernel.shape[3]

    def grad(d_out):
        patches = tf.nn.space_to_depth(inputs, stride)
        flat_kernel = tf.reshape(kernel, [-1, cout])
        d_out_flat = tf.reshape(d_out, [-1, cout])
        d_kernel = tf.matmul(tf.reshape(patches, [-1, flat_kernel.shape[0]]), d_out_flat, transpose_a=True)
        d_patches = tf.reshape(tf.matmul(d_out_flat, flat_kernel, transpose_b=True), tf.shape(patches))
        return tf.nn.depth_to_space(d_patches, stride), tf.reshape(d_kernel, kernel.shape)

    return tf.nn.conv2d(inputs, kernel, stride, "VALID"), grad


def he_fan_avg():
    """The autoencoder's and repair network's initializer (variance scaling 2.0, fan_avg, truncated normal)."""
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_avg", distribution="truncated_normal")


@keras.saving.register_keras_serializable(package="spot_tf")
class ConvUnit(keras.layers.Layer):
    """Convolution followed by a bias or a batch norm, then an activation (slim's `conv2d`).

    Args:
        filters: Output channels.
        kernel_size: Kernel size, an int or a pair.
        strides: Convolution stride.
        padding: "same" or "valid".
        batch_norm: Normalise with batch norm instead of adding a bias.
        bn_scale: Whether the batch norm learns a scale (gamma).
        activation: Activation name or callable, None for linear.
        kernel_initializer: Initializer of the kernel.
        bias_initializer: Initializer of the bias (unused with batch_norm).
        weight_decay: slim-convention L2 scale on the kernel (0 for none).
        bias_decay: slim-convention L2 scale on the bias (0 for none).
        bn_momentum: Batch-norm moving-average momentum (slim's `decay`).
        bn_epsilon: Batch-norm epsilon.
        sync_batch_norm: Batch statistics over all replicas instead of per replica.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", batch_norm=False, bn_scale=True,
                 activation=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 weight_decay=SLIM_WEIGHT_DECAY, bias_decay=0.0, bn_momentum=0.975, bn_epsilon=1e-3,
                 sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.batch_norm = batch_norm
        self.bn_scale = bn_scale
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.weight_decay = weight_decay
        self.bias_decay = bias_decay
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon
        self.sync_batch_norm = sync_batch_norm
        self.conv = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding=padding, use_bias=not batch_norm,
            kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer,
            kernel_regularizer=slim_l2(weight_decay),
            bias_regularizer=None if batch_norm else slim_l2(bias_decay), name="conv")
        self.bn = None
        if batch_norm:
            self.bn = keras.layers.BatchNormalization(
                momentum=bn_momentum, epsilon=bn_epsilon, center=True, scale=bn_scale,
                synchronized=sync_batch_norm, name="BatchNorm")

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(input_shape))

    def _covers_input(self, inputs):
        """Whether the convolution is one window over the whole (static) input: a matmul."""
        size = self.kernel_size if isinstance(self.kernel_size, (tuple, list)) else (self.kernel_size,) * 2
        return (self.padding == "valid" and tuple(size) != (1, 1) and tuple(inputs.shape[1:3]) == tuple(size)
                and self.conv.strides == (1, 1) and self.conv.dilation_rate == (1, 1))

    def _full_map_conv(self, inputs):
        # A VALID conv whose kernel spans the whole map (fc_1) is [B, h*w*c] x [h*w*c, filters]:
        # the same sum, but a matmul runs it (and its two backprops) ~10x faster than the conv kernels.
        kernel = ops.cast(self.conv.kernel, inputs.dtype)
        x = ops.matmul(ops.reshape(inputs, (-1, kernel.shape[0] * kernel.shape[1] * kernel.shape[2])),
                       ops.reshape(kernel, (-1, self.filters)))
        if self.conv.use_bias:
            x = x + ops.cast(self.conv.bias, x.dtype)
        return ops.reshape(x, (-1, 1, 1, self.filters))

    def _fused_batch_norm(self, x, training):
        """The batch norm through TF's fused kernel, as the original's slim batch norm in training.

        Same maths as the Keras layer (batch mean and biased variance in training, moving statistics
        otherwise; the moving averages are updated with the biased variance, as Keras does), but one
        oneDNN kernel forward and one backward instead of ~10 element-wise passes over the
        activation (3x faster on the repair blocks), and bfloat16 activations are normalised
        without a float32 copy. The kernel's batch statistics differ from Keras' two-pass moments by
        float rounding (about 3e-6 relative on the step's losses).
        """
        bn = self.bn
        channels = x.shape[-1]
        gamma = ops.cast(bn.gamma, "float32") if bn.scale else tf.ones([channels], tf.float32)
        beta = ops.cast(bn.beta, "float32") if bn.center else tf.zeros([channels], tf.float32)
        if training and bn.trainable:
            y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=tf.zeros([0], tf.float32),
                variance=tf.zeros([0], tf.float32), epsilon=bn.epsilon, data_format="NHWC", is_training=True)
            # The kernel returns the Bessel-corrected variance; Keras averages the biased one.
            shape = tf.shape(x)
            count = tf.cast(shape[0] * shape[1] * shape[2], tf.float32)
            variance = variance * ((count - 1.0) / tf.maximum(count, 1.0))
            momentum = bn.momentum
            bn.moving_mean.assign(bn.moving_mean * momentum + mean * (1.0 - momentum))
            bn.moving_variance.assign(bn.moving_variance * momentum + variance * (1.0 - momentum))
            return y
        y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=ops.cast(bn.moving_mean, "float32"),
            variance=ops.cast(bn.moving_variance, "float32"), epsilon=bn.epsilon, data_format="NHWC",
            is_training=False)
        return y

    def _tap_gradient(self, inputs):
        """Whether this bfloat16 convolution takes its kernel gradient from per-tap matmuls (see above; on CPUs)."""
        height, width = inputs.shape[1], inputs.shape[2]
        return (inputs.dtype == tf.bfloat16 and self.padding == "same" and self.conv.strides == (1, 1)
                and self.conv.dilation_rate == (1, 1) and height is not None and width is not None
                and height * width <= TAP_GRADIENT_MAX_PIXELS
                and inputs.shape[-1] * self.filters >= TAP_GRADIENT_MIN_CHANNEL_PRODUCT
                and use_cpu_rewrite(TAP_WEIGHT_GRADIENT))

    def _patch_gradient(self, inputs):
        """Whether this bfloat16 convolution tiles its input (kernel = stride) and takes matmul gradients (on CPUs)."""
        size = self.kernel_size if isinstance(self.kernel_size, (tuple, list)) else (self.kernel_size,) * 2
        height, width = inputs.shape[1], inputs.shape[2]
        return (inputs.dtype == tf.bfloat16 and size[0] == size[1] > 1 and self.conv.strides == tuple(size)
                and self.conv.dilation_rate == (1, 1) and height is not None and width is not None
                and height % size[0] == 0 and width % size[1] == 0 and use_cpu_rewrite(TILING_CONV_GRADIENTS))

    def _convolve(self, inputs, extra_inputs):
        if extra_inputs is None and self._patch_gradient(inputs):
            x = conv2d_patch_gradient(inputs, ops.cast(self.conv.kernel, inputs.dtype))
            return x + ops.cast(self.conv.bias, x.dtype) if self.conv.use_bias else x
        tap_gradient = self._tap_gradient(inputs)
        if extra_inputs is None and not tap_gradient:
            return self._full_map_conv(inputs) if self._covers_input(inputs) else self.conv(inputs)
        kernel = ops.cast(self.conv.kernel, inputs.dtype)
        split = inputs.shape[-1]
        strides, padding = self.conv.strides, self.padding.upper()
        main_kernel = kernel if extra_inputs is None else kernel[:, :, :split, :]
        x = (conv2d_tap_gradient(inputs, main_kernel) if tap_gradient
             else tf.nn.conv2d(inputs, main_kernel, strides, padding))
        if extra_inputs is not None:
            # conv(concat[a, b], W) = conv(a, W[..., :ca, :]) + conv(b, W[..., ca:, :]): the same sum
            # and the same kernel variable, but no odd channel count (e.g. 32 + 1) that slows oneDNN.
            x = x + tf.nn.conv2d(ops.cast(extra_inputs, inputs.dtype), kernel[:, :, split:, :], strides, padding)
        if self.conv.use_bias:
            x = x + ops.cast(self.conv.bias, x.dtype)
        return x

    def call(self, inputs, training=None, extra_inputs=None):
        """`extra_inputs`: more input channels, as if concatenated after `inputs`."""
        x = self._convolve(inputs, extra_inputs)
        if self.bn is not None:
            if self.sync_batch_norm or len(x.shape) != 4:
                x = self.bn(x, training=training)
            else:
                x = self._fused_batch_norm(x, training)
        return self.activation(x) if self.activation is not None else x

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def tf1_variables(self, scope):
        """Maps the original checkpoint's names (under `scope`) to this unit's variables."""
        names = {f"{scope}/weights": self.conv.kernel}
        if self.bn is None:
            names[f"{scope}/biases"] = self.conv.bias
        else:
            if self.bn_scale:
                names[f"{scope}/BatchNorm/gamma"] = self.bn.gamma
            names[f"{scope}/BatchNorm/beta"] = self.bn.beta
            names[f"{scope}/BatchNorm/moving_mean"] = self.bn.moving_mean
            names[f"{scope}/BatchNorm/moving_variance"] = self.bn.moving_variance
        return names

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "batch_norm": self.batch_norm, "bn_scale": self.bn_scale,
            "activation": keras.activations.serialize(self.activation) if self.activation else None,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "weight_decay": self.weight_decay, "bias_decay": self.bias_decay,
            "bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon,
            "sync_batch_norm": self.sync_batch_norm,
        })
        return config


@keras.saving.register_keras_serializable(package="spot_tf")
class GroupedConvUnit(keras.layers.Layer):
    """AlexNet's two-group convolution: one `ConvUnit` per half of the channels, concatenated.

    Args:
        filters: Total output channels (split evenly over the groups).
        groups: Number of channel groups.
        **unit_kwargs: Arguments of every group's `ConvUnit` (kernel_size, batch_norm, ...).
    """

    def __init__(self, filters, groups=2, **unit_kwargs):
        layer_kwargs = {k: unit_kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in unit_kwargs}
        super().__init__(**layer_kwargs)
        self.filters = filters
        self.groups = groups
        self.unit_kwargs = unit_kwargs
        self.units = track_by_name(
            self, [ConvUnit(filters // groups, name=f"conv_{g}", **unit_kwargs) for g in range(groups)])

    def build(self, input_shape):
        group_shape = tuple(input_shape[:-1]) + (input_shape[-1] // self.groups,)
        for unit in self.units:
            unit.build(group_shape)

    def call(self, inputs, training=None):
        parts = ops.split(inputs, self.groups, axis=-1)
        return ops.concatenate([unit(p, training=training) for unit, p in zip(self.units, parts)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(self.units[0].compute_output_shape(input_shape)[:-1]) + (self.filters,)

    def tf1_variables(self, scope):
        names = {}
        for g, unit in enumerate(self.units):
            names.update(unit.tf1_variables(f"{scope}/conv_{g}"))
        return names

    def get_config(self):
        # A unit's own config has every ConvUnit argument, defaults included, already serialized.
        unit = {key: value for key, value in self.units[0].get_config().items()
                if key not in ("name", "filters", "trainable", "dtype")}
        return {**super().get_config(), "filters": self.filters, "groups": self.groups, **unit}
