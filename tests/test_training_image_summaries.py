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
