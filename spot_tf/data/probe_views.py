"""The image pre-processing of the two ImageNet linear-probe protocols (SPEC "Transfer (phase 3)").

Both bring every image to 256x256 px, then train on a random crop of it with a random left-right
flip (no colour jitter, no scale augmentation) and test on its central crop; the crop side is the
caller's ``crop_size`` (the ``eval_image_size`` setting). At another crop size than the protocol's
own the 256 px scale with it (``side``), so the crops keep the protocol's share of the image:

* ``splitbrain``: Zhang et al.'s Caffe linear test (richzhang/colorization,
  feature_learning_tests/linear): images stored at 256x256 in the ImageNet LMDB, both sides resized
  whatever the aspect ratio; 227 px crops.
* ``deepcluster``: facebookresearch/deepcluster eval_linear.py: torchvision ``Resize(256)`` (shorter
  side to 256, aspect kept) then ``CenterCrop(256)``; 224 px crops.

Every view takes one decoded uint8 [H, W, 3] image and returns float32 in [-1, 1]. The train view's
random choices are stateless, keyed by a per-example ``seed`` (shape [2]), like preprocessing.py's.
"""

import collections

import tensorflow as tf

from spot_tf.data.preprocessing import to_signed_range
from spot_tf.errors import SettingError

SIDE = 256


def side(crop_size, crop):
    """The side the images are brought to for ``crop_size`` crops: 256 at the protocol's ``crop``."""
    return max(crop_size, round(crop_size * SIDE / crop))


def resize_pixels(image, height, width):
    # Bilinear with antialias=True, so that downscaling averages over the whole footprint as PIL's
    # bilinear does (torchvision's Resize on PIL images); both references then store uint8 pixels.
    # (Caffe's convert_imageset would have resized with OpenCV's bilinear, which does not
    # antialias; how Zhang et al.'s LMDB was made is not recorded.)
    image = tf.image.resize(image, tf.stack([height, width]), method="bilinear", antialias=True)
    return tf.clip_by_value(tf.round(image), 0.0, 255.0)


def _squash(image, size):
    """Both sides to ``size`` (256) px, the aspect ratio lost: the 256x256 images of Caffe's LMDB."""
    return resize_pixels(image, size, size)


