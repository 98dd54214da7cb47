"""The linear probes' reduction of a conv map to a fixed grid of ~9,000 features.

Two references reduce differently: Zhang et al.'s split-brain test resizes each map bilinearly (a
Caffe "Resize" layer), deepcluster's eval_linear average-pools it. Both reach the same grids at the
standard AlexNet size (`probe_grid`).
"""
import math

import keras
from keras import ops

# Split-brain (Zhang et al. 2017) linear probes see about 9,000 pooled features per layer.
PROBE_FEATURES = 9000


def probe_grid(height, width, channels, target_features=PROBE_FEATURES):
    """The pooled (rows, cols) for a map: s = round(sqrt(target / channels)), kept if the map is smaller.

    At 227 px this gives the protocol's conv1 10x10x96, conv2 6x6x256, conv3/conv4 5x5x384 and
    conv5 6x6x256.
    """
    side = max(1, round(math.sqrt(target_features / channels)))
    return min(side, height), min(side, width)


def _bin_weights(size, bins, dtype):
    """[bins, size] matrix averaging bin i over [floor(i*size/bins), ceil((i+1)*size/bins)) (PyTorch's bins)."""
    index = ops.arange(bins, dtype="int32")
    start = ops.floor_divide(index * size, bins)
    end = -ops.floor_divide(-(index + 1) * size, bins)
    pos = ops.arange(size, dtype="int32")[None, :]
    inside = ops.cast(ops.logical_and(pos >= start[:, None], pos < end[:, None]), dtype)
    return inside / ops.sum(inside, axis=1, keepdims=True)


class _ToGrid(keras.layers.Layer):
    """Base of the reductions of an NHWC map of any spatial size to a fixed (rows, cols) grid.

    Args:
        grid: (rows, cols) of the output.
    """

    def __init__(self, grid, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(int(g) for g in grid)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.grid + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


@keras.saving.register_keras_serializable(package="spot_tf")
class AdaptiveAveragePooling2D(_ToGrid):
    """Average-pools an NHWC map of any spatial size to a fixed (rows, cols) grid.

    The bins are built from the input's dynamic shape, so a test set of another size still gives the
    grid the linear layer expects.

    Args:
        grid: (rows, cols) of the output.
    """

    def call(self, inputs):
        shape = ops.shape(inputs)
        rows = _bin_weights(shape[1], self.grid[0], inputs.dtype)
        cols = _bin_weights(shape[2], self.grid[1], inputs.dtype)
        return ops.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)


@keras.saving.register_keras_serializable(package="spot_tf")
class BilinearResize2D(_ToGrid):
    """Resizes an NHWC map of any spatial size to a fixed (rows, cols) grid, bilinearly.

    Split-brain's Caffe "Resize" layer samples the map rather than averaging it; TF's bilinear
    resize (half-pixel centres, no antialiasing) does the same.

    Args:
        grid: (rows, cols) of the output.
    """

    def call(self, inputs):
        resized = ops.image.resize(inputs, self.grid, interpolation="bilinear", antialias=False)
        return ops.cast(resized, inputs.dtype)


# How each protocol's probes reduce a map to their grid.
POOLING = {"average": AdaptiveAveragePooling2D, "bilinear": BilinearResize2D}
