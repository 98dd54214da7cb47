"""Tests of spot_tf/data/probe_views.py: the linear-probe protocols' pre-processing."""

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from spot_tf.data import probe_views
from spot_tf.errors import SettingError

CROP = {"splitbrain": 227, "deepcluster": 224}
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _coordinates(side=256):
    """A side x side image whose red is the row and green the column: a crop tells where it was cut.

    Past 256 px the rows and columns wrap round, the blue telling which lap they are on.
    """
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    laps = 7 + 16 * (rows // 256) + 64 * (cols // 256)
    return np.stack([rows % 256, cols % 256, laps], axis=-1).astype(np.uint8)


def _pixels(view):
    """float32 in [-1, 1] back to the uint8 levels it came from."""
    return np.round((np.asarray(view) + 1.0) * 127.5).astype(np.int64)


def _bands(height=100, width=300):
    """Red, green and blue vertical thirds."""
    image = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate((RED, GREEN, BLUE)):
        image[:, i * width // 3:(i + 1) * width // 3] = colour
    return image


@pytest.mark.parametrize("protocol", sorted(probe_views.PROTOCOLS))
def test_shapes_and_range(protocol):
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    size = CROP[protocol]
    views = {"train": probe_views.train_view(image, size, protocol, tf.constant([1, 2], tf.int64)),
             "central": probe_views.central_view(image, size, protocol),
             "ten": probe_views.ten_crop_view(image, size, protocol)}
    assert views["train"].shape == views["central"].shape == (size, size, 3)
    assert views["ten"].shape == (10, size, size, 3)
    for view in views.values():
        assert view.dtype == tf.float32
        assert -1.0 <= float(tf.reduce_min(view)) and float(tf.reduce_max(view)) <= 1.0
    assert probe_views.PROTOCOLS[protocol].resize(image, 256).shape == (256, 256, 3)
    assert probe_views.PROTOCOLS[protocol].resize(image, 37).shape == (37, 37, 3)


def test_side_scales_the_256_px_with_the_crop():
    assert probe_views.PROTOCOLS["splitbrain"].crop == 227
    assert probe_views.PROTOCOLS["deepcluster"].crop == 224
    # At the protocol's own crop: 256 px.
    assert probe_views.side(227, 227) == 256
    assert probe_views.side(224, 224) == 256
    # Elsewhere the same share of the image: round(crop_size * 256 / crop).
    assert probe_views.side(64, 227) == 72  # 72.2
    assert probe_views.side(32, 227) == 36  # 36.1
    assert probe_views.side(32, 224) == 37  # 36.6
    assert probe_views.side(300, 227) == 338  # 338.3
    assert probe_views.side(227, 224) == 259  # 259.4
    # Never below the crop itself.
    assert probe_views.side(1, 227) == 1
    assert probe_views.side(10, 1000) == 10


def test_splitbrain_squashes_deepcluster_crops_the_sides():
    image = tf.constant(_bands())
    squashed = probe_views.PROTOCOLS["splitbrain"].resize(image, 256).numpy()
    # All three bands survive, each about a third of the width.
    np.testing.assert_array_equal(squashed[:, :80], np.broadcast_to(RED, (256, 80, 3)))
    np.testing.assert_array_equal(squashed[:, 96:160], np.broadcast_to(GREEN, (256, 64, 3)))
    np.testing.assert_array_equal(squashed[:, -80:], np.broadcast_to(BLUE, (256, 80, 3)))
    # Shorter side to 256 (256x768), then the central 256 columns: the green third alone (its
    # edge columns blend in a little of the red and blue beside it).
    cropped = probe_views.PROTOCOLS["deepcluster"].resize(image, 256).numpy()
    np.testing.assert_array_equal(cropped[:, 1:-1], np.broadcast_to(GREEN, (256, 254, 3)))
    assert cropped[..., 0].mean() < 1 and cropped[..., 2].mean() < 1


@pytest.mark.parametrize("side", [256, 72])
@pytest.mark.parametrize("shape", [(40, 700), (300, 90)])  # Downscaled one way, upscaled the other.
def test_resizes_match_pil_bilinear(shape, side):
    """Within one level of PIL (torchvision's Resize); without antialiasing it is off by ~100."""
    image = np.random.default_rng(1).integers(0, 256, shape + (3,), dtype=np.uint8)
    pil = Image.fromarray(image)
    squashed = np.asarray(pil.resize((side, side), Image.BILINEAR), np.int64)
    height, width = shape
    short = min(height, width)
    resized = np.asarray(pil.resize((side * width // short, side * height // short), Image.BILINEAR),
                         np.int64)
    top, left = (int(round((n - side) / 2)) for n in resized.shape[:2])
    expected = {"splitbrain": squashed, "deepcluster": resized[top:top + side, left:left + side]}
    for protocol, want in expected.items():
        got = probe_views.PROTOCOLS[protocol].resize(tf.constant(image), side).numpy()
        assert got.shape == want.shape, protocol
        assert np.abs(got - want).max() <= 1, protocol


@pytest.mark.parametrize("protocol, size, side", [
    ("splitbrain", 227, 256), ("deepcluster", 224, 256), ("splitbrain", 64, 72), ("deepcluster", 64, 73)])
def test_train_view_is_a_seeded_crop_and_flip(protocol, size, side):
    assert probe_views.side(size, CROP[protocol]) == side
    coords = _coordinates(side)  # Already side x side px: both protocols leave it as it is.
    cuts = set()
    for i in range(24):
        seed = tf.constant([5, i], tf.int64)
        view = _pixels(probe_views.train_view(tf.constant(coords), size, protocol, seed))
        np.testing.assert_array_equal(
            view, _pixels(probe_views.train_view(tf.constant(coords), size, protocol, seed)))
        flipped = view[0, 0, 1] > view[0, -1, 1]
        top, left = view[0, 0, 0], view[0, -1 if flipped else 0, 1]
        assert 0 <= top <= side - size and 0 <= left <= side - size
        crop = coords[top:top + size, left:left + size]
        np.testing.assert_array_equal(view, crop[:, ::-1] if flipped else crop)
        cuts.add((top, left, flipped))
    assert {flipped for _, _, flipped in cuts} == {False, True}
    assert len({(top, left) for top, left, _ in cuts}) > 15


@pytest.mark.parametrize("protocol", sorted(probe_views.PROTOCOLS))
def test_train_view_of_full_size_crop_only_flips(protocol):
    size = 3  # round(3 * 256 / 227) = round(3 * 256 / 224) = 3: the crop is the whole image.
    assert probe_views.side(size, CROP[protocol]) == size
    coords = _coordinates(size)
    views = {_pixels(probe_views.train_view(tf.constant(coords), size, protocol,
                                            tf.constant([0, i], tf.int64))).tobytes()
             for i in range(12)}
    assert views == {coords.astype(np.int64).tobytes(), coords[:, ::-1].astype(np.int64).tobytes()}


@pytest.mark.parametrize("protocol, size, side, offset", [
    ("splitbrain", 227, 256, 14), ("deepcluster", 224, 256, 16), ("deepcluster", 227, 259, 16),
    # An odd half (59 - 52 = 7): Caffe floors 3.5, torchvision rounds it to even.
    ("splitbrain", 52, 59, 3), ("deepcluster", 52, 59, 4)])
def test_central_view_is_the_central_slice(protocol, size, side, offset):
    assert probe_views.side(size, CROP[protocol]) == side
    coords = _coordinates(side)  # Already side x side px: both protocols leave it as it is.
    view = _pixels(probe_views.central_view(tf.constant(coords), size, protocol))
    np.testing.assert_array_equal(view, coords[offset:offset + size, offset:offset + size])


def test_central_view_of_a_non_square_image():
    image = tf.constant(np.random.default_rng(2).integers(0, 256, (90, 130, 3), dtype=np.uint8))
    for protocol, size in CROP.items():
        square = probe_views.PROTOCOLS[protocol].resize(image, 256).numpy()
        offset = (256 - size) // 2
        np.testing.assert_array_equal(_pixels(probe_views.central_view(image, size, protocol)),
                                      square[offset:offset + size, offset:offset + size])


@pytest.mark.parametrize("protocol, side, offset", [("splitbrain", 36, 2), ("deepcluster", 37, 2)])
def test_small_crops_come_from_a_smaller_image(protocol, side, offset):
    """At 32 px the 256 px shrink with the crop, to round(32 * 256 / crop) px."""
    image = tf.constant(np.random.default_rng(4).integers(0, 256, (90, 130, 3), dtype=np.uint8))
    size = 32
    assert probe_views.side(size, CROP[protocol]) == side
    square = probe_views.PROTOCOLS[protocol].resize(image, side).numpy()
    assert square.shape == (side, side, 3)
    central = _pixels(probe_views.central_view(image, size, protocol))
    np.testing.assert_array_equal(central, square[offset:offset + size, offset:offset + size])
    # Not the central crop of the 256 px image, which would show a much smaller part of it.
    big = probe_views.PROTOCOLS[protocol].resize(image, 256).numpy()
    assert not np.array_equal(central, big[112:144, 112:144])
    # The train view is a crop of the same image.
    train = _pixels(probe_views.train_view(image, size, protocol, tf.constant([3, 1], tf.int64)))
    cuts = [square[top:top + size, left:left + size] for top in range(side - size + 1)
            for left in range(side - size + 1)]
    assert any(np.array_equal(train, cut) or np.array_equal(train, cut[:, ::-1]) for cut in cuts)


@pytest.mark.parametrize("protocol, side, mid", [("splitbrain", 226, 13), ("deepcluster", 229, 14)])
def test_ten_crop_order(protocol, side, mid):
    size = 200
    assert probe_views.side(size, CROP[protocol]) == side
    coords = _coordinates(side)  # Already side x side px: both protocols leave it as it is.
    crops = _pixels(probe_views.ten_crop_view(tf.constant(coords), size, protocol))
    far = side - size
    for k, (top, left) in enumerate([(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]):
        np.testing.assert_array_equal(crops[k], coords[top:top + size, left:left + size])
        np.testing.assert_array_equal(crops[k + 5], crops[k][:, ::-1])


def test_deepcluster_ten_crops_come_from_the_uncropped_resize():
    """eval_linear.py --tencrops: TenCrop(224) of Resize(256), with no CenterCrop(256) between."""
    image = tf.constant(_bands())  # Resized to 256x768.
    crops = _pixels(probe_views.ten_crop_view(image, 224, "deepcluster"))
    for k, colour in enumerate([RED, BLUE, RED, BLUE, GREEN]):
        np.testing.assert_array_equal(crops[k], np.broadcast_to(colour, (224, 224, 3)))
    # Split-brain's ten crops are those of its squashed 256x256 image (at its own crop, 227).
    squashed = probe_views.PROTOCOLS["splitbrain"].resize(image, 256).numpy()
    crops = _pixels(probe_views.ten_crop_view(image, 227, "splitbrain"))
    np.testing.assert_array_equal(crops[1], squashed[:227, 29:])
    # At 224 px, of its squashed side(224, 227) = 253 px image.
    squashed = probe_views.PROTOCOLS["splitbrain"].resize(image, 253).numpy()
    crops = _pixels(probe_views.ten_crop_view(image, 224, "splitbrain"))
    np.testing.assert_array_equal(crops[1], squashed[:224, 29:])


def test_bad_crop_size_and_protocol_are_refused():
    image = tf.zeros([8, 8, 3], tf.uint8)
    views = [lambda s, p: probe_views.train_view(image, s, p, tf.constant([0, 0], tf.int64)),
             lambda s, p: probe_views.central_view(image, s, p),
             lambda s, p: probe_views.ten_crop_view(image, s, p)]
    for view in views:
        for size in (0, -3):
            with pytest.raises(SettingError, match=rf"eval_image_size={size}: .*at least 1 px") as error:
                view(size, "splitbrain")
            assert isinstance(error.value, ValueError) and error.value.setting == "eval_image_size"
        with pytest.raises(ValueError, match="probe_protocol='simclr': .*deepcluster"):
            view(224, "simclr")


def test_crops_above_256_come_from_a_larger_image():
    """300 px crops (no upper limit): from a round(300 * 256 / 227) = 338 px squashed image."""
    image = tf.constant(np.random.default_rng(5).integers(0, 256, (40, 60, 3), dtype=np.uint8))
    size, side = 300, 338
    assert probe_views.side(size, 227) == side
    square = probe_views.PROTOCOLS["splitbrain"].resize(image, side).numpy()
    offset = (side - size) // 2  # 19
    central = _pixels(probe_views.central_view(image, size, "splitbrain"))
    np.testing.assert_array_equal(central, square[offset:offset + size, offset:offset + size])
    ten = _pixels(probe_views.ten_crop_view(image, size, "splitbrain"))
    assert ten.shape == (10, size, size, 3)
    np.testing.assert_array_equal(ten[3], square[side - size:, side - size:])
    np.testing.assert_array_equal(ten[4], central)
    train = probe_views.train_view(image, size, "splitbrain", tf.constant([0, 1], tf.int64))
    assert train.shape == (size, size, 3)
