"""Writes an image folder tree as sharded TFRecords in the public ImageNet schema.

    python datasets/build_imagenet_tfrecords.py --input_dir=/data/images --output_dir=/data/tfr \
        --train_shards=1024 --validation_shards=128

--input_dir is ``root/<class>/*`` (split 80/20 by a hash of the file path) or
``root/<split>/<class>/*`` with ``train`` and ``val``/``validation``/``test`` (and optionally
``unlabeled``). Labels are 1..N by sorted class folder name; greyscale, PNG and RGBA images become
RGB JPEGs. Writes ``train-00000-of-01024``..., ``validation-*``, ``unlabeled-*`` and labels.txt.
"""

from absl import app
from absl import flags

from spot_tf.data import converters
from spot_tf.errors import SettingError
from spot_tf.errors import fail

FLAGS = flags.FLAGS
flags.DEFINE_string("input_dir", None, "Image folder tree (see module docstring).")
flags.DEFINE_string("output_dir", None, "Where the TFRecords go.")
flags.DEFINE_integer("train_shards", 1024, "Shards of train-*.")
flags.DEFINE_integer("validation_shards", 128, "Shards of validation-*.")
flags.DEFINE_integer("unlabeled_shards", 128, "Shards of unlabeled-*, if there is an unlabeled "
                     "folder.")
flags.DEFINE_string("synset_text_file", None, "Optional 'synset human text' lines (e.g. ImageNet's "
                    "LOC_synset_mapping.txt) for image/class/text; else the folder name.")
flags.DEFINE_integer("num_workers", 8, "Shards written in parallel.")
flags.DEFINE_integer("resize_shorter", converters.STORED_SHORTER_SIDE, converters.RESIZE_SHORTER_HELP,
                     lower_bound=0)
flags.DEFINE_integer("seed", 0, "Seed of the shuffle that mixes classes across shards.")
flags.mark_flags_as_required(["input_dir", "output_dir"])


def main(argv):
    del argv
    try:
        converters.build_from_folder(
            FLAGS.input_dir, FLAGS.output_dir,
            converters.shard_counts(FLAGS.train_shards, FLAGS.validation_shards, FLAGS.unlabeled_shards),
            class_text=converters.read_synset_text(FLAGS.synset_text_file) if FLAGS.synset_text_file
            else None,
            seed=FLAGS.seed, num_workers=FLAGS.num_workers,
            resize_shorter=FLAGS.resize_shorter)
    except SettingError as error:  # Bad input: one line naming the flag, nothing written.
        fail(error.as_flag())


if __name__ == "__main__":
    app.run(main)
