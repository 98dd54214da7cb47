import numpy as np
import tensorflow as tf

from spot_tf import visualize


def test_montage_tiles_row_major_with_padding():
    images = tf.stack([tf.fill((2, 2, 1), float(i) / 10) for i in range(3)])
    grid = visualize.montage(images, columns=2, pad=1)
    assert grid.shape == (1, 6, 6, 1)
    assert float(grid[0, 0, 0, 0]) == 0.0 and float(grid[0, 0, 3, 0]) == np.float32(0.1)
    assert float(grid[0, 3, 0, 0]) == np.float32(0.2) and float(grid[0, 3, 3, 0]) == 1.0


def test_filter_grid_normalises_each_filter():
    kernel = tf.random.stateless_normal((11, 11, 3, 96), (1, 2))
    grid = visualize.filter_grid(kernel)
    assert grid.shape == (1, 6 * 12, 16 * 12, 3)
    assert 0.0 <= float(tf.reduce_min(grid)) and float(tf.reduce_max(grid)) <= 1.0


def test_dropped_cells_are_tinted_and_kept_ones_not():
    images = tf.zeros((1, 4, 4, 3))
    mask = tf.constant([[[[1.0], [0.0]], [[1.0], [1.0]]]])
    marked = visualize.mark_dropped(images, mask).numpy()
    np.testing.assert_allclose(marked[0, 0, 0], [0.5, 0.5, 0.5])
    assert marked[0, 0, 3, 0] > marked[0, 0, 3, 1]
    grid = visualize.real_vs_repaired_grid(tf.zeros((2, 4, 4, 3)), tf.zeros((2, 4, 4, 3)), tf.ones((2, 2, 2, 1)))
    assert grid.dtype == np.uint8 and grid.shape == (3 * 6, 2 * 6, 3)


def test_voc_palette_is_the_devkits():
    from spot_tf.visualize import colour_labels, voc_palette
    palette = voc_palette()
    # labelcolormap.m: background black, aeroplane (1) dark red, bicycle (2) dark green, person (15),
    # void (255) cream.
    assert palette[0].tolist() == [0, 0, 0] and palette[1].tolist() == [128, 0, 0]
    assert palette[2].tolist() == [0, 128, 0] and palette[15].tolist() == [192, 128, 128]
    assert palette[255].tolist() == [224, 224, 192]
    colours = colour_labels(np.array([[[1, 255]]])).numpy()
    np.testing.assert_allclose(colours[0, 0], [[128 / 255, 0, 0], [224 / 255, 224 / 255, 192 / 255]], rtol=1e-6)
