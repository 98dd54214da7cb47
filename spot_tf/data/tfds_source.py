"""Reads a TensorFlow Datasets builder (the ``dataset`` setting ``tfds:NAME``), e.g. stl10.

A builder with a ``label`` feature gives its class; one with VOC's ``labels`` and
``labels_no_difficult`` (``voc/2007``) gives the three-state label vector of voc.py.

The images are read still encoded (``SkipDecoding``) so that they go through the same decode and
augmentation as every other source. Nothing is downloaded: an unprepared dataset is an error that
says how to prepare it.
"""

import tensorflow_datasets as tfds
import tensorflow as tf

from spot_tf.data import records as records_lib
from spot_tf.data import voc
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError


# The features of a multi-label (VOC) builder.
VOC_FEATURES = ("labels", "labels_no_difficult")


def _file_of(tfds_id):
    """The shard of a TFDS record id ``<file>__<index>``."""
    return tf.strings.regex_replace(tfds_id, "__[0-9]+$", "")


class TFDSSource:
    """One TFDS dataset, read from ``data_dir`` (TFDS's default directory when None)."""

    kind = "tfds"

    def __init__(self, name, data_dir=None):
        self.name = name
        self.data_dir = data_dir
        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError as e:
            raise SettingError("dataset", self.spec, f"TFDS has no dataset named {name!r}.") from e

    @property
    def spec(self):
        """The ``dataset`` setting that names this source."""
        return f"tfds:{self.name}"

    def tfds_split(self, split):
        """The builder's split for our ``split`` (see the "tfds" entries of records.SPLIT_NAMES)."""
        known = f"tfds:{self.builder.name}"
        if known in records_lib.SPLIT_NAMES:
            return records_lib.split_names(known, split)[0]
        names = set(self.builder.info.splits.keys())
        preferences = records_lib.split_names("tfds", split)
        for name in preferences:
            if name in names:
                return name
        raise SettingError("dataset", self.spec, f"has no split for {split!r} "
                           f"(tried {preferences}; it has {sorted(names)}).")

    def _read(self, split, read_config=None, shuffle_files=False):
        """``as_dataset`` of our ``split``, with errors that name the dataset, split and directory."""
        tfds_split = self.tfds_split(split)
        try:
            return self.builder.as_dataset(
                split=tfds_split, shuffle_files=shuffle_files, read_config=read_config,
                decoders={"image": tfds.decode.SkipDecoding()})
        except (AssertionError, FileNotFoundError, ValueError, KeyError) as e:
            # The directory is at fault when one was given, else the dataset has not been prepared.
            setting, value = (("tfds_data_dir", self.data_dir) if self.data_dir
                              else ("dataset", self.spec))
            raise SettingPathError(
                setting, value,
                f"cannot read split {tfds_split!r} of {self.spec} from {self.builder.data_dir}; "
                f"prepare it first (tfds build {self.name} --data_dir=..., with --manual_dir for "
                f"imagenet2012) and set tfds_data_dir to that directory. "
                f"({type(e).__name__}: {e})") from e

    def validate(self, split):
        self._read(split)
        return self.tfds_split(split)

    @property
    def multi_label(self):
        """Whether the builder's examples carry VOC's label lists instead of one ``label``."""
        features = self.builder.info.features
        return "label" not in features and all(name in features for name in VOC_FEATURES)

    def _class_label(self):
        features = self.builder.info.features
        return features["labels"].feature if self.multi_label else features["label"]

    def _num_examples(self, tfds_split):
        """The examples of a split ("a+b" adds its parts), None without split metadata."""
        split_infos = self.builder.info.splits
        parts = tfds_split.split("+")
        if not all(part in split_infos for part in parts):
            return None
        return sum(split_infos[part].num_examples for part in parts)

    def describe(self, splits=records_lib.SPLITS):
        location = {split: f"{self.spec}/{self.validate(split)}" for split in splits}
        num_examples = {split: self._num_examples(self.tfds_split(split)) for split in splits}
        label = self._class_label()
        return records_lib.DatasetInfo(
            num_classes=label.num_classes, num_examples=num_examples, kind=self.kind,
            location=location, class_names=tuple(label.names), multi_label=self.multi_label)

    def _label(self, example):
        if self.multi_label:
            return voc.three_state(example["labels"], example["labels_no_difficult"], self._class_label().num_classes)
        return example["label"]

    def records(self, split, *, training, seed, input_context):
        num_pipelines, index = records_lib.pipeline_index(input_context)
        split_info = self.builder.info.splits.get(self.tfds_split(split))
        by_file = split_info is not None and split_info.num_shards >= num_pipelines
        read_config = tfds.ReadConfig(
            shuffle_seed=seed, add_tfds_id=True, input_context=input_context if by_file else None,
            interleave_cycle_length=16 if training else 1)
        dataset = self._read(split, read_config, shuffle_files=training)
        if not by_file:
            # Too few files for every pipeline (or no split metadata): shard the records instead. The
            # shuffle seed is the same on every pipeline, so they all see the same order.
            dataset = dataset.shard(num_pipelines, index)
        return dataset.map(
            lambda x: records_lib.make_record(x["image"], self._label(x), x["tfds_id"],
                                              _file_of(x["tfds_id"])),
            num_parallel_calls=tf.data.AUTOTUNE)
