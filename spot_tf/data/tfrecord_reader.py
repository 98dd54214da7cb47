"""Reads one TFRecord file up to its first truncated or corrupt record, and says so if it stops early.

A shard cut short (an interrupted copy) makes ``TFRecordDataset`` raise DataLossError mid-run, without
the file's name. Read one file at a time, ``ignore_errors()`` stops that file at the fault (it moves
on to the next file, of which there is none); the bytes of the records read, each framed by 16 bytes,
then fall short of the file's size, which is how the stop is told apart from the end.

The records are counted, and parsed by the sources, in blocks: tf.data's cost per element is several
times a record's read, and one block pays it once (``read_blocks``).
"""

import tensorflow as tf

# Per record: its length (8 bytes), the length's CRC (4) and the data's CRC (4).
FRAMING_BYTES = 16
BLOCK_SIZE = 64


def read_blocks(path, size, buffer_size=8 << 20, block_size=BLOCK_SIZE):
    """The records of one TFRecord file in blocks, the last followed by a fault if it was cut short.

    Args:
      path: the file (string tensor or str).
      size: its size in bytes (``tf.io.gfile.stat(path).length``).
      buffer_size: read buffer in bytes.
      block_size: records per block (the last block of a file may hold fewer).

    Returns:
      A dataset of ``(index, serialized, fault)`` vectors: each record's position in the file and its
      bytes with an empty ``fault``; after the last record read, if the file holds more than those,
      one element ``(records read, "", reason)``.
    """
    blocks = tf.data.TFRecordDataset(path, buffer_size=buffer_size).ignore_errors().batch(block_size)
    end = tf.data.Dataset.from_tensors((tf.zeros([0], tf.string), True))
    elements = blocks.map(lambda serialized: (serialized, False)).concatenate(end)
    size = tf.cast(size, tf.int64)

    def tally(state, element):
        count, offset = state
        serialized, is_end = element
        read = tf.size(serialized, out_type=tf.int64)
        lengths = tf.cast(tf.strings.length(serialized, unit="BYTE"), tf.int64)
        short = is_end & (offset != size)
        fault = tf.cond(short, lambda: tf.strings.format("{} records read, {} of {} bytes",
                                                         (count, offset, size)),
                        lambda: tf.constant(""))
        faults = tf.cast(short, tf.int64)  # The end's one fault element, or none.
        block = (tf.concat([count + tf.range(read), tf.fill([faults], count)], 0),
                 tf.concat([serialized, tf.fill([faults], "")], 0),
                 tf.concat([tf.fill([read], ""), tf.fill([faults], fault)], 0))
        next_state = (count + read, offset + tf.reduce_sum(lengths) + read * FRAMING_BYTES)
        return next_state, block

    return elements.scan((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), tally)


def read_file(path, size, buffer_size=8 << 20):
    """``read_blocks``, one ``(index, serialized, fault)`` scalar element per record (and fault)."""
    return read_blocks(path, size, buffer_size).unbatch()


def count_records(path):
    """The number of whole records of a TFRecord file (those before any truncated or corrupt one)."""
    blocks = read_blocks(path, tf.io.gfile.stat(path).length)
    return int(blocks.reduce(tf.constant(0, tf.int64), lambda count, block: count + tf.reduce_sum(
        tf.cast(block[2] == "", tf.int64))))
