"""Time of one voc_seg training step at the reference's input sizes, and the full protocol's projection.

    python benchmarks/bench_voc_seg.py --height=375 --width=500 --steps=20

The step is SegmentationTrainer's (FCN-32s with 4096-channel fc6 / fc7 on a random discriminator, one
whole image, the SGD update every `iter_size` steps), run by fit() on one repeated image of the given
size (VOC's images are at most 500 px, most 500x375 or 375x500). The timed steps are a multiple of the
accumulation, so the updates' share is in the mean. Prints a table with s/step, the step's GFLOP
(convolutions and matmuls, counted from the traced step's shapes) and the achieved GFLOP/s, then the
protocol's 3,000,000 steps (150,000 updates of 20 images) at that rate; `--device_tflops` adds the
projection at that achieved rate (a figure measured elsewhere, e.g. bench_train_step's on a GPU).
"""
import time

from absl import app, flags

# Its op count, and its --steps (timed steps, rounded up here to a multiple of the protocol's iter_size)
# and --warmup (untimed steps first: tracing).
from bench_train_step import step_flops

FLAGS = flags.FLAGS
flags.DEFINE_integer("height", 375, "Image height.")
flags.DEFINE_integer("width", 500, "Image width.")
flags.DEFINE_enum("padding", "valid", ["valid", "same"], "The discriminator's padding.")
flags.DEFINE_integer("fc_channels", 4096, "fc6 / fc7 width (the reference's 4096).")
flags.DEFINE_integer("iter_size", 20, "Images per update (the protocol's 20; fewer for a quick look).")
flags.DEFINE_float("device_tflops", 0.0, "An achieved TFLOP/s to project the protocol's time at (0: none).")


def step_gflop(trainer, height, width):
    """GFLOP of one traced train_step on a [1, height, width] image (bench_train_step's op count)."""
    import tensorflow as tf
    specs = (tf.TensorSpec([1, height, width, 3], tf.float32), tf.TensorSpec([1, height, width], tf.int32))
    graph = tf.function(trainer.train_step).get_concrete_function(specs).graph
    seen, todo = set(), [t.op for t in graph.outputs] + list(graph.control_outputs)
    while todo:
        op = todo.pop()
        if op.name not in seen:
            seen.add(op.name)
            todo.extend(t.op for t in op.inputs)
            todo.extend(op.control_inputs)
    return step_flops([graph.get_operation_by_name(name) for name in seen]) / 1e9


def main(argv):
    del argv
    import dataclasses

    import keras
    import tensorflow as tf
    from spot_tf.models import Discriminator
    from spot_tf.training.builders import build_segmentation_trainer
    from spot_tf.training.voc_seg_protocol import SEGMENTATION

    protocol = dataclasses.replace(SEGMENTATION, fc_channels=FLAGS.fc_channels, iter_size=FLAGS.iter_size)
    accumulation = protocol.accumulation_steps(1)
    steps = -(-FLAGS.steps // accumulation) * accumulation
    keras.utils.set_random_seed(0)
    discriminator = Discriminator(227, padding=FLAGS.padding)
    discriminator.build()
    trainer = build_segmentation_trainer(discriminator, protocol, protocol.steps(1), 1, 21)
    image = tf.random.uniform((1, FLAGS.height, FLAGS.width, 3), -1.0, 1.0, seed=1)
    mask = tf.random.uniform((1, FLAGS.height, FLAGS.width), 0, 21, tf.int32, seed=2)
    batches = tf.data.Dataset.from_tensors((image, mask)).repeat()
    gflop = step_gflop(trainer, FLAGS.height, FLAGS.width)
    trainer.fit(batches, steps_per_epoch=FLAGS.warmup, epochs=1, verbose=0)
    start = time.perf_counter()
    trainer.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = (time.perf_counter() - start) / steps
    total = protocol.steps(1)
    print(f"| image | fc | s/step | GFLOP/step | GFLOP/s | protocol ({total:,} steps) |")
    print("|---|---|---:|---:|---:|---:|")
    print(f"| {FLAGS.width}x{FLAGS.height} | {FLAGS.fc_channels} | {seconds:.3f} | {gflop:.1f} | {gflop / seconds:.0f} | "
          f"{total * seconds / 86400:.1f} days |")
    if FLAGS.device_tflops:
        hours = total * gflop / (FLAGS.device_tflops * 1e3) / 3600
        print(f"at {FLAGS.device_tflops} TFLOP/s achieved: {hours:.1f} h")
    print(f"s_per_step={seconds:.4f}")


if __name__ == "__main__":
    app.run(main)
