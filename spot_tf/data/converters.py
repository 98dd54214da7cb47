"""Converts image folders and the STL-10 binary files to ImageNet-schema TFRecords.

The library half of ``datasets/build_imagenet_tfrecords.py`` and ``datasets/convert_stl10.py``.
Output names follow the public ImageNet scripts (``records.written_prefix``): ``train-*`` (labelled
train), ``validation-*`` (held out) and, for unlabelled images, ``unlabeled-*``; labels are 1..N
(0 = unlabelled), and ``labels.txt`` lists ``<label>:<synset>``.
"""

import os
import random

import numpy as np
import tensorflow as tf

from spot_tf.data import image_folder
from spot_tf.data import records
from spot_tf.data import tfrecord_writer
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError

# The converters' default ``resize_shorter``: the least shorter side at which nothing this project reads
# from the stored images is upsampled. A training crop (preprocessing.train_crop_window) covers at
# least AREA_RANGE[0] = 0.333 of the image at an aspect ratio (width / height) within 0.75-1.33; for a
# shorter side N the least area is the square image's, and there the crop's shorter side is at least
# sqrt(0.333 * 0.75) N = 0.4998 N, which the op's integer sizes (width = round(height * aspect), area
# >= 0.333 N^2) round up to 128 px at N = 256: the 128 px of an ImageNet run (imagenet.flags). Its test
# view takes the central 85% (217 px at 256). The linear probes bring every image to 256 px
# (probe_views.SIDE at their own crop sizes: a shorter side of 256, or 256 x 256), so 256 it is.
# A run at a larger --image_size S needs about 2 S (S / 0.4998).
STORED_SHORTER_SIDE = 256
RESIZE_SHORTER_HELP = ("Store each image shrunk to this shorter side (never enlarged; 0 = as it is). The default "
                       "is the least at which no 128 px training crop and no linear-probe image is upsampled "
                       "(converters.STORED_SHORTER_SIDE); decoding costs less with fewer pixels.")
STL10_SIZE = 96
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
                 "truck")


def shard_counts(train, validation, unlabeled):
    """The ``num_shards`` of the converters: {output prefix: shards} for each split."""
    return {records.written_prefix("train"): train, records.written_prefix("test"): validation,
            records.written_prefix("unsupervised"): unlabeled}


def read_synset_text(path):
    """Reads ``<synset> <human-readable text>`` lines (e.g. ImageNet's LOC_synset_mapping.txt)."""
    if not tf.io.gfile.exists(path):
        raise SettingPathError("synset_text_file", path, "no such file")
    with tf.io.gfile.GFile(path) as f:
        return dict(line.strip().split(maxsplit=1) for line in f if len(line.split()) > 1)


def build_from_folder(root, output_dir, num_shards, class_text=None, seed=0, num_workers=4,
                      resize_shorter=0):
    """Writes the images of an image folder (see image_folder.py for layouts) as TFRecords.

    Args:
      root: ``root/<class>/*`` (hash-split 80/20 into train-*/validation-*) or
        ``root/<split>/<class>/*`` (train, test|val|validation, optional unlabeled).
      output_dir: where the shards and labels.txt go.
      num_shards: dict output prefix -> number of shards (e.g. {"train": 1024, "validation": 128}).
      class_text: optional dict class folder name (synset) -> human-readable text.
      seed: the shuffle that mixes the classes across shards.
      num_workers: shards written in parallel.
      resize_shorter: > 0: images whose shorter side is longer are stored shrunk to it
        (``tfrecord_writer.to_rgb_jpeg``; e.g. ``STORED_SHORTER_SIDE``).

    Returns:
      dict output prefix -> list of shard paths.

    Raises:
      SettingError: naming ``input_dir`` (a split or its images missing) or ``output_dir`` (it holds
        a file this would write), before anything is written.
    """
    try:
        source = image_folder.ImageFolderSource(root)
        splits = ["train", "test"]
        if source.has_split_dirs and source.split_dir("unsupervised") != source.split_dir("train"):
            splits.append("unsupervised")  # An unlabelled folder of its own.
        items = {records.written_prefix(split): source.items(split)[1] for split in splits}
    except SettingError as error:  # The folder reader names the trainer's setting.
        raise _setting_error(error, "input_dir") from None
    _check_unwritten(output_dir, {prefix: (num_shards.get(prefix, 1), len(split_items))
                                  for prefix, split_items in items.items()})
    class_text = class_text or {}

    def make_example(item):
        path, label = item
        synset = source.class_names[label]
        with tf.io.gfile.GFile(path, "rb") as f:
            return tfrecord_writer.image_example(
                f.read(), label + 1, filename=os.path.basename(path), synset=synset,
                text=class_text.get(synset, synset), resize_shorter=resize_shorter)

    written = {}
    for prefix, split_items in items.items():
        random.Random(seed).shuffle(split_items)
        written[prefix] = tfrecord_writer.write_sharded(
            split_items, make_example, output_dir, prefix, num_shards.get(prefix, 1), num_workers)
    tfrecord_writer.write_labels_file(output_dir, source.class_names)
    return written


