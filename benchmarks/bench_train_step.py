"""Training-step throughput of the real train_step (autoencoder or spot phase).

    python benchmarks/bench_train_step.py --phase=spot --batch_size=128 --steps=5
    python benchmarks/bench_train_step.py --phase=autoencoder --mixed_precision=bf16 --xla

The trainer is built exactly as `spot_tf.training.builders` builds it for training (same models,
optimizers, learning-rate policy, `compile(jit_compile=--xla)`, global dtype policy), and the
timed function is Keras' own `make_train_function()` (what `fit` runs) fed from an iterator over
one fixed in-memory batch, so input decoding is not measured. Each timed call is one full update:
forward, both losses, gradients, optimizer applies, weight average, metrics.

FLOPs per step are counted analytically from the static shapes of the convolutions (forward,
input and filter backprops) and matmuls in the graph of the traced train_step, over the ops the
step's outputs and updates depend on (element-wise ops are not counted). The TF profiler's
float_operation counter is not used: on a TF2 FuncGraph it misses the forward convolutions and
mis-sizes Conv2DBackpropFilter (it reported 6 PFLOP for one spot step). The matmul peak is a 4096^3 `tf.matmul` timed in this process, in float32 and
bfloat16. Peak memory is `ru_maxrss` right after the timed steps.

The last line printed is `img_per_s=<number>`.
"""
import os
import resource
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

FLAGS = flags.FLAGS
flags.DEFINE_enum("phase", "spot", ["spot", "autoencoder"], "Which phase's train_step to time.")
flags.DEFINE_integer("image_size", 96, "Square input size.")
flags.DEFINE_integer("ae_depth", 4, "Encoder depth.")
flags.DEFINE_integer("batch_size", 128, "Batch size (one device).")
flags.DEFINE_integer("steps", 5, "Timed steps after the warm-up.")
flags.DEFINE_integer("warmup", 2, "Untimed steps first (tracing, XLA compilation, allocator warm-up).")
flags.DEFINE_enum("mixed_precision", "none", ["none", "bf16", "fp16"], "Global Keras dtype policy.")
flags.DEFINE_bool("xla", False, "compile(jit_compile=True), as --xla of train_spot.py.")
flags.DEFINE_string("generator_loss", "code", "Repair-network loss variant (spot phase).")
flags.DEFINE_bool("count_flops", True, "Count the step's FLOPs from the traced graph.")
flags.DEFINE_bool("matmul_peak", True, "Measure the fp32 / bf16 matmul peak of this machine.")


def build_trainer(settings, phase):
    """The trainer as the phase runner builds it (call under the run's precision)."""
    from spot_tf.training.builders import build_autoencoder_trainer, build_spot_trainer
    return build_spot_trainer(settings) if phase == "spot" else build_autoencoder_trainer(settings)


def _op_flops(op):
    """Multiply-add FLOPs (x2) of a convolution, its backprops or a matmul; 0 for other ops."""
    def dims(tensor):
        shape = tensor.shape
        return None if shape.rank is None or None in shape.as_list() else shape.as_list()
    if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative"):
        # Every one is out_elements x kh x kw x (in channels per group) multiply-adds of the forward conv.
        if op.type == "Conv2D":
            out, kernel = dims(op.outputs[0]), dims(op.inputs[1])
        elif op.type == "Conv2DBackpropInput":
            out, kernel = dims(op.inputs[2]), dims(op.inputs[1])
        elif op.type == "Conv2DBackpropFilter":
            out, kernel = dims(op.inputs[2]), dims(op.outputs[0])
        else:
            out, kernel = dims(op.outputs[0]), dims(op.inputs[1])
            return 2 * np.prod(out) * kernel[0] * kernel[1] if out and kernel else 0
        return 2 * int(np.prod(out)) * kernel[0] * kernel[1] * kernel[2] if out and kernel else 0
    if op.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a, out = dims(op.inputs[0]), dims(op.outputs[0])
        if not a or not out:
            return 0
        transpose_a = op.get_attr("transpose_a") if op.type == "MatMul" else op.get_attr("adj_x")
        return 2 * int(np.prod(out)) * (a[-2] if transpose_a else a[-1])
    return 0


