"""FCN-32s on the discriminator's conv_5: the segmentation network of the SSL papers' VOC test.

The reference is FCN-AlexNet (shelhamer/fcn.berkeleyvision.org `voc-fcn-alexnet`, run by
richzhang/colorization `feature_learning_tests/segmentation/`): conv1 padded by 100 pixels, AlexNet up
to pool5, fc6 a 6x6 convolution, fc7 1x1, dropout 0.5 after both, a 1x1 score layer, a fixed bilinear
63x63 deconvolution of stride 32 and a crop to the input at FCN's offset (18 pixels for AlexNet).

Here the input is padded by the same 100 pixels (with the mean colour, i.e. zeros after the mean is
subtracted, as Caffe pads conv1's input) and the crop offset is derived from the layers' geometry, so
a score pixel lines up with the input pixel at the centre of its receptive field as in the reference.
The discriminator's "valid" padding is AlexNet's geometry but for the pools, which round their output
size down where Caffe rounds it up: the maps can be a cell short at the far edge, so the bottom and
right get 32 more pixels of padding, which restores the coverage without moving the grid (offset 18,
as the reference's). With "same" padding conv_1 and the pools pad by amounts that depend on the size:
the offset is computed per input size (21 to 51 pixels); the output stride stays 32.
"""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from spot_tf.models.conv_unit import ConvUnit
from spot_tf.models.discriminator import RGB_MEAN
from spot_tf.models.empty_batch import call_allowing_empty

NUM_CLASSES = 21  # VOC: background and 20 classes.
INPUT_PAD = 100  # The reference's conv1 pad: small images still give a score map that covers them.
OUTPUT_STRIDE = 32
END_PAD = INPUT_PAD + OUTPUT_STRIDE  # Bottom and right: see above.
UPSAMPLE_KERNEL = 63  # The reference's deconvolution kernel (odd: its centre is a pixel).
FC_KERNEL = 6  # fc6 over pool5, as AlexNet's fc6 over its 6x6 pool5.
FC_CHANNELS = 4096

# (kernel, stride, padding or None for the discriminator's) of every layer from the padded input to fc6.
# Stride-1 odd-kernel "same" convolutions (conv_2..conv_5) neither shift nor scale the grid: left out.
_GRID_LAYERS = ((11, 4, None), (3, 2, None), (3, 2, None), (3, 2, None), (FC_KERNEL, 1, "valid"))