def _setting_error(error, setting):
    """``error`` (a SettingError) as one of ``setting``, which the converter's command line spells."""
    return SettingError(setting, error.value, error.reason)


def _check_unwritten(output_dir, shards):
    """Raises a SettingError naming ``output_dir`` if it holds a file that the converter would write.

    Args:
      output_dir: the converter's output folder.
      shards: {output prefix: (shards asked for, items)}.
    """
    paths = [path for prefix, (num_shards, count) in shards.items()
             for path in tfrecord_writer.shard_paths(output_dir, prefix, num_shards, count)]
    tfrecord_writer.check_unwritten(output_dir, paths + [os.path.join(output_dir, tfrecord_writer.LABELS_FILE)])


def read_stl10_images(path):
    """The images of an STL-10 ``*_X.bin`` file as uint8 [N, 96, 96, 3], memory-mapped.

    The file holds N x 3 x 96 x 96 values in column-major order, hence the (0, 3, 2, 1) transpose.
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.size % (3 * STL10_SIZE * STL10_SIZE):
        raise SettingError("binary_dir", os.path.dirname(path), f"{os.path.basename(path)} holds {raw.size} "
                           "bytes, not a whole number of 3x96x96 images")
    return raw.reshape(-1, 3, STL10_SIZE, STL10_SIZE).transpose(0, 3, 2, 1)


def convert_stl10(binary_dir, output_dir, num_shards, num_workers=4, resize_shorter=0):
    """Converts ``binary_dir/{train,test,unlabeled}_X.bin`` (+ ``_y.bin``) to TFRecords.

    Labels stay 1..10 (ImageNet convention); unlabeled images get label 0. Missing splits are
    skipped. ``resize_shorter`` as for ``build_from_folder`` (the 96 px images are never enlarged).
    Returns dict output prefix -> list of shard paths.

    Raises:
      SettingError: naming ``binary_dir`` (no ``*_X.bin``, or one that is not whole images or does not
        match its labels; a SettingPathError if there is no such folder) or ``output_dir`` (it holds a
        file this would write), before anything is written.
    """
    if not tf.io.gfile.isdir(binary_dir):
        raise SettingPathError("binary_dir", binary_dir, "no such directory")
    names_file = os.path.join(binary_dir, "class_names.txt")
    class_names = STL10_CLASSES
    if tf.io.gfile.exists(names_file):
        with tf.io.gfile.GFile(names_file) as f:
            class_names = tuple(line.strip() for line in f if line.strip())
    splits = {}  # Output prefix -> (file stem, images, labels).
    for split in records.SPLITS:
        stem = records.split_names("stl10_binary", split)[0]
        images_path = os.path.join(binary_dir, f"{stem}_X.bin")
        if not tf.io.gfile.exists(images_path):
            continue
        images = read_stl10_images(images_path)
        labels_path = os.path.join(binary_dir, f"{stem}_y.bin")
        labels = (np.fromfile(labels_path, dtype=np.uint8) if tf.io.gfile.exists(labels_path)
                  else np.zeros(len(images), np.uint8))
        if len(labels) != len(images):
            raise SettingError("binary_dir", binary_dir,
                               f"{stem}_y.bin has {len(labels)} labels for {len(images)} images in {stem}_X.bin")
        splits[records.written_prefix(split)] = stem, images, labels
    if not splits:
        raise SettingError("binary_dir", binary_dir, "holds no STL-10 *_X.bin file (train_X.bin, "
                           "test_X.bin, unlabeled_X.bin)")
    _check_unwritten(output_dir, {prefix: (num_shards.get(prefix, 1), len(images))
                                  for prefix, (_, images, _) in splits.items()})
    written = {}
    for prefix, (stem, images, labels) in splits.items():
        def make_example(i, images=images, labels=labels, stem=stem):
            label = int(labels[i])
            name = class_names[label - 1] if label else ""
            return tfrecord_writer.image_example(np.ascontiguousarray(images[i]), label,
                                                 filename=f"{stem}_{i:06d}", synset=name, text=name,
                                                 resize_shorter=resize_shorter)

        written[prefix] = tfrecord_writer.write_sharded(
            range(len(images)), make_example, output_dir, prefix, num_shards.get(prefix, 1),
            num_workers)
    tfrecord_writer.write_labels_file(output_dir, class_names)
    return written
