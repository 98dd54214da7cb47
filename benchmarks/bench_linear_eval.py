"""Linear-probe training throughput against a forward pass of the frozen discriminator alone.

    python benchmarks/bench_linear_eval.py --protocol=splitbrain --batch_size=64 --steps=10

Both run in the same process on the same random batch, alternating (forward, probes, forward,
probes, ...) so that a machine shared with others disturbs them alike. The probes train as
linear_eval trains them: `fit()` of the protocol's ProbeTrainer (one forward pass of the frozen
network feeding the five heads, their backward pass and the SGD update). The goal is a
probe-training rate of at least 0.85 of the forward-only rate: the heads should cost little next to
the network. Prints a table, then `ratio=`.
"""
import time

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_enum("protocol", "splitbrain", ["splitbrain", "deepcluster"], "The probes' protocol (heads, SGD).")
flags.DEFINE_integer("image_size", 0, "Input size of the probes (0 = the protocol's 227 / 224).")
flags.DEFINE_integer("train_size", 96, "The discriminator's training size (its heads; features take any size).")
flags.DEFINE_integer("batch_size", 64, "Images per step.")
flags.DEFINE_integer("num_classes", 1000, "Classes of the probes' heads.")
flags.DEFINE_integer("steps", 10, "Timed steps of each, after the warm-up.")
flags.DEFINE_integer("warmup", 2, "Untimed steps of each first (tracing).")
flags.DEFINE_integer("rounds", 3, "Alternations of the two measurements; the best round of each is reported.")


def _time(fn, steps):
    start = time.perf_counter()
    fn(steps)
    return (time.perf_counter() - start) / steps


def main(argv):
    del argv
    import keras
    import tensorflow as tf
    from spot_tf.models import Discriminator
    from spot_tf.training.builders import build_probe_trainer
    from spot_tf.training.probe_protocols import IMAGENET_TRAIN_IMAGES, PROTOCOLS
    from spot_tf.transfer import features_of

    protocol = PROTOCOLS[FLAGS.protocol]
    image_size = FLAGS.image_size or protocol.image_size
    keras.utils.set_random_seed(0)
    discriminator = Discriminator(FLAGS.train_size)
    discriminator.build()
    feature_fn = features_of(discriminator)
    images = tf.random.uniform((FLAGS.batch_size, image_size, image_size, 3), -1.0, 1.0, seed=1)
    labels = tf.random.uniform((FLAGS.batch_size,), 0, FLAGS.num_classes, tf.int32, seed=2)
    batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
    trainer = build_probe_trainer(feature_fn, protocol, FLAGS.num_classes, image_size, IMAGENET_TRAIN_IMAGES,
                                  FLAGS.batch_size)
    forward = tf.function(lambda x: feature_fn(x))

    def forward_steps(steps):
        for x, _ in batches.take(steps):
            out = forward(x)
        np.asarray(out["conv_5"])  # block on the last step's result

    def probe_steps(steps):
        trainer.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)

    runs = {"forward only": forward_steps, "probe training": probe_steps}
    for fn in runs.values():
        fn(FLAGS.warmup)
    best = {name: float("inf") for name in runs}
    for _ in range(FLAGS.rounds):
        for name, fn in runs.items():
            best[name] = min(best[name], _time(fn, FLAGS.steps))
    rates = {name: FLAGS.batch_size / seconds for name, seconds in best.items()}
    ratio = rates["probe training"] / rates["forward only"]
    print(f"{FLAGS.protocol} probes, image size {image_size}, batch {FLAGS.batch_size}, {FLAGS.num_classes} classes, "
          f"grids {', '.join(f'{k} {v[0]}x{v[1]}' for k, v in trainer.model.grids.items())}")
    print(f"{'run':>16} | {'step_s':>8} | {'img/s':>8}")
    for name in runs:
        print(f"{name:>16} | {best[name]:8.3f} | {rates[name]:8.1f}")
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    app.run(main)
