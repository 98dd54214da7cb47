"""Reads a TensorFlow Datasets builder (``--dataset=tfds:NAME``), e.g. stl10 or imagenet2012.

The images are read still encoded (``SkipDecoding``) so that they go through the same decode and
augmentation as every other source. Nothing is downloaded: an unprepared dataset is an error that
says how to prepare it.
"""

import tensorflow_datasets as tfds
import tensorflow as tf

from spot_tf.data import records as records_lib

# The TFDS split of each of our splits, for the datasets of the paper; others are guessed from the
# split names the builder has (unlabelled/unlabeled, else train; test, else validation).
KNOWN_SPLITS = {
    "stl10": {"unsupervised": "unlabelled", "train": "train", "test": "test"},
    "imagenet2012": {"unsupervised": "train", "train": "train", "test": "validation"},
}


class TFDSSource:
    """One TFDS dataset, read from ``data_dir`` (TFDS's default directory when None)."""

    kind = "tfds"

    def __init__(self, name, data_dir=None):
        self.name = name
        self.data_dir = data_dir
        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError as e:
            raise ValueError(f"--dataset=tfds:{name}: TFDS has no dataset named {name!r}.") from e

    def tfds_split(self, split):
        records_lib.check_split(split)
        known = KNOWN_SPLITS.get(self.builder.name)
        if known:
            return known[split]
        names = set(self.builder.info.splits.keys())
        preferences = {"unsupervised": ("unlabelled", "unlabeled", "train"), "train": ("train",),
                       "test": ("test", "validation")}[split]
        for name in preferences:
            if name in names:
                return name
        raise ValueError(f"--dataset=tfds:{self.name} has no split for {split!r} "
                         f"(tried {preferences}; it has {sorted(names)}).")

    def _read(self, split, read_config=None, shuffle_files=False):
        """``as_dataset`` of our ``split``, with errors that name the dataset, split and directory."""
        tfds_split = self.tfds_split(split)
        try:
            return self.builder.as_dataset(
                split=tfds_split, shuffle_files=shuffle_files, read_config=read_config,
                decoders={"image": tfds.decode.SkipDecoding()})
        except (AssertionError, FileNotFoundError, ValueError, KeyError) as e:
            raise FileNotFoundError(
                f"--dataset=tfds:{self.name}: cannot read split {tfds_split!r} from "
                f"{self.builder.data_dir}; prepare it first (tfds build {self.name} "
                f"--data_dir=..., with --manual_dir for imagenet2012) and pass --tfds_data_dir. "
                f"({type(e).__name__}: {e})") from e

    def validate(self, split):
        self._read(split)
        return self.tfds_split(split)

    def describe(self, splits=records_lib.SPLITS):
        location = {split: f"tfds:{self.name}/{self.validate(split)}" for split in splits}
        split_infos = self.builder.info.splits
        num_examples = {split: split_infos[self.tfds_split(split)].num_examples
                        if self.tfds_split(split) in split_infos else None for split in splits}
        label = self.builder.info.features["label"]
        return records_lib.DatasetInfo(
            num_classes=label.num_classes, num_examples=num_examples, kind=self.kind,
            location=location, class_names=tuple(label.names))

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
        return dataset.map(lambda x: records_lib.make_record(x["image"], x["label"], x["tfds_id"]),
                           num_parallel_calls=tf.data.AUTOTUNE)
