"""Tests of spot_tf/data/records.py: the split table, the record format and sharded reading."""

import pytest
import tensorflow as tf

from spot_tf.data import records


def _read(num_files, training, pipeline_id, interleave=True):
    files = tf.data.Dataset.range(num_files)
    read_fn = ((lambda f: tf.data.Dataset.range(5).map(lambda r: f * 100 + r)) if interleave
               else (lambda f: f * 100))
    context = tf.distribute.InputContext(2, pipeline_id, 2)
    return {int(x) for x in records.read_sharded(
        files, num_files, read_fn, training=training, seed=3, input_context=context,
        interleave=interleave)}


@pytest.mark.parametrize("num_files", [1, 4, 7])
@pytest.mark.parametrize("training", [True, False])
def test_two_pipelines_see_disjoint_halves(num_files, training):
    a, b = _read(num_files, training, 0), _read(num_files, training, 1)
    assert not a & b
    assert len(a | b) == num_files * 5
    if num_files >= 2:  # Sharded by file: each pipeline owns whole files.
        assert {x // 100 for x in a}.isdisjoint({x // 100 for x in b})


def test_map_reading_shards_items():
    a, b = _read(9, True, 0, interleave=False), _read(9, True, 1, interleave=False)
    assert not a & b and len(a | b) == 9


def test_check_split():
    with pytest.raises(ValueError, match="validation"):
        records.check_split("validation")


@pytest.mark.parametrize("kind", sorted(records.SPLIT_NAMES))
def test_every_kind_names_every_split(kind):
    assert all(records.split_names(kind, split) for split in records.SPLITS)
    assert set(records.SPLIT_NAMES[kind]) == set(records.SPLITS)


def test_split_names():
    assert records.split_names("tfrecord", "test") == ("validation", "test")
    assert records.split_names("tfds:imagenet2012", "test") == ("validation",)
    assert records.all_split_names("folder") == {"unlabeled", "unlabelled", "train", "test", "val",
                                                 "validation"}
    # What the public ImageNet scripts write, and STL-10's unlabelled images.
    assert [records.written_prefix(s) for s in records.SPLITS] == ["unlabeled", "train",
                                                                   "validation"]
    with pytest.raises(ValueError, match="bogus"):
        records.split_names("folder", "bogus")


def test_make_record():
    record = records.make_record(tf.constant(b"jpeg"), tf.constant(3, tf.int64), "f:0", "f")
    assert record["label"].dtype == tf.int32 and int(record["label"]) == 3
    assert record["fault"].numpy() == b"" and record["file"] == "f"
