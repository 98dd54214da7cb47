import numpy as np

from conftest import tiny_settings
from spot_tf.run.checkpoints import build_spot_model
from spot_tf.training.image_summaries import autoencoder_images, sample_images, spot_images, weight_histograms


def test_a_fixed_test_batch_and_what_each_phase_makes_of_it(tmp_path, demo_cache):
    settings = tiny_settings(tmp_path, demo_cache)
    sample = sample_images(settings, count=8)
    assert sample.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(sample.numpy(), sample_images(settings, count=8).numpy())
    model = build_spot_model(settings.model)
    images = spot_images(model)(sample)
    assert set(images) == {"images/inputs", "images/reconstructions", "images/repaired", "images/dropped_marked",
                           "images/masks", "weights/conv_1"}
    assert all(v.shape[0] == 1 and 0.0 <= float(np.min(v)) and float(np.max(v)) <= 1.0 for v in images.values())
    assert set(autoencoder_images(model.autoencoder)(sample)) == {"images/inputs", "images/reconstructions"}
    histograms = weight_histograms(model.discriminator)()
    assert len(histograms) == len(model.discriminator.trainable_variables)


def test_segmentation_rows_show_image_truth_and_prediction_in_the_voc_palette():
    import tensorflow as tf
    from spot_tf.training.image_summaries import segmentation_images
    from spot_tf.visualize import voc_palette

    class Predicts:  # Every pixel predicted "cat" (8).
        def predict_classes(self, images):
            return tf.fill(tf.shape(images)[:3], 8)

    mask = np.zeros((1, 10, 14), np.int32)
    mask[0, :, 7:] = 255
    samples = [(tf.zeros((1, 10, 14, 3)), tf.constant(mask))] * 2
    grid = segmentation_images(Predicts(), side=8)(samples)["images/image_truth_prediction"].numpy()
    # Two rows of three 8 px tiles, 1 px apart.
    assert grid.shape == (1, 18, 27, 3)
    np.testing.assert_allclose(grid[0, 0, 0], [0.5, 0.5, 0.5])  # a zero image in [-1, 1] is mid-grey
    np.testing.assert_allclose(grid[0, 0, 9], [0, 0, 0])  # truth: background black
    np.testing.assert_allclose(grid[0, 0, 9 + 7], voc_palette()[255] / 255, rtol=1e-6)  # then void
    np.testing.assert_allclose(grid[0, 0, 18], voc_palette()[8] / 255, rtol=1e-6)  # prediction: cat
