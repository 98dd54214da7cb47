"""Tests of spot_tf/data/tfrecord_reader.py: reading a TFRecord file that may be cut short."""

import os

import pytest
import tensorflow as tf

from spot_tf.data import tfrecord_reader

RECORDS = [bytes([i]) * (100 + i) for i in range(6)]


@pytest.fixture(name="shard")
def fixture_shard(tmp_path):
    path = str(tmp_path / "train-00000-of-00001")
    with tf.io.TFRecordWriter(path) as writer:
        for record in RECORDS:
            writer.write(record)
    return path


def _read(path):
    return [(int(i), s.numpy(), f.numpy().decode())
            for i, s, f in tfrecord_reader.read_file(path, os.path.getsize(path))]


def _rewrite(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_whole_file_has_no_fault(shard):
    assert _read(shard) == [(i, record, "") for i, record in enumerate(RECORDS)]


def test_file_cut_in_half_ends_with_a_fault(shard):
    with open(shard, "rb") as f:
        data = f.read()
    whole = (16 + 100) + (16 + 101)  # Two records, each framed by 16 bytes.
    _rewrite(shard, data[:whole + 50])
    read = _read(shard)
    assert [record for _, record, fault in read if not fault] == RECORDS[:2]
    assert read[-1] == (2, b"", f"2 records read, {whole} of {whole + 50} bytes")


def test_corrupt_record_mid_file_ends_with_a_fault(shard):
    with open(shard, "rb") as f:
        data = bytearray(f.read())
    data[116 + 12 + 5] ^= 0xFF  # A data byte of the second record: its CRC no longer matches.
    _rewrite(shard, bytes(data))
    read = _read(shard)
    assert [record for _, record, fault in read if not fault] == RECORDS[:1]
    assert read[-1][2].startswith("1 records read")


def test_not_a_tfrecord_file(tmp_path):
    path = str(tmp_path / "x")
    _rewrite(path, b"this is not a tfrecord file at all")
    assert _read(path) == [(0, b"", "0 records read, 0 of 34 bytes")]


def test_count_records(shard):
    assert tfrecord_reader.count_records(shard) == len(RECORDS)
    with open(shard, "rb") as f:
        data = f.read()
    _rewrite(shard, data[:-3])
    assert tfrecord_reader.count_records(shard) == len(RECORDS) - 1


@pytest.mark.parametrize("block_size", [1, 4, 64])
def test_blocks_hold_every_record_once_and_the_fault_last(shard, block_size):
    with open(shard, "rb") as f:
        data = f.read()
    cut = sum(16 + len(record) for record in RECORDS[:5]) + 7  # Five whole records, then 7 bytes.
    _rewrite(shard, data[:cut])
    blocks = list(tfrecord_reader.read_blocks(shard, cut, block_size=block_size))
    assert all(len(index) <= block_size for index, _, _ in blocks[:-1])
    flat = [(int(i), s, f.decode()) for index, serialized, fault in blocks
            for i, s, f in zip(index.numpy(), serialized.numpy(), fault.numpy())]
    whole = [(i, record, "") for i, record in enumerate(RECORDS[:5])]
    assert flat == whole + [(5, b"", f"5 records read, {cut - 7} of {cut} bytes")]
