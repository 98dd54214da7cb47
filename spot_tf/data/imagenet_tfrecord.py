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
LABEL_KEY = "image/class/label"
LABEL_RULE = "labels are 1-based int64 (1..N; 0 or no label only where no record of the split is labelled)"
# Splits up to this size are counted and their labels scanned when they are described.
SCAN_LIMIT_BYTES = 1 << 30

_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=""),
    LABEL_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def _sizes(files):
    return [tf.io.gfile.stat(f).length for f in files]


def read_file(path, size):
    """The records (see records.py) of one ImageNet-schema TFRecord file of ``size`` bytes."""
    def to_records(index, serialized, fault):  # A block (see tfrecord_reader.py).
        # A fault element's empty bytes parse as an Example without features: label -1, no image.
        features = tf.io.parse_example(serialized, _FEATURES)
        origin = tf.strings.join([path, tf.strings.as_string(index)], ":")
        return records_lib.make_record(features["image/encoded"], features[LABEL_KEY] - 1, origin,
                                       tf.fill(tf.shape(serialized), path), fault)

    return tfrecord_reader.read_blocks(path, size).map(to_records).unbatch()


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
            self._check_label_kind(first, example)
        return pattern, files

    def _check_label_kind(self, path, example):
        """Refuses a label that is not int64 (a string, a float) before TensorFlow fails on it mid-graph."""
        if LABEL_KEY in example.features.feature:
            kind = example.features.feature[LABEL_KEY].WhichOneof("kind")
            if kind != "int64_list":
                raise SettingError("dataset", self.spec, f"{path}: {LABEL_KEY!r} is a {kind}, and {LABEL_RULE}.")

    def _find_bad_label_kind(self, files):
        """Names the first record whose label is not int64 (after TensorFlow failed to parse one)."""
        for path in files:
            for serialized in tf.data.TFRecordDataset(path).ignore_errors():
                self._check_label_kind(path, tf.train.Example.FromString(serialized.numpy()))

    def _read(self, files, *, training=False, seed=0, input_context=None):
        items = tf.data.Dataset.from_tensor_slices((files, _sizes(files)))
        return records_lib.read_sharded(items, len(files), read_file, training=training, seed=seed,
                                        input_context=input_context, interleave=True)

    def _scan(self, files):
        """(whole records, the set of 1-based labels present) of small splits; (None, None) of large ones.

        Refuses labels that break the schema's rule (LABEL_RULE), naming the file: a 0 (or no label)
        beside labelled records is how 0-based labels look."""
        if sum(_sizes(files)) > SCAN_LIMIT_BYTES:
            return None, None
        count, labels, unlabelled_in = 0, set(), None
        try:
            for batch in self._read(files).batch(4096):
                faults = batch["fault"].numpy()
                whole = faults == b""
                count += int(whole.sum())
                batch_labels = batch["label"].numpy()[whole] + 1
                labels.update(int(label) for label in set(batch_labels.tolist()) if label > 0)
                if unlabelled_in is None and (batch_labels <= 0).any():
                    unlabelled_in = batch["file"].numpy()[whole][batch_labels <= 0][0].decode()
                for file, fault in zip(batch["file"].numpy()[~whole], faults[~whole]):
                    logging.warning("%s: shard %s is truncated or corrupt (%s); counting the records "
                                    "before the fault.", self.spec, file.decode(), fault.decode())
        except tf.errors.InvalidArgumentError:
            self._find_bad_label_kind(files)
            raise
        if labels and unlabelled_in is not None:
            raise SettingError("dataset", self.spec, f"{unlabelled_in}: records with {LABEL_KEY!r} 0 (or none) "
                               f"beside records labelled {min(labels)}..{max(labels)} (0-based labels?); "
                               f"{LABEL_RULE}.")
        return count, labels

    def describe(self, splits=records_lib.SPLITS):
        num_examples, location, scans, folders, labels = {}, {}, {}, [], {}
        for split in splits:
            location[split], files = self.validate(split)
            folders.append(os.path.dirname(files[0]))
            if tuple(files) not in scans:  # "unsupervised" and "train" often share the files.
                scans[tuple(files)] = self._scan(files)
            num_examples[split], labels[split] = scans[tuple(files)]
        max_labels = [max(present or [0]) for _, present in scans.values()]
        class_names = tfrecord_writer.read_labels_file(folders[0])
        if class_names:
            num_classes = len(class_names)
        elif any(max_labels):
            num_classes = max(max_labels)
        else:
            logging.info("%s: too large to scan the labels; assuming ImageNet's %d classes.",
                         self.spec, IMAGENET_NUM_CLASSES)
            num_classes = IMAGENET_NUM_CLASSES
        self._warn_missing_classes(labels, location, class_names)
        return records_lib.DatasetInfo(num_classes=num_classes, num_examples=num_examples,
                                       kind=self.kind, location=location, class_names=class_names)

    def _warn_missing_classes(self, labels, location, class_names):
        """Names the classes that one labelled split has and the other lacks (a probe cannot learn them,
        or a test cannot score them); `labels` is split -> the set of 1-based labels it holds."""
        if not (labels.get("train") and labels.get("test")):
            return
        for split, other in (("train", "test"), ("test", "train")):
            missing = sorted(labels[split] - labels[other])
            if missing:
                names = [class_names[label - 1] if class_names and label <= len(class_names) else str(label)
                         for label in missing]
                logging.warning("%s: %d class(es) of the %s split are absent from the %s split (%s): "
                                "labels %s", self.spec, len(missing), split, other, location[other],
                                ", ".join(names[:10]) + (" ..." if len(names) > 10 else ""))

    def records(self, split, *, training, seed, input_context):
        _, files = self.validate(split)
        return self._read(files, training=training, seed=seed, input_context=input_context)
