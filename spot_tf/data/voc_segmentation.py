"""PASCAL VOC segmentation: a VOCdevkit's class masks, optionally with SBD's, as (image, mask) pairs.

A VOCdevkit year folder (``VOC2012`` or ``VOC2011``, or a ``VOCdevkit`` holding one) has
``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` and ``ImageSets/Segmentation/{train,val}.txt``.
The masks are palette ("P") PNGs whose pixel values are class indices (0 background, 1..20 the
VOC_CLASSES, 255 void at object borders): they are read as indices (PIL), never through a colour
decode, which would return the palette's colours; a grayscale PNG of indices is read as well, an RGB
one refused. SBD (Hariharan et al., ``benchmark_RELEASE/dataset``: ``cls/<id>.mat`` holding
``GTcls.Segmentation``, ``img/<id>.jpg``, ``train.txt``) adds its train images.

The reference split (FCN, and Zhang et al.'s test of it): test = ``seg11valid``, the 736 VOC2011 val
images not in SBD's train: read from ``ImageSets/Segmentation/seg11valid.txt`` when the devkit has it
(FCN ships the list), else computed when the devkit is VOC2011 and SBD is given; otherwise the devkit's
``val``. Train = VOC train + SBD train, minus every test image. An id in both takes the devkit's mask
(the fine annotation with void borders) and image.

Records are plain dicts {"image": uint8 [H, W, 3], "mask": uint8 [H, W]}, one image of its own size each:
segmentation batches whole images, which the classification record format (one label per image) and its
pipeline (fixed-size crops) do not. Mask faults (a size other than the image's, RGB, a value outside
0..20 and 255) are SettingErrors naming the file, raised as the image is read.
"""
import collections
import os

import numpy as np
import tensorflow as tf

from spot_tf.data.preprocessing import to_signed_range
from spot_tf.data.voc import read_ids
from spot_tf.data.voc_classes import VOC_CLASSES
from spot_tf.errors import SettingError, SettingPathError

SEGMENTATION_CLASSES = ("background",) + VOC_CLASSES
VOID = 255
YEARS = ("VOC2012", "VOC2011")
SEGMENTATION_SETS = os.path.join("ImageSets", "Segmentation")
SUBFOLDERS = ("JPEGImages", "SegmentationClass", SEGMENTATION_SETS)
SEG11VALID = "seg11valid"
SEG11VALID_SIZE = 736

# One image: where its JPEG and mask are, and which kind of mask ("png" or "mat").
SegmentationExample = collections.namedtuple("SegmentationExample", ["id", "jpeg", "mask", "kind"])


def read_png_mask(path):
    """uint8 [H, W] class indices of a palette (or grayscale) PNG mask; ValueError for anything else."""
    from PIL import Image
    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(f"{path} is a {image.mode} image, not class indices: a VOC mask is a palette (P) "
                             f"PNG whose pixel values are the classes (a mask saved as colours cannot be read)")
        return np.asarray(image, dtype=np.uint8)


def read_sbd_mask(path):
    """uint8 [H, W] class indices of an SBD ``cls/<id>.mat`` (its ``GTcls.Segmentation``)."""
    import scipy.io
    try:
        return np.asarray(scipy.io.loadmat(path)["GTcls"][0]["Segmentation"][0], dtype=np.uint8)
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise ValueError(f"{path} holds no GTcls.Segmentation ({e})") from None


def check_mask(mask, image_shape, path, num_classes=len(SEGMENTATION_CLASSES)):
    """Raises ValueError naming `path` if `mask` does not fit its image or holds another value than a
    class index or VOID."""
    if tuple(mask.shape) != tuple(image_shape[:2]):
        raise ValueError(f"{path} is {mask.shape[1]}x{mask.shape[0]} pixels, its image "
                         f"{image_shape[1]}x{image_shape[0]}")
    values = np.unique(mask)
    bad = values[(values >= num_classes) & (values != VOID)]
    if bad.size:
        raise ValueError(f"{path} holds label {int(bad[0])}: a VOC mask holds 0..{num_classes - 1} and {VOID} (void)")


