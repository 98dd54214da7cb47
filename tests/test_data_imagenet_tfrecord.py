"""Tests of spot_tf/data/imagenet_tfrecord.py: the ImageNet-schema TFRecord reader."""

import os

import numpy as np
import pytest
import tensorflow as tf

from spot_tf.data import imagenet_tfrecord
from spot_tf.data import tfrecord_reader
from spot_tf.data import tfrecord_writer
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError


def raw_example(encoded=None, label=None, **bytes_features):
    """An Example with only the given keys (for the TPU variant and for broken records)."""
    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
               for key, value in bytes_features.items()}
    if encoded is not None:
        feature["image/encoded"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    if label is not None:
        feature["image/class/label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def jpeg(channels=3, value=128, size=40):
    return tf.io.encode_jpeg(np.full((size, size, channels), value, np.uint8)).numpy()


def write_records(path, examples):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    return str(path)


def write_split(directory, prefix, labels, num_files=2):
    """``num_files`` shards of full-schema examples, one per label, mixed colour images."""
    per_file = np.array_split(np.asarray(labels), num_files)
    for i, chunk in enumerate(per_file):
        write_records(os.path.join(directory, f"{prefix}-{i:05d}-of-{num_files:05d}"), [
            tfrecord_writer.image_example(np.full((40, 40, 3), 10 * int(label), np.uint8),
                                          int(label), synset=f"n{label}") for label in chunk])


def test_splits_and_counts(tmp_path):
    write_split(tmp_path, "train", [1, 2, 3, 1, 2, 3])
    write_split(tmp_path, "validation", [3, 2], num_files=1)
    source = imagenet_tfrecord.TFRecordSource(str(tmp_path))
    info = source.describe()
    assert info.num_examples == {"unsupervised": 6, "train": 6, "test": 2}
    assert info.num_classes == 3
    assert info.location["test"].endswith("validation-*")
    # A pattern naming the train files finds the validation files too.
    pattern = imagenet_tfrecord.TFRecordSource(str(tmp_path / "train-*"))
    assert pattern.files("test")[1] == source.files("test")[1]


def test_unlabeled_files_feed_the_unsupervised_split(tmp_path):
    write_split(tmp_path, "train", [1, 2])
    write_split(tmp_path, "unlabeled", [0, 0, 0])
    source = imagenet_tfrecord.TFRecordSource(str(tmp_path))
    assert source.files("unsupervised")[0].endswith("unlabeled-*")
    labels = [int(r["label"]) for r in source.records("unsupervised", training=False, seed=0,
                                                     input_context=None)]
    assert labels == [-1, -1, -1]


def test_tpu_variant_and_minimal_records(tmp_path):
    """Only image/encoded is required; labels 1..N become 0..N-1, no label becomes -1."""
    write_records(tmp_path / "train-00000-of-00001", [
        raw_example(jpeg(), 5, **{"image/class/synset": b"n5", "image/format": b"JPEG"}),
        raw_example(jpeg())])
    source = imagenet_tfrecord.TFRecordSource(str(tmp_path / "train-*"))
    records = list(source.records("train", training=False, seed=0, input_context=None))
    assert [int(r["label"]) for r in records] == [4, -1]
    assert records[1]["origin"].numpy().decode().endswith("train-00000-of-00001:1")


def test_records_of_a_file_longer_than_a_block_keep_their_order_and_origin(tmp_path):
    count = 2 * tfrecord_reader.BLOCK_SIZE + 3
    path = write_records(tmp_path / "train-00000-of-00001",
                         [raw_example(jpeg(value=i), 1 + i % 7) for i in range(count)])
    records = list(imagenet_tfrecord.TFRecordSource(path).records(
        "train", training=False, seed=0, input_context=None))
    assert [r["origin"].numpy().decode() for r in records] == [f"{path}:{i}" for i in range(count)]
    assert [int(r["label"]) for r in records] == [i % 7 for i in range(count)]
    assert [r["encoded"].numpy() for r in records] == [jpeg(value=i) for i in range(count)]
    assert {r["file"].numpy().decode() for r in records} == {path}
    assert {r["fault"].numpy() for r in records} == {b""}


def test_labels_file_gives_classes(tmp_path):
    write_split(tmp_path, "train", [1])
    write_split(tmp_path, "validation", [1])
    tfrecord_writer.write_labels_file(str(tmp_path), ["a", "b", "c", "d"])
    info = imagenet_tfrecord.TFRecordSource(str(tmp_path)).describe()
    assert info.num_classes == 4 and info.class_names == ("a", "b", "c", "d")


def test_missing_files_name_the_pattern(tmp_path):
    write_split(tmp_path, "train", [1])
    with pytest.raises(FileNotFoundError, match="validation-") as error:
        imagenet_tfrecord.TFRecordSource(str(tmp_path)).describe()
    assert isinstance(error.value, SettingPathError) and error.value.setting == "dataset"
    with pytest.raises(SettingError, match="held-out"):
        imagenet_tfrecord.TFRecordSource(str(tmp_path / "*")).files("test")


def test_record_without_image_encoded_is_named(tmp_path):
    path = write_records(tmp_path / "train-00000-of-00001", [raw_example(None, 1)])
    with pytest.raises(ValueError, match="image/encoded") as error:
        imagenet_tfrecord.TFRecordSource(path).validate("train")
    assert path in str(error.value)


def test_not_a_tfrecord_file_is_named(tmp_path):
    path = tmp_path / "train-00000-of-00001"
    path.write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(ValueError, match="train-00000-of-00001"):
        imagenet_tfrecord.TFRecordSource(str(path)).validate("train")


def cut_in_half(path):
    """Truncates a file mid-record, as an interrupted copy does."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


def test_truncated_shard_yields_its_whole_records_then_a_fault(tmp_path):
    write_split(tmp_path, "train", [1, 2, 3, 4, 5, 6], num_files=2)
    cut = str(tmp_path / "train-00001-of-00002")
    cut_in_half(cut)
    source = imagenet_tfrecord.TFRecordSource(str(tmp_path))
    records = list(source.records("train", training=False, seed=0, input_context=None))
    faults = [(r["file"].numpy().decode(), r["fault"].numpy().decode()) for r in records
              if r["fault"] != ""]
    assert sorted(int(r["label"]) for r in records if r["fault"] == "") == [0, 1, 2, 3]
    assert len(faults) == 1 and faults[0][0] == cut and faults[0][1].startswith("1 records read")
    # Described from the whole records, not a DataLossError.
    assert source.describe(("train",)).num_examples == {"train": 4}


def test_truncated_first_record_is_named(tmp_path):
    path = write_records(tmp_path / "train-00000-of-00001", [raw_example(jpeg(), 1)])
    cut_in_half(path)
    with pytest.raises(SettingError, match="train-00000-of-00001.*truncated or corrupt"):
        imagenet_tfrecord.TFRecordSource(path).validate("train")


def test_zero_based_labels_are_refused_naming_the_file_the_key_and_the_rule(tmp_path):
    write_split(tmp_path, "train", [0, 1, 2, 0], num_files=1)
    write_split(tmp_path, "validation", [1, 2], num_files=1)
    with pytest.raises(SettingError) as err:
        imagenet_tfrecord.TFRecordSource(str(tmp_path)).describe()
    message = str(err.value)
    assert "train-00000-of-00001" in message and "'image/class/label' 0" in message
    assert "0-based labels?" in message and "1-based int64" in message


@pytest.mark.parametrize("kind", ["float_list", "bytes_list"])
def test_a_label_that_is_not_int64_is_refused_naming_the_file(tmp_path, kind):
    example = raw_example(jpeg())
    feature = example.features.feature["image/class/label"]
    if kind == "float_list":
        feature.float_list.value.append(1.0)
    else:
        feature.bytes_list.value.append(b"n01440764")
    path = write_records(tmp_path / "train-00000-of-00001", [example])
    write_records(tmp_path / "validation-00000-of-00001", [example])
    with pytest.raises(SettingError, match=f"{path}: 'image/class/label' is a {kind}, and labels are 1-based int64"):
        imagenet_tfrecord.TFRecordSource(str(tmp_path)).describe()


def test_a_class_missing_from_one_split_is_named_in_a_warning(tmp_path, caplog):
    write_split(tmp_path, "train", [1, 2, 3, 1, 2, 3])
    write_split(tmp_path, "validation", [1, 2], num_files=1)
    with caplog.at_level("WARNING"):
        info = imagenet_tfrecord.TFRecordSource(str(tmp_path)).describe()
    assert info.num_classes == 3
    warnings = [r.getMessage() for r in caplog.records if "absent from" in r.getMessage()]
    assert len(warnings) == 1 and "1 class(es) of the train split are absent from the test split" in warnings[0]
    assert warnings[0].endswith("labels 3")