def shorter_side(image, size):
    """torchvision ``Resize(256)``: shorter side to ``size`` (256) px, the longer to scale (truncated)."""
    height, width = tf.unstack(tf.shape(image)[:2])
    short = tf.minimum(height, width)
    return resize_pixels(image, size * height // short, size * width // short)


def _floor_offset(excess):
    """Caffe's central offset: integer division (data_transformer.cpp, io.py's oversample)."""
    return excess // 2


def _round_offset(excess):
    """torchvision's central offset, ``int(round(excess / 2))``: halves round to even, as here."""
    return tf.cast(tf.round(tf.cast(excess, tf.float32) / 2.0), tf.int32)


def _central(image, size, offset):
    """The central ``size`` x ``size`` crop, its offsets rounded by ``offset``."""
    shape = tf.shape(image)
    top, left = offset(shape[0] - size), offset(shape[1] - size)
    return image[top:top + size, left:left + size]


def _shorter_side_center(image, size):
    """torchvision ``Resize(256)`` then ``CenterCrop(256)``."""
    return _central(shorter_side(image, size), size, _round_offset)


# A protocol's pre-processing: ``resize`` gives the 256x256 image of the train and test views;
# ``ten_crop_resize`` the (at least 256 px) image the ten crops are cut from, which for deepcluster
# is not square (eval_linear.py --tencrops runs TenCrop on Resize(256) without the CenterCrop);
# ``offset`` rounds the central crops' offsets as the protocol's code does; ``crop`` is its crop side.
Protocol = collections.namedtuple("Protocol", ["resize", "ten_crop_resize", "offset", "crop"])

PROTOCOLS = {
    "splitbrain": Protocol(resize=_squash, ten_crop_resize=_squash, offset=_floor_offset, crop=227),
    "deepcluster": Protocol(resize=_shorter_side_center, ten_crop_resize=shorter_side,
                            offset=_round_offset, crop=224),
}

def get_protocol(name):
    """The ``Protocol`` called ``name``; else a SettingError (a ValueError) naming the choices."""
    if name not in PROTOCOLS:
        raise SettingError("probe_protocol", name, f"expected one of {', '.join(PROTOCOLS)}.")
    return PROTOCOLS[name]


def check_crop_size(crop_size):
    """Refuses a crop side below 1 px (a SettingError, a ValueError)."""
    if not 0 < crop_size:
        raise SettingError("eval_image_size", crop_size, "the linear-probe crops need a side of at least 1 px.")


def _scaled(image, crop_size, protocol, ten_crop=False):
    """``(Protocol, the image brought to its side for crop_size crops)``; ``ten_crop``: the image the
    ten crops come from."""
    check_crop_size(crop_size)
    protocol = get_protocol(protocol)
    resize = protocol.ten_crop_resize if ten_crop else protocol.resize
    return protocol, resize(image, side(crop_size, protocol.crop))


def _finish(image, crop_size):
    image = tf.ensure_shape(image, [crop_size, crop_size, 3])
    return to_signed_range(image / 255.0)


def train_view(image, crop_size, protocol, seed):
    """A random ``crop_size`` crop of the protocol's square image (``side``), flipped left-right at random.

    The crop's position is uniform over all those inside the image, as in Caffe's data layer and
    torchvision's RandomCrop.

    Args:
      image: uint8 [H, W, 3].
      crop_size: output side S (int).
      protocol: a key of ``PROTOCOLS``.
      seed: int32/int64 [2], the per-example stateless seed.

    Returns:
      float32 [S, S, 3] in [-1, 1].
    """
    _, square = _scaled(image, crop_size, protocol)
    crop_seed, flip_seed = tf.unstack(tf.random.split(seed, 2))
    top, left = tf.unstack(tf.random.stateless_uniform(
        [2], crop_seed, minval=0, maxval=tf.shape(square)[0] - crop_size + 1, dtype=tf.int32))
    crop = square[top:top + crop_size, left:left + crop_size]
    crop = tf.image.stateless_random_flip_left_right(crop, flip_seed)
    return _finish(crop, crop_size)


def central_view(image, crop_size, protocol):
    """The central ``crop_size`` crop of the protocol's square image -> float32 [S, S, 3], [-1, 1].

    Args:
      image: uint8 [H, W, 3].
      crop_size: output side S (int).
      protocol: a key of ``PROTOCOLS``.
    """
    protocol, square = _scaled(image, crop_size, protocol)
    return _finish(_central(square, crop_size, protocol.offset), crop_size)


def ten_crop_view(image, crop_size, protocol):
    """The four corner crops and the central crop, then their left-right mirrors.

    Crops 0..4 are top-left, top-right, bottom-left, bottom-right and centre (torchvision's
    ``FiveCrop`` order, also Caffe's ``oversample``); crop 5 + k is crop k mirrored, as in Caffe's
    ``oversample``. (torchvision's ``TenCrop`` lists the crops of the mirrored image instead, which
    puts the mirrors of top-left and top-right, and of the bottom ones, the other way round: the
    same ten crops, so the same averaged prediction.)

    Args:
      image: uint8 [H, W, 3].
      crop_size: side S of each crop (int).
      protocol: a key of ``PROTOCOLS``; the crops come from its ``ten_crop_resize`` image.

    Returns:
      float32 [10, S, S, 3] in [-1, 1].
    """
    protocol, source = _scaled(image, crop_size, protocol, ten_crop=True)
    height, width = tf.unstack(tf.shape(source)[:2])
    bottom, right = height - crop_size, width - crop_size
    corners = [source[top:top + crop_size, left:left + crop_size]
               for top, left in ((0, 0), (0, right), (bottom, 0), (bottom, right))]
    five = tf.stack(corners + [_central(source, crop_size, protocol.offset)])
    crops = tf.concat([five, tf.reverse(five, axis=[2])], axis=0)
    crops = tf.ensure_shape(crops, [10, crop_size, crop_size, 3])
    return to_signed_range(crops / 255.0)