def bilinear_kernel(size):
    """[size, size] bilinear interpolation weights, FCN's `upsample_filt`: stride (size + 1) // 2."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    taps = 1.0 - np.abs(np.arange(size) - center) / factor
    return np.outer(taps, taps).astype(np.float32)


def score_geometry(size, padding):
    """(origin, cells): twice the padded-input position at the centre of score cell 0's receptive field
    (an integer: centres fall on pixels or half pixels), and the number of score cells, along an axis
    of `size` padded pixels (an int or an integer tensor).

    Each layer maps output cell i to input position stride * i - pad_left + (kernel - 1) / 2; TF's
    "same" pads (out - 1) * stride + kernel - size in all, the smaller half first.
    """
    origin, scale = 0, 1
    for kernel, stride, layer_padding in _GRID_LAYERS:
        if (layer_padding or padding) == "same":
            cells = (size + stride - 1) // stride
            pad_left = ((cells - 1) * stride + kernel - size) // 2
        else:
            cells = (size - kernel) // stride + 1
            pad_left = 0
        origin = origin + scale * (kernel - 1 - 2 * pad_left)
        scale, size = scale * stride, cells
    return origin, size


def crop_offset(padded_size, padding):
    """Where the input's first pixel sits in the upsampled score map (FCN's crop offset)."""
    origin, _ = score_geometry(padded_size, padding)
    # Upsampled pixel o lies at padded position origin / 2 + o - (UPSAMPLE_KERNEL - 1) / 2.
    return INPUT_PAD + (UPSAMPLE_KERNEL - 1) // 2 - origin // 2


def upsampled_size(padded_size, padding):
    """Size of the upsampled score map along an axis of `padded_size` padded pixels."""
    _, cells = score_geometry(padded_size, padding)
    return (cells - 1) * OUTPUT_STRIDE + UPSAMPLE_KERNEL


def padded_size(size):
    """Size along an axis of an image of `size` pixels after `pad_images`."""
    return size + INPUT_PAD + END_PAD


def pad_images(images):
    """[-1, 1] images padded with the mean colour, which the discriminator maps to 0: INPUT_PAD pixels
    at the top and left, END_PAD at the bottom and right."""
    mean = ops.cast((np.asarray(RGB_MEAN, np.float32) - 127.5) / 127.5, images.dtype)
    return ops.pad(images - mean, [[0, 0], [INPUT_PAD, END_PAD], [INPUT_PAD, END_PAD], [0, 0]]) + mean


@keras.saving.register_keras_serializable(package="spot_tf")
class BilinearUpsampling(keras.layers.Layer):
    """A fixed (not trained) bilinear transposed convolution of every channel on its own (FCN's
    "upscore" with `surgery.interp` weights): [B, h, w, C] -> [B, (h - 1) * stride + kernel, ..., C].

    Args:
        kernel_size: Side of the bilinear kernel; its stride is (kernel_size + 1) // 2.
    """

    def __init__(self, kernel_size=UPSAMPLE_KERNEL, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.stride = (kernel_size + 1) // 2

    def call(self, inputs):
        # Channels into the batch: one [k, k, 1, 1] kernel instead of a diagonal [k, k, C, C] one.
        shape = tf.shape(inputs)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        x = tf.reshape(tf.transpose(inputs, [0, 3, 1, 2]), [-1, height, width, 1])
        size = self.kernel_size
        kernel = tf.constant(bilinear_kernel(size)[:, :, None, None], dtype=inputs.dtype)
        out_height, out_width = (height - 1) * self.stride + size, (width - 1) * self.stride + size
        x = tf.nn.conv2d_transpose(x, kernel, [batch * channels, out_height, out_width, 1], self.stride, "VALID")
        x = tf.transpose(tf.reshape(x, [batch, channels, out_height, out_width]), [0, 2, 3, 1])
        return tf.ensure_shape(x, [None, None, None, inputs.shape[-1]])

    def compute_output_shape(self, input_shape):
        grow = lambda n: None if n is None else (n - 1) * self.stride + self.kernel_size
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="spot_tf")
class FCN32s(keras.Model):
    """The FCN-32s head: conv_5 of the padded images -> per-pixel class logits of the unpadded images.

    pool_5 (3x3 / 2, the discriminator's padding), fc6 (6x6 valid, 4096), fc7 (1x1, 4096), both ReLU
    and dropout, a 1x1 score layer, the bilinear x32 upsampling and the crop. Initialised as the
    reference's prototxt: fc6 / fc7 weights N(0, 0.005) and biases 1, the score layer all zeros (FCN's
    zero-initialised classifier). No weight decay of their own: the trainer decays every trained kernel.

    Args:
        num_classes: Number of classes, background included.
        padding: The discriminator's padding ("same" or "valid"), which sets pool_5's and the crop.
        dropout_rate: Dropout after fc6 and fc7.
        fc_channels: Width of fc6 and fc7 (the reference's 4096; tests take fewer).
    """

    def __init__(self, num_classes=NUM_CLASSES, padding="valid", dropout_rate=0.5, fc_channels=FC_CHANNELS,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.padding = padding
        self.dropout_rate = dropout_rate
        self.fc_channels = fc_channels
        fc = dict(activation="relu", padding="valid", weight_decay=0.0,
                  kernel_initializer=keras.initializers.RandomNormal(stddev=0.005),
                  bias_initializer=keras.initializers.Constant(1.0))
        self.pool_5 = keras.layers.MaxPooling2D(3, 2, padding=padding, name="pool_5")
        self.fc6 = ConvUnit(fc_channels, FC_KERNEL, name="fc6", **fc)
        self.drop6 = keras.layers.Dropout(dropout_rate, name="drop6")
        self.fc7 = ConvUnit(fc_channels, 1, name="fc7", **fc)
        self.drop7 = keras.layers.Dropout(dropout_rate, name="drop7")
        self.score = ConvUnit(num_classes, 1, padding="valid", weight_decay=0.0, kernel_initializer="zeros",
                              bias_initializer="zeros", name="score")
        self.upsample = BilinearUpsampling(UPSAMPLE_KERNEL, name="upsample")

    def build(self, input_shape):
        if self.built:
            return
        self.built = True
        # The smallest conv_5 map pool_5 and fc6 accept, whatever the padding.
        self(ops.zeros((1, 16, 16, input_shape[-1])), image_shape=(1, 1), training=False)

    def call(self, conv_5, image_shape=None, training=None):
        """Logits [B, height, width, num_classes] for images of `image_shape` (height, width: before
        `pad_images`) whose padded conv_5 map is `conv_5`; uncropped when `image_shape` is None."""
        x = self.pool_5(conv_5)
        x = self.drop6(self.fc6(x), training=training)
        x = self.drop7(self.fc7(x), training=training)
        x = self.upsample(self.score(x))
        if image_shape is None:
            return x
        height, width = image_shape[0], image_shape[1]
        top = crop_offset(padded_size(height), self.padding)
        left = crop_offset(padded_size(width), self.padding)
        return x[:, top:top + height, left:left + width, :]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "padding": self.padding,
                "dropout_rate": self.dropout_rate, "fc_channels": self.fc_channels}


def segmentation_logits(discriminator, fcn, images, training=None):
    """[B, H, W, classes] logits of [-1, 1] images [B, H, W, 3] through conv_5 and the FCN head (in
    inference, of an empty batch too: see empty_batch.py)."""
    def logits(batch):
        shape = tf.shape(batch)
        conv_5 = discriminator.features(pad_images(batch), training=training)["conv_5"]
        return fcn(conv_5, image_shape=(shape[1], shape[2]), training=training)

    return call_allowing_empty(logits, images, training)
