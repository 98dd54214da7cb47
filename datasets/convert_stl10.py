"""Converts the STL-10 binary files to TFRecords in the ImageNet schema.

    python datasets/convert_stl10.py --binary_dir=/data/stl10_binary --output_dir=/data/stl10_tfr

Reads ``{train,test,unlabeled}_X.bin`` and ``{train,test}_y.bin`` from the Stanford archive
(``stl10_binary/``) and writes ``train-*`` (5,000), ``validation-*`` (the 8,000 test images) and
``unlabeled-*`` (100,000, label 0), plus labels.txt. Train with ``--dataset=/data/stl10_tfr``.
"""

from absl import app
from absl import flags

from spot_tf.data import converters
from spot_tf.errors import SettingError
from spot_tf.errors import fail

FLAGS = flags.FLAGS
flags.DEFINE_string("binary_dir", None, "Directory of the STL-10 *_X.bin / *_y.bin files.")
flags.DEFINE_string("output_dir", None, "Where the TFRecords go.")
flags.DEFINE_integer("train_shards", 8, "Shards of train-*.")
flags.DEFINE_integer("validation_shards", 8, "Shards of validation-* (the STL-10 test set).")
flags.DEFINE_integer("unlabeled_shards", 64, "Shards of unlabeled-*.")
flags.DEFINE_integer("num_workers", 8, "Shards written in parallel.")
flags.DEFINE_integer("resize_shorter", converters.STORED_SHORTER_SIDE, converters.RESIZE_SHORTER_HELP,
                     lower_bound=0)
flags.mark_flags_as_required(["binary_dir", "output_dir"])


def main(argv):
    del argv
    try:
        converters.convert_stl10(
            FLAGS.binary_dir, FLAGS.output_dir,
            converters.shard_counts(FLAGS.train_shards, FLAGS.validation_shards, FLAGS.unlabeled_shards),
            num_workers=FLAGS.num_workers,
            resize_shorter=FLAGS.resize_shorter)
    except SettingError as error:  # Bad input: one line naming the flag, nothing written.
        fail(error.as_flag())


if __name__ == "__main__":
    app.run(main)
