"""Reads TFRecords in the public ImageNet schema (``train-*`` / ``validation-*`` files).

``--dataset`` is a directory holding the shards, or a file pattern such as ``/data/train-*`` from
which the other splits are found by replacing ``train`` in the file name. Only ``image/encoded`` is
required; ``image/class/label`` (1..N, 0 or absent = unlabelled) becomes 0-based (-1 = unlabelled).
"""

import os
import struct

from absl import logging
import tensorflow as tf

from spot_tf.data import records as records_lib
from spot_tf.data import tfrecord_writer

# Which file name prefixes hold each split, best first. STL-10 converted by datasets/convert_stl10.py
# has ``unlabeled-*`` files, the images of the self-supervised phases.
SPLIT_PREFIXES = {"unsupervised": ("unlabeled", "train"),
                  "train": ("train",),
                  "test": ("validation", "test")}
IMAGENET_NUM_CLASSES = 1000
# Splits up to this size are counted and their labels scanned when they are described.
SCAN_LIMIT_BYTES = 1 << 30

_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def _first_example(path):
    for record in tf.data.TFRecordDataset(path).take(1):
        return tf.train.Example.FromString(record.numpy())
    return None


def count_records(path):
    """Counts the records of a TFRecord file by reading only the length headers."""
    count = 0
    with tf.io.gfile.GFile(path, "rb") as f:
        while header := f.read(12):  # uint64 length + uint32 CRC of the length.
            if len(header) < 12:
                raise ValueError(f"Truncated TFRecord file: {path}")
            length, = struct.unpack("<Q", header[:8])
            f.seek(length + 4, 1)  # The data and its CRC.
            count += 1
    return count


class TFRecordSource:
    """A directory or file pattern of ImageNet-schema TFRecords."""

    def __init__(self, spec, kind="tfrecord"):
        self.spec = spec
        self.kind = kind

    def patterns(self, split):
        """The file patterns that may hold ``split``, best first."""
        records_lib.check_split(split)
        if tf.io.gfile.isdir(self.spec):
            return [os.path.join(self.spec, prefix + "-*") for prefix in SPLIT_PREFIXES[split]]
        directory, name = os.path.split(self.spec)
        if "train" in name:
            return [os.path.join(directory, name.replace("train", prefix, 1))
                    for prefix in SPLIT_PREFIXES[split]]
        if split == "test":
            raise ValueError(
                f"--dataset={self.spec}: cannot tell which files hold the held-out split; pass the "
                "directory of the train-*/validation-* files or a pattern containing 'train'.")
        return [self.spec]

    def files(self, split):
        """(pattern, sorted files) of ``split``; raises FileNotFoundError naming the patterns if none."""
        patterns = self.patterns(split)
        for pattern in patterns:
            # ``.tmp`` files are shards still being written.
            files = sorted(f for f in tf.io.gfile.glob(pattern) if not f.endswith(".tmp"))
            if files:
                return pattern, files
        raise FileNotFoundError(
            f"--dataset={self.spec}: no TFRecord files match {' or '.join(patterns)} "
            f"(split {split!r}).")

    def validate(self, split):
        """Checks that ``split`` has files and that its first record holds ``image/encoded``."""
        pattern, files = self.files(split)
        try:
            example = _first_example(files[0])
        except (tf.errors.OpError, ValueError) as e:
            raise ValueError(f"{files[0]} is not a TFRecord file of tf.train.Example: {e}") from e
        if example is not None and "image/encoded" not in example.features.feature:
            raise ValueError(
                f"{files[0]}: the first record has no 'image/encoded' feature (keys: "
                f"{sorted(example.features.feature)}); expected the ImageNet TFRecord schema.")
        return pattern, files

    def _scan(self, files):
        """(number of records, largest 1-based label) of small splits; (None, None) of large ones."""
        if sum(tf.io.gfile.stat(f).length for f in files) > SCAN_LIMIT_BYTES:
            return None, None
        labels = tf.data.TFRecordDataset(files).batch(4096).map(
            lambda r: tf.io.parse_example(r, _FEATURES)["image/class/label"])
        max_label = labels.reduce(tf.constant(0, tf.int64),
                                  lambda m, batch: tf.maximum(m, tf.reduce_max(batch)))
        return sum(count_records(f) for f in files), int(max_label)

    def describe(self, splits=records_lib.SPLITS):
        num_examples, location, scans = {}, {}, {}
        for split in splits:
            location[split], files = self.validate(split)
            if tuple(files) not in scans:  # "unsupervised" and "train" often share the files.
                scans[tuple(files)] = self._scan(files)
            num_examples[split] = scans[tuple(files)][0]
        max_labels = [max_label or 0 for _, max_label in scans.values()]
        class_names = tfrecord_writer.read_labels_file(os.path.dirname(location[splits[0]]))
        if class_names:
            num_classes = len(class_names)
        elif any(max_labels):
            num_classes = max(max_labels)
        else:
            logging.info("%s: too large to scan the labels; assuming ImageNet's %d classes.",
                         self.spec, IMAGENET_NUM_CLASSES)
            num_classes = IMAGENET_NUM_CLASSES
        return records_lib.DatasetInfo(num_classes=num_classes, num_examples=num_examples,
                                       kind=self.kind, location=location, class_names=class_names)

    def records(self, split, *, training, seed, input_context):
        _, files = self.validate(split)

        def read_file(path):
            def parse(index, serialized):
                features = tf.io.parse_single_example(serialized, _FEATURES)
                origin = tf.strings.join([path, tf.strings.as_string(index)], ":")
                return records_lib.make_record(features["image/encoded"],
                                               features["image/class/label"] - 1, origin)
            return tf.data.TFRecordDataset(path, buffer_size=8 << 20).enumerate().map(parse)

        return records_lib.read_sharded(
            tf.data.Dataset.from_tensor_slices(files), len(files), read_file, training=training,
            seed=seed, input_context=input_context, interleave=True)
