import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import Discriminator
from spot_tf.models.fcn32s import (INPUT_PAD, OUTPUT_STRIDE, UPSAMPLE_KERNEL, BilinearUpsampling, FCN32s,
                                   bilinear_kernel, crop_offset, pad_images, padded_size, score_geometry,
                                   segmentation_logits, upsampled_size)


def test_bilinear_kernel_is_fcns_formula():
    # Size 4 (stride 2): factor 2, centre 1.5 -> taps 1 - |i - 1.5| / 2.
    np.testing.assert_allclose(bilinear_kernel(4), np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]))
    kernel = bilinear_kernel(UPSAMPLE_KERNEL)
    assert kernel.shape == (63, 63) and kernel[31, 31] == 1.0
    # Odd size 63: factor 32, centre 31.
    assert kernel[0, 31] == pytest.approx(1 - 31 / 32) and kernel[10, 20] == pytest.approx((1 - 21 / 32) * (1 - 11 / 32))
    # Taps 32 apart sum to 1: a constant map upsamples to the same constant.
    assert kernel[31, 5] + kernel[31, 37] == pytest.approx(1.0)


def test_upsampling_is_fixed_per_channel_and_interpolates_linearly():
    layer = BilinearUpsampling()
    ramp = np.arange(4, dtype=np.float32)
    maps = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :] * 2, 1.0 + 0 * ramp[:, None]), -1)[None]
    out = layer(tf.constant(np.broadcast_to(maps, (1, 4, 4, 3)))).numpy()
    assert out.shape == (1, 3 * 32 + 63, 3 * 32 + 63, 3) and not layer.weights
    inner = slice(31, 31 + 3 * 32 + 1)  # between the first and last cells' centres
    # Cell j's centre is at 31 + 32 j; in between, each channel is the linear interpolation of its own cells.
    positions = (np.arange(out.shape[1])[inner] - 31) / 32
    np.testing.assert_allclose(out[0, inner, 40, 0], positions, atol=1e-5)
    np.testing.assert_allclose(out[0, 40, inner, 1], 2 * positions, atol=1e-5)
    np.testing.assert_allclose(out[0, inner, inner, 2], 1.0, atol=1e-5)


def test_the_valid_geometry_is_fcn_alexnets():
    # AlexNet's score cell 0 is centred on padded pixel 113; the reference crops at 18.
    for size in (1, 100, 333, 500):
        origin, _ = score_geometry(padded_size(size), "valid")
        assert origin == 2 * 113
        assert crop_offset(padded_size(size), "valid") == 18


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_the_upsampled_map_covers_every_input_size(padding):
    for size in range(1, 520):
        offset = crop_offset(padded_size(size), padding)
        assert 0 <= offset and offset + size <= upsampled_size(padded_size(size), padding), size


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_the_crop_puts_each_pixel_at_its_score_position(padding):
    """Score cells holding their centres' input positions, upsampled and cropped, read the pixel's own
    position (bilinear interpolation of a linear map is exact between the cells)."""
    for size in (37, 90, 161):
        padded = padded_size(size)
        origin, cells = score_geometry(padded, padding)
        centres = origin / 2 + OUTPUT_STRIDE * np.arange(cells, dtype=np.float32)
        up = BilinearUpsampling()(tf.constant(centres[None, :, None, None] * np.ones((1, 1, 2, 1), np.float32)))
        offset = crop_offset(padded, padding)
        column = up.numpy()[0, offset:offset + size, 31, 0]  # 31: the first column cell's centre
        first, last = 31 - offset, 31 + 32 * (cells - 1) - offset  # pixels between the outer centres
        inner = np.arange(size)[(np.arange(size) >= first) & (np.arange(size) <= last)]
        assert len(inner) > size // 2
        np.testing.assert_allclose(column[inner], inner + INPUT_PAD, atol=1e-3)


def test_pad_images_pads_with_what_the_discriminator_maps_to_zero():
    images = tf.random.stateless_uniform((1, 5, 7, 3), (1, 2), -1, 1)
    padded = pad_images(images)
    assert padded.shape == (1, padded_size(5), padded_size(7), 3)
    np.testing.assert_allclose(padded[0, INPUT_PAD:INPUT_PAD + 5, INPUT_PAD:INPUT_PAD + 7], images[0], atol=1e-6)
    scaled = Discriminator(32).scale_images(padded).numpy()
    np.testing.assert_allclose(scaled[0, 0], 0.0, atol=1e-4)
    np.testing.assert_allclose(scaled[0, -1], 0.0, atol=1e-4)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_logits_cover_the_image_and_the_map_sizes_agree(padding):
    keras.utils.set_random_seed(0)
    disc = Discriminator(64, padding=padding)
    fcn = FCN32s(padding=padding, fc_channels=256)
    images = tf.random.stateless_uniform((2, 21, 45, 3), (3, 4), -1, 1)
    logits = segmentation_logits(disc, fcn, images, training=False)
    assert logits.shape == (2, 21, 45, 21)
    # The score layer starts at zero (FCN's zero-initialised classifier).
    assert not np.any(logits.numpy())
    conv_5 = disc.features(pad_images(images))["conv_5"]
    full = fcn(conv_5)
    assert full.shape[1:3] == (upsampled_size(padded_size(21), padding), upsampled_size(padded_size(45), padding))
    fc6 = fcn.fc6.conv.kernel
    assert fc6.shape == (6, 6, 256, 256) and fcn.fc7.conv.kernel.shape == (1, 1, 256, 256)
    assert abs(float(tf.math.reduce_std(fc6)) - 0.005) < 2e-4 and float(fcn.fc6.conv.bias[0]) == 1.0


def test_dynamic_sizes_in_a_graph_and_dropout_only_in_training():
    keras.utils.set_random_seed(1)
    disc = Discriminator(64, padding="valid")
    fcn = FCN32s(padding="valid", fc_channels=64)
    fcn.build((None, None, None, 256))
    fcn.score.conv.kernel.assign(tf.random.normal(fcn.score.conv.kernel.shape, stddev=0.01))
    signature = [tf.TensorSpec([1, None, None, 3])]
    test = tf.function(lambda x: segmentation_logits(disc, fcn, x, training=False), input_signature=signature)
    train = tf.function(lambda x: segmentation_logits(disc, fcn, x, training=True), input_signature=signature)
    image = tf.random.stateless_uniform((1, 19, 26, 3), (5, 6), -1, 1)
    test_a, test_b = test(image), test(image)
    assert test_a.shape == (1, 19, 26, 21)
    np.testing.assert_array_equal(test_a.numpy(), test_b.numpy())
    assert not np.allclose(train(image).numpy(), test_a.numpy())
    assert test(tf.zeros((1, 40, 7, 3))).shape == (1, 40, 7, 21)


def test_config_round_trip():
    fcn = FCN32s(num_classes=5, padding="same", dropout_rate=0.3, fc_channels=8)
    clone = FCN32s.from_config(fcn.get_config())
    assert (clone.num_classes, clone.padding, clone.dropout_rate, clone.fc_channels) == (5, "same", 0.3, 8)
    assert FCN32s().fc_channels == 4096  # the reference's fc6 / fc7
    up = BilinearUpsampling.from_config(BilinearUpsampling(7).get_config())
    assert up.kernel_size == 7 and up.stride == 4
