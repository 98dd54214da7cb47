"""What every source shares: the split table, the record format, DatasetInfo, the sharded reader.

A source turns a split into a dataset of records ``{"encoded": string, "label": int32,
"origin": string, "file": string, "fault": string}``: the encoded image, its 0-based label or -1
(a multi-label source's label is an int32 vector, one entry per class: VOC's, see voc.py),
the file and record it came from, the file alone (skips are counted per file), and, empty for every
image, the reason a file could not be read to its end (such a record carries no image). The pipeline
decodes, augments and batches them the same way whatever the source.
"""

import dataclasses
from typing import Dict, Optional, Tuple

import tensorflow as tf

# "unsupervised": the images of the self-supervised phases; "train": the labelled training split of
# the evaluation phases; "test": the held-out split.
SPLITS = ("unsupervised", "train", "test")

# What each kind of source calls our splits, best first; the one place split names are spelled.
SPLIT_NAMES = {
    # File name prefixes, as the public ImageNet scripts write them (the first is what our converters
    # and the demo write); converted STL-10 adds "unlabeled".
    "tfrecord": {"unsupervised": ("unlabeled", "train"), "train": ("train",),
                 "test": ("validation", "test")},
    # Subfolders of an image folder.
    "folder": {"unsupervised": ("unlabeled", "unlabelled", "train"), "train": ("train",),
               "test": ("test", "val", "validation")},
    # Split names of a TFDS builder, guessed from those it has...
    "tfds": {"unsupervised": ("unlabelled", "unlabeled", "train"), "train": ("train",),
             "test": ("test", "validation")},
    # ...except for the datasets of the paper, whose splits are fixed (imagenet2012 has an unlabelled
    # "test" split that must not be taken for the held-out one).
    "tfds:stl10": {"unsupervised": ("unlabelled",), "train": ("train",), "test": ("test",)},
    "tfds:imagenet2012": {"unsupervised": ("train",), "train": ("train",),
                          "test": ("validation",)},
    # PASCAL VOC: ImageSets/Main files of a VOCdevkit folder, and TFDS voc's splits (trainval is
    # train+validation there).
    "voc": {"unsupervised": ("trainval",), "train": ("trainval",), "test": ("test",)},
    "tfds:voc": {"unsupervised": ("train+validation",), "train": ("train+validation",), "test": ("test",)},
    # File stems of the STL-10 binary archive (``train_X.bin`` ...).
    "stl10_binary": {"unsupervised": ("unlabeled",), "train": ("train",), "test": ("test",)},
}


def check_split(split):
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: expected one of {SPLITS}.")


def split_names(kind, split):
    """The names a ``kind`` of source (a key of SPLIT_NAMES) gives our ``split``, best first."""
    check_split(split)
    return SPLIT_NAMES[kind][split]


def all_split_names(kind):
    """Every name a ``kind`` of source gives any of our splits."""
    return {name for names in SPLIT_NAMES[kind].values() for name in names}


def written_prefix(split):
    """The file name prefix under which our converters and the demo write ``split``'s TFRecords."""
    return split_names("tfrecord", split)[0]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the trainer needs to know about a ``dataset`` setting before it builds anything.

    Attributes:
      num_classes: number of classes of the labelled splits.
      num_examples: split -> number of images, or None where counting would mean reading it all.
      kind: "tfrecord", "tfds", "folder", "voc" or "demo".
      location: split -> where it is read from (file pattern, TFDS split, folder).
      class_names: the class names in label order, where known.
      multi_label: whether a label is a vector of per-class states (VOC's, see voc.py).
    """
    num_classes: int
    num_examples: Dict[str, Optional[int]]
    kind: str = ""
    location: Dict[str, str] = dataclasses.field(default_factory=dict)
    class_names: Optional[Tuple[str, ...]] = None
    multi_label: bool = False


def make_record(encoded, label, origin, file, fault=""):
    """One record of the format above.

    Args:
      encoded: the encoded image (string tensor).
      label: its 0-based label, -1 if unlabelled (a multi-label source: a vector, one entry per class).
      origin: the file and record it came from, for messages.
      file: the file it came from, the unit skips are counted in.
      fault: empty for an image; else why ``file`` could not be read to its end.
    """
    return {"encoded": encoded, "label": tf.cast(label, tf.int32), "origin": origin, "file": file,
            "fault": tf.convert_to_tensor(fault, tf.string)}


def pipeline_index(input_context):
    """(number of input pipelines, this pipeline's id); (1, 0) without an InputContext."""
    if input_context is None:
        return 1, 0
    return input_context.num_input_pipelines, input_context.input_pipeline_id


def read_sharded(items, num_items, read_fn, *, training, seed, input_context, interleave,
                 cycle_length=16):
    """Shuffles, shards and reads a dataset of files.

    Args:
      items: a dataset of file descriptors (e.g. file names, or (path, label) pairs).
      num_items: its length, to shard by file when every pipeline can get one.
      read_fn: item -> a dataset of records (``interleave=True``) or one record (``False``).
      training: shuffle the files (seeded) and read them in parallel without fixed order.
      seed: the file shuffle seed; the same on every pipeline, so that file shards are disjoint.
      input_context: a ``tf.distribute.InputContext`` or None.
      interleave: whether ``read_fn`` returns datasets.
      cycle_length: how many files are read at once.
    """
    num_shards, index = pipeline_index(input_context)
    if training:
        items = items.shuffle(max(num_items, 1), seed=seed, reshuffle_each_iteration=True)
    by_file = num_items >= num_shards
    if by_file:
        items = items.shard(num_shards, index)
    # Sharding by record needs every pipeline to see the records in the same order.
    deterministic = not training or not by_file
    if interleave:
        records = items.interleave(read_fn, cycle_length=cycle_length, block_length=1,
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    else:
        records = items.map(read_fn, num_parallel_calls=tf.data.AUTOTUNE,
                            deterministic=deterministic)
    if not by_file:
        records = records.shard(num_shards, index)
    return records
