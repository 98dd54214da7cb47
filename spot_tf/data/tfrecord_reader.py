"""Reads one TFRecord file up to its first truncated or corrupt record, and says so if it stops early.

A shard cut short (an interrupted copy) makes ``TFRecordDataset`` raise DataLossError mid-run, without
the file's name. Read one file at a time, ``ignore_errors()`` stops that file at the fault (it moves
on to the next file, of which there is none); the bytes of the records read, each framed by 16 bytes,
then fall short of the file's size, which is how the stop is told apart from the end.
"""

import tensorflow as tf

# Per record: its length (8 bytes), the length's CRC (4) and the data's CRC (4).
FRAMING_BYTES = 16


def read_file(path, size, buffer_size=8 << 20):
    """The records of one TFRecord file, then one fault element if it could not be read to its end.

    Args:
      path: the file (string tensor or str).
      size: its size in bytes (``tf.io.gfile.stat(path).length``).
      buffer_size: read buffer in bytes.

    Returns:
      A dataset of ``(index, serialized, fault)``: the record's position in the file and its bytes
      with an empty ``fault``; after the last record read, if the file holds more than those,
      ``(records read, "", reason)``.
    """
    records = tf.data.TFRecordDataset(path, buffer_size=buffer_size).ignore_errors()
    end = tf.data.Dataset.from_tensors((tf.constant(""), True))
    elements = records.map(lambda serialized: (serialized, False)).concatenate(end)
    size = tf.cast(size, tf.int64)

    def tally(state, element):
        count, offset = state
        serialized, is_end = element
        fault = tf.where(is_end & (offset != size),
                         tf.strings.format("{} records read, {} of {} bytes", (count, offset, size)),
                         "")
        length = tf.strings.length(serialized, unit="BYTE")
        next_state = (count + 1, offset + tf.cast(length, tf.int64) + FRAMING_BYTES)
        return next_state, (count, serialized, is_end, fault)

    counted = elements.scan((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), tally)
    return counted.filter(lambda index, serialized, is_end, fault: ~is_end | (fault != "")).map(
        lambda index, serialized, is_end, fault: (index, serialized, fault))


def count_records(path):
    """The number of whole records of a TFRecord file (those before any truncated or corrupt one)."""
    records = read_file(path, tf.io.gfile.stat(path).length)
    return int(records.reduce(tf.constant(0, tf.int64),
                              lambda count, element: count + tf.cast(element[2] == "", tf.int64)))
