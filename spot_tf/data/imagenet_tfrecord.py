"""Reads TFRecords in the public ImageNet schema (``train-*`` / ``validation-*`` files).

The ``dataset`` setting is a directory holding the shards, or a file pattern such as
``/data/train-*`` from which the other splits are found by replacing ``train`` in the file name (the
prefixes are the "tfrecord" names of ``records.SPLIT_NAMES``). Only ``image/encoded`` is required;
``image/class/label`` (1..N, 0 or absent = unlabelled) becomes 0-based (-1 = unlabelled). A shard
cut short yields its whole records, then a fault record naming it.
"""

import glob
import os

from absl import logging
from google.protobuf import message
import tensorflow as tf

from spot_tf import paths
from spot_tf.data import records as records_lib
from spot_tf.data import tfrecord_reader
from spot_tf.data import tfrecord_writer
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError

IMAGENET_NUM_CLASSES = 1000
# Splits up to this size are counted and their labels scanned when they are described.
SCAN_LIMIT_BYTES = 1 << 30

_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def _sizes(files):
    return [tf.io.gfile.stat(f).length for f in files]


def read_file(path, size):
    """The records (see records.py) of one ImageNet-schema TFRecord file of ``size`` bytes."""
    def to_record(index, serialized, fault):
        # A fault element's empty bytes parse as an Example without features: label -1, no image.
        features = tf.io.parse_single_example(serialized, _FEATURES)
        origin = tf.strings.join([path, tf.strings.as_string(index)], ":")
        return records_lib.make_record(features["image/encoded"],
                                       features["image/class/label"] - 1, origin, path, fault)

    return tfrecord_reader.read_file(path, size).map(to_record)


class TFRecordSource:
    """A directory or file pattern of ImageNet-schema TFRecords."""

    def __init__(self, spec, kind="tfrecord"):
        self.spec = spec
        self.kind = kind

    def patterns(self, split):
        """The file patterns that may hold ``split``, best first."""
        prefixes = records_lib.split_names("tfrecord", split)
        if tf.io.gfile.isdir(self.spec):
            return [os.path.join(glob.escape(self.spec), prefix + "-*") for prefix in prefixes]
        directory, name = os.path.split(self.spec)
        if "train" in name:
            return [paths.as_pattern(os.path.join(directory, name.replace("train", prefix, 1))) for prefix in prefixes]
        if split == "test":
            raise SettingError(
                "dataset", self.spec, "cannot tell which files hold the held-out split; pass the "
                "directory of the train-*/validation-* files or a pattern containing 'train'.")
        return [paths.as_pattern(self.spec)]

    def files(self, split):
        """(pattern, sorted files) of ``split``; raises SettingPathError naming the patterns if none."""
        patterns = self.patterns(split)
        for pattern in patterns:
            # ``.tmp`` files are shards still being written.
            files = sorted(f for f in tf.io.gfile.glob(pattern) if not f.endswith(".tmp"))
            if files:
                return pattern, files
        raise SettingPathError(
            "dataset", self.spec,
            f"no TFRecord files match {' or '.join(patterns)} (split {split!r}).")

    def validate(self, split):
        """Checks that ``split`` has files and that its first record holds ``image/encoded``."""
        pattern, files = self.files(split)
        first = files[0]
        for _, serialized, fault in tfrecord_reader.read_file(first, _sizes([first])[0]).take(1):
            if fault != "":
                raise SettingError("dataset", self.spec, f"{first} is not a TFRecord file, or its "
                                   f"first record is truncated or corrupt ({fault.numpy().decode()}).")
            try:
                example = tf.train.Example.FromString(serialized.numpy())
            except message.DecodeError as e:
                raise SettingError("dataset", self.spec,
                                   f"{first} is not a TFRecord file of tf.train.Example: {e}") from e
            if "image/encoded" not in example.features.feature:
                raise SettingError(
                    "dataset", self.spec,
                    f"{first}: the first record has no 'image/encoded' feature (keys: "
                    f"{sorted(example.features.feature)}); expected the ImageNet TFRecord schema.")
        return pattern, files

    def _read(self, files, *, training=False, seed=0, input_context=None):
        items = tf.data.Dataset.from_tensor_slices((files, _sizes(files)))
        return records_lib.read_sharded(items, len(files), read_file, training=training, seed=seed,
                                        input_context=input_context, interleave=True)

    def _scan(self, files):
        """(whole records, largest 1-based label) of small splits; (None, None) of large ones."""
        if sum(_sizes(files)) > SCAN_LIMIT_BYTES:
            return None, None
        count, max_label = 0, 0
        for batch in self._read(files).batch(4096):
            faults = batch["fault"].numpy()
            count += int((faults == b"").sum())
            max_label = max(max_label, int(tf.reduce_max(batch["label"])) + 1)
            for file, fault in zip(batch["file"].numpy()[faults != b""], faults[faults != b""]):
                logging.warning("%s: shard %s is truncated or corrupt (%s); counting the records "
                                "before the fault.", self.spec, file.decode(), fault.decode())
        return count, max_label

    def describe(self, splits=records_lib.SPLITS):
        num_examples, location, scans, folders = {}, {}, {}, []
        for split in splits:
            location[split], files = self.validate(split)
            folders.append(os.path.dirname(files[0]))
            if tuple(files) not in scans:  # "unsupervised" and "train" often share the files.
                scans[tuple(files)] = self._scan(files)
            num_examples[split] = scans[tuple(files)][0]
        max_labels = [max_label or 0 for _, max_label in scans.values()]
        class_names = tfrecord_writer.read_labels_file(folders[0])
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
        return self._read(files, training=training, seed=seed, input_context=input_context)