def _year_folder(root):
    for folder in [root] + [os.path.join(root, year) for year in YEARS]:
        if all(tf.io.gfile.isdir(os.path.join(folder, name)) for name in SUBFOLDERS):
            return folder
    return None


class VOCSegmentationSource:
    """The train and test images of a VOCdevkit's segmentation sets, with SBD's train images when given.

    Args:
        root: The VOCdevkit (or its VOC2012 / VOC2011 folder): setting `voc_seg_dataset`.
        sbd_dir: SBD's ``benchmark_RELEASE`` or its ``dataset`` folder, or None: setting `sbd_dir`.
    """

    def __init__(self, root, sbd_dir=None):
        self.spec = root
        self.sbd_spec = sbd_dir
        if not tf.io.gfile.isdir(root):
            raise SettingPathError("voc_seg_dataset", root, "no such directory (expected a VOCdevkit with VOC2012 "
                                   "or VOC2011)")
        self.root = _year_folder(root)
        if self.root is None:
            raise SettingPathError("voc_seg_dataset", root, f"is no VOC segmentation folder: found no "
                                   f"{', '.join(SUBFOLDERS)} in it or in its {' or '.join(YEARS)}")
        self.sbd = None
        if sbd_dir:
            nested = os.path.join(sbd_dir, "dataset")
            self.sbd = nested if tf.io.gfile.isdir(nested) else sbd_dir
            if not tf.io.gfile.isdir(os.path.join(self.sbd, "cls")):
                raise SettingPathError("sbd_dir", sbd_dir, "is no SBD folder: it has no cls/ (expected "
                                       "benchmark_RELEASE or its dataset/)")
            if not tf.io.gfile.exists(os.path.join(self.sbd, "train.txt")):
                raise SettingPathError("sbd_dir", sbd_dir, f"has no list of its images: no train.txt in {self.sbd}")
        self._splits = None

    def _fail(self, reason, setting="voc_seg_dataset"):
        raise SettingError(setting, self.spec if setting == "voc_seg_dataset" else self.sbd_spec, reason)

    def _image_set(self, name):
        path = os.path.join(self.root, SEGMENTATION_SETS, f"{name}.txt")
        if not tf.io.gfile.exists(path):
            raise SettingPathError("voc_seg_dataset", self.spec, f"has no {path}")
        ids = read_ids(path)
        if not ids:
            self._fail(f"{path} lists no image")
        return ids

    def _voc_example(self, image_id, listed_in):
        jpeg = os.path.join(self.root, "JPEGImages", f"{image_id}.jpg")
        mask = os.path.join(self.root, "SegmentationClass", f"{image_id}.png")
        for path in (jpeg, mask):
            if not tf.io.gfile.exists(path):
                self._fail(f"{listed_in} lists {image_id}, which has no {path}")
        return SegmentationExample(image_id, jpeg, mask, "png")

    def _sbd_example(self, image_id, listed_in):
        jpeg = os.path.join(self.sbd, "img", f"{image_id}.jpg")
        if not tf.io.gfile.exists(jpeg):
            jpeg = os.path.join(self.root, "JPEGImages", f"{image_id}.jpg")
        mask = os.path.join(self.sbd, "cls", f"{image_id}.mat")
        for path in (jpeg, mask):
            if not tf.io.gfile.exists(path):
                self._fail(f"{listed_in} lists {image_id}, which has no {path}", "sbd_dir")
        return SegmentationExample(image_id, jpeg, mask, "mat")

    def test_set(self):
        """(name, ids) of the test images: seg11valid when available, else val (see the module docstring)."""
        listed = os.path.join(self.root, SEGMENTATION_SETS, f"{SEG11VALID}.txt")
        if tf.io.gfile.exists(listed):
            return SEG11VALID, read_ids(listed)
        val = self._image_set("val")
        if self.sbd is not None and os.path.basename(os.path.normpath(self.root)) == "VOC2011":
            sbd_train = set(read_ids(os.path.join(self.sbd, "train.txt")))
            return SEG11VALID, [i for i in val if i not in sbd_train]
        return "val", val

    def splits(self):
        """{"train": [SegmentationExample], "test": [...]} and the test set's name, checked id by id."""
        if self._splits is None:
            test_name, test_ids = self.test_set()
            test_list = os.path.join(self.root, SEGMENTATION_SETS, f"{test_name}.txt")
            test = [self._voc_example(i, test_list) for i in test_ids]
            excluded = set(test_ids)
            train_list = os.path.join(self.root, SEGMENTATION_SETS, "train.txt")
            train = [self._voc_example(i, train_list) for i in self._image_set("train") if i not in excluded]
            if self.sbd is not None:
                sbd_list = os.path.join(self.sbd, "train.txt")
                known = excluded | {example.id for example in train}
                train += [self._sbd_example(i, sbd_list) for i in read_ids(sbd_list) if i not in known]
            if not train:
                self._fail(f"no training image is left once the {test_name} images are taken out")
            self._splits = {"train": train, "test": test}, test_name
        return self._splits