def step_flops(trainer, images):
    """FLOPs of one train_step: convolutions (forward and both backprops) and matmuls of the traced
    train_step graph, counted analytically from their static shapes, over the ops the step's outputs
    and side effects depend on (gradients nobody uses are pruned, as at run time)."""
    import tensorflow as tf
    spec = tf.TensorSpec(images.shape, images.dtype)
    graph = tf.function(trainer.train_step).get_concrete_function(spec).graph
    seen, todo = set(), [t.op for t in graph.outputs] + list(graph.control_outputs)
    while todo:
        op = todo.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        todo.extend(t.op for t in op.inputs)
        todo.extend(op.control_inputs)
    return sum(_op_flops(graph.get_operation_by_name(name)) for name in seen)


def matmul_peak(dtype, n=4096, reps=6):
    """Achieved FLOP/s of an n x n x n matmul in `dtype` (best of `reps`)."""
    import tensorflow as tf
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    b = tf.cast(tf.random.normal((n, n), dtype=tf.float32), dtype)
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32)))
    mm(a, b).numpy()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        mm(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best


def main(argv):
    del argv
    import tensorflow as tf
    from spot_tf.run.precision import precision
    from spot_tf.settings import RunSettings

    settings = RunSettings.from_flat(tempfile.mkdtemp(prefix="bench_train_step_"), dict(
        image_size=FLAGS.image_size, ae_depth=FLAGS.ae_depth, batch_size=FLAGS.batch_size,
        mixed_precision=FLAGS.mixed_precision, xla=FLAGS.xla, generator_loss=FLAGS.generator_loss, ae_steps=1000,
        spot_steps=1000)).validate()
    images = tf.constant(np.random.RandomState(0).uniform(
        -1, 1, (FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, 3)).astype(np.float32))
    iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
    # Built and traced under the run's precision, as the phase runner does.
    with precision(settings.training.mixed_precision):
        trainer = build_trainer(settings, FLAGS.phase)
        trainer.make_train_function()
        train_function = trainer.train_function
        train_function(iterator)

    def run_step():
        logs = train_function(iterator)
        if hasattr(logs, "get_value"):
            logs = logs.get_value()
        # Block on the result (the step's metrics depend on every update).
        values = {k: np.asarray(v) for k, v in logs.items()}
        return {k: float(v.reshape(-1)[0]) if v.size else float("nan") for k, v in values.items()}

    for _ in range(FLAGS.warmup):
        logs = run_step()
    times = []
    for _ in range(FLAGS.steps):
        start = time.perf_counter()
        logs = run_step()
        times.append(time.perf_counter() - start)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    bad = {k: v for k, v in logs.items() if not np.isfinite(v)}
    if bad:
        print(f"WARNING: non-finite logged values: {bad}")

    mean, best = float(np.mean(times)), float(np.min(times))
    img_per_s = FLAGS.batch_size / mean
    flops = step_flops(trainer, images) if FLAGS.count_flops else None
    peaks = {}
    if FLAGS.matmul_peak:
        peaks = {"fp32": matmul_peak(tf.float32), "bf16": matmul_peak(tf.bfloat16)}

    loss_key = "repair_loss" if FLAGS.phase == "spot" else "loss"
    print(f"threads: intra={tf.config.threading.get_intra_op_parallelism_threads()} "
          f"inter={tf.config.threading.get_inter_op_parallelism_threads()} cpus={os.cpu_count()}")
    if flops:
        print(f"step FLOPs (conv/matmul shapes of the traced train_step graph): {flops / 1e9:.1f} GFLOP")
    if peaks:
        print(f"matmul peak (4096^3 tf.matmul, this run): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
              f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
    header = ("phase", "precision", "xla", "batch", "step_s mean", "step_s min", "img/s", "peak GB",
              "GFLOP/s", "% fp32 pk", "% bf16 pk", loss_key)
    print(" | ".join(f"{h:>11}" for h in header))
    gflops = flops / mean / 1e9 if flops else float("nan")
    row = (FLAGS.phase, FLAGS.mixed_precision, str(FLAGS.xla), FLAGS.batch_size, f"{mean:.3f}", f"{best:.3f}",
           f"{img_per_s:.1f}", f"{peak_gb:.2f}", f"{gflops:.0f}",
           f"{100 * gflops * 1e9 / peaks['fp32']:.0f}" if peaks and flops else "-",
           f"{100 * gflops * 1e9 / peaks['bf16']:.0f}" if peaks and flops else "-",
           f"{logs.get(loss_key, float('nan')):.4f}")
    print(" | ".join(f"{str(c):>11}" for c in row))
    print(f"img_per_s={img_per_s:.1f}")


if __name__ == "__main__":
    app.run(main)
