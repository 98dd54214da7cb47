"""Tests of spot_tf/data/tfds_source.py, offline with ``tfds.testing.mock_data``."""

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from spot_tf.data import tfds_source


@pytest.mark.parametrize("name,expected", [
    ("stl10", {"unsupervised": "unlabelled", "train": "train", "test": "test"}),
    ("imagenet2012", {"unsupervised": "train", "train": "train", "test": "validation"}),
])
def test_split_selection(name, expected, tmp_path):
    with tfds.testing.mock_data(num_examples=4):
        source = tfds_source.TFDSSource(name, data_dir=str(tmp_path))
        info = source.describe()
        assert info.location == {split: f"tfds:{name}/{s}" for split, s in expected.items()}
        assert info.num_classes == {"stl10": 10, "imagenet2012": 1000}[name]
        records = list(source.records("test", training=False, seed=0, input_context=None))
    assert len(records) == 4
    assert records[0]["encoded"].dtype == tf.string and records[0]["label"].dtype == tf.int32
    assert not list(tmp_path.iterdir())  # Nothing written.


def test_record_sharding_without_split_metadata():
    with tfds.testing.mock_data(num_examples=6):
        source = tfds_source.TFDSSource("stl10")
        halves = [list(source.records("train", training=True, seed=1,
                                      input_context=tf.distribute.InputContext(2, i, 2)))
                  for i in range(2)]
    assert [len(h) for h in halves] == [3, 3]


def test_unknown_name_is_named():
    with pytest.raises(ValueError, match="no_such_dataset_xyz") as error:
        tfds_source.TFDSSource("no_such_dataset_xyz")
    assert (error.value.setting, error.value.value) == ("dataset", "tfds:no_such_dataset_xyz")


def test_unprepared_dataset_is_named(tmp_path):
    source = tfds_source.TFDSSource("stl10", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="stl10") as error:
        source.validate("train")
    # The directory given is at fault.
    assert (error.value.setting, error.value.value) == ("tfds_data_dir", str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_records_carry_their_shard():
    with tfds.testing.mock_data(num_examples=2):
        records = list(tfds_source.TFDSSource("stl10").records(
            "train", training=False, seed=0, input_context=None))
    assert [r["file"].numpy() for r in records] == [b"stl10-train.tfrecord-00000-of-00001"] * 2
    assert all(r["origin"].numpy().startswith(r["file"].numpy() + b"__") for r in records)


def test_voc_2007_gives_trainval_and_test_with_the_three_state_labels(tmp_path):
    from voc_data import expected_labels, prepare_tfds_voc, write_vocdevkit
    written = write_vocdevkit(str(tmp_path), trainval=8, test=4)
    prepare_tfds_voc(str(tmp_path), str(tmp_path / "tfds"))
    source = tfds_source.TFDSSource("voc/2007", data_dir=str(tmp_path / "tfds"))
    info = source.describe(("train", "test"))
    assert info.multi_label and info.num_classes == 20 and info.class_names[0] == "aeroplane"
    assert info.num_examples == {"train": 8, "test": 4}
    assert info.location == {"train": "tfds:voc/2007/train+validation", "test": "tfds:voc/2007/test"}
    for split, count in (("train", 8), ("test", 4)):
        records = list(source.records(split, training=False, seed=0, input_context=None))
        # TFDS ids do not name the image: the split's label vectors are compared as a multiset.
        expected = sorted(tuple(expected_labels(objects)) for s, objects in written.values()
                          if (s == "test") == (split == "test"))
        assert len(records) == count
        assert sorted(tuple(record["label"].numpy()) for record in records) == expected