def read_mask(path, kind, image_shape, report):
    """The checked uint8 mask of one example (numpy), its faults recorded in `report` and raised as
    SettingErrors naming `voc_seg_dataset` or `sbd_dir` (a SkipReport, whose raise_setting_errors re-raises
    them)."""
    path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
    sbd = kind in (b"mat", "mat")
    try:
        mask = read_sbd_mask(path) if sbd else read_png_mask(path)
        check_mask(mask, image_shape, path)
    except (OSError, ValueError) as e:
        report.fatal(SettingError("sbd_dir" if sbd else "voc_seg_dataset", path, str(e).replace(f"{path} ", "", 1)))
    return mask


def shrink(image, mask, max_side):
    """`image` (bilinear) and `mask` (nearest) resized so that their longer side is at most `max_side`."""
    size = tf.shape(mask)
    scale = tf.minimum(1.0, max_side / tf.cast(tf.reduce_max(size), tf.float32))
    target = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32), 1)
    image = tf.image.resize(image, target, method="bilinear")
    mask = tf.image.resize(mask[..., None], target, method="nearest")[..., 0]
    return image, mask


def segmentation_dataset(examples, report, *, training, seed=0, input_context=None, max_side=0):
    """Batches of one whole image: (float32 [1, H, W, 3] in [-1, 1], int32 [1, H, W] mask).

    Training shuffles (seeded) and repeats; the test reads every example once, in order. Each input
    pipeline of a strategy reads its share of the files.

    Args:
        examples: SegmentationExamples.
        report: The phase's SkipReport (mask faults go through it, see `read_mask`).
        training: Shuffle and repeat.
        seed: The shuffle seed.
        input_context: A tf.distribute.InputContext or None.
        max_side: Shrink the images whose longer side is longer than this (0: whole images, the protocol).
    """
    items = tf.data.Dataset.from_tensor_slices(([e.jpeg for e in examples], [e.mask for e in examples],
                                                [e.kind for e in examples]))
    if input_context is not None and input_context.num_input_pipelines > 1:
        items = items.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if training:
        items = items.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True).repeat()

    def load(jpeg, mask_path, kind):
        image = tf.io.decode_jpeg(tf.io.read_file(jpeg), channels=3)
        mask = tf.numpy_function(lambda p, k, s: read_mask(p, k, s, report), [mask_path, kind, tf.shape(image)],
                                 tf.uint8, stateful=False)
        image, mask = tf.cast(image, tf.float32), tf.cast(tf.ensure_shape(mask, [None, None]), tf.int32)
        if max_side:
            image, mask = shrink(image, mask, max_side)
        return to_signed_range(image / 255.0), mask

    dataset = items.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    return dataset.batch(1).prefetch(tf.data.AUTOTUNE)
