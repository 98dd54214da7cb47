import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.discriminator import Discriminator
from spot_tf.models.pooling import AdaptiveAveragePooling2D, probe_grid


def test_grids_of_the_split_brain_protocol_at_227():
    feats = Discriminator(96).features(tf.zeros((1, 227, 227, 3)))
    grids = {name: probe_grid(*value.shape[1:]) for name, value in feats.items()}
    assert grids == {"conv_1": (10, 10), "conv_2": (6, 6), "conv_3": (5, 5), "conv_4": (5, 5), "conv_5": (6, 6)}
    dims = {name: grids[name][0] * grids[name][1] * feats[name].shape[-1] for name in grids}
    assert dims == {"conv_1": 9600, "conv_2": 9216, "conv_3": 9600, "conv_4": 9600, "conv_5": 9216}


def test_small_maps_are_kept():
    assert probe_grid(2, 2, 256) == (2, 2)
    assert probe_grid(3, 8, 96) == (3, 8)


def test_equals_average_pooling_when_the_grid_divides_the_map():
    x = tf.random.stateless_normal((2, 12, 12, 5), seed=(1, 2))
    np.testing.assert_allclose(AdaptiveAveragePooling2D((6, 4))(x),
                               tf.nn.avg_pool2d(x, (2, 3), (2, 3), "VALID"), rtol=1e-5, atol=1e-6)


def _reference(x, rows, cols):
    """PyTorch's adaptive_avg_pool2d bins, written as loops."""
    h, w = x.shape[1:3]
    out = np.zeros((x.shape[0], rows, cols, x.shape[3]), np.float32)
    for i in range(rows):
        for j in range(cols):
            r0, r1 = (i * h) // rows, -(-(i + 1) * h // rows)
            c0, c1 = (j * w) // cols, -(-(j + 1) * w // cols)
            out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("size,grid", [((15, 15), (6, 6)), ((7, 10), (3, 4)), ((2, 3), (5, 5))])
def test_matches_adaptive_pooling_bins_for_any_size(size, grid):
    x = np.random.default_rng(0).normal(size=(2,) + size + (3,)).astype(np.float32)
    layer = AdaptiveAveragePooling2D(grid)
    np.testing.assert_allclose(layer(x), _reference(x, *grid), rtol=1e-5, atol=1e-6)
    # The bins follow the dynamic shape inside a graph as well.
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
    np.testing.assert_allclose(fn(x), _reference(x, *grid), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None,) + size + (3,)) == (None,) + grid + (3,)


def test_serialization_and_keras_file(tmp_path):
    x = tf.random.stateless_normal((2, 5, 7, 3), seed=(3, 4))
    run_layer_test(AdaptiveAveragePooling2D((2, 3)), x, tmp_path)
