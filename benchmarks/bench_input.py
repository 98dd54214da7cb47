"""Input pipeline throughput: decoded and augmented images per second.

    python benchmarks/bench_input.py --dataset=demo --image_size=96,224 --batch_size=64 --steps=50
"""

import time

from absl import app
from absl import flags

from spot_tf.data import SkipReport
from spot_tf.data import make_dataset

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", "demo", "The --dataset value to read.")
flags.DEFINE_list("image_size", ["96", "224"], "Output sizes to measure.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("steps", 50, "Batches timed per row, after the warm-up.")
flags.DEFINE_integer("warmup", 5, "Batches read before timing (fills the buffers).")
flags.DEFINE_string("split", "unsupervised", "Split to read.")
flags.DEFINE_string("cache_dir", None, "Demo cache root.")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory.")


def images_per_second(image_size, training, skip_report):
    dataset = make_dataset(FLAGS.dataset, FLAGS.split, image_size, FLAGS.batch_size,
                           training=training, tfds_data_dir=FLAGS.tfds_data_dir,
                           cache_dir=FLAGS.cache_dir, repeat=True, skip_report=skip_report)
    batches = iter(dataset)
    for _ in range(FLAGS.warmup):
        next(batches)
    start = time.perf_counter()
    images = sum(int(next(batches).shape[0]) for _ in range(FLAGS.steps))
    return images / (time.perf_counter() - start)


def main(argv):
    del argv
    print(f"dataset={FLAGS.dataset} split={FLAGS.split} batch={FLAGS.batch_size} "
          f"steps={FLAGS.steps}")
    print(f"{'size':>5} | {'train img/s':>11} | {'test img/s':>10}")
    report = SkipReport()
    for size in map(int, FLAGS.image_size):
        print(f"{size:>5} | {images_per_second(size, True, report):>11.0f} | "
              f"{images_per_second(size, False, report):>10.0f}", flush=True)
    print(report.summary())  # Skipped images are not counted as read.


if __name__ == "__main__":
    app.run(main)
