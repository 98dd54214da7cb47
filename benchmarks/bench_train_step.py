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
step's outputs and updates depend on (element-wise ops are not counted). They are counted on the
float32 formulation of the step (a trainer built under the float32 policy), whatever the run's
precision: the bf16 path computes some gradients as other ops (per-tap matmuls, a depthwise
convolution), and the work credited to a step must not depend on how it is computed. The count
includes the multiply-adds of SAME convolutions with their zero padding (the share is printed: 8.5%
of a 96 px spot step, from its 6x6 and 12x12 maps, and 4.5% of the autoencoder's). The TF profiler's
float_operation counter is not used: on a TF2 FuncGraph it misses the forward convolutions and
mis-sizes Conv2DBackpropFilter (it reported 6 PFLOP for one spot step).

Two references, both timed in this process: the matmul peak, a 4096^3 `tf.matmul` in float32 and
bfloat16 (on an AMD EPYC Zen 4 without AMX it reached about 97% of the cores' float32 FMA peak and
87% of their bf16 dot-product peak; the best bf16 convolutions of the step run faster than it),
and the shape-matched matmul rate: every convolution and matmul of the step timed as one `tf.matmul`
of its own GEMM shape (M = output pixels, K = kernel taps x input channels, N = output channels;
forward, input-gradient and weight-gradient orientation; M capped at 65536 rows) in the run's
dtype. The square 4096^3 matmul is not the size of the model's convolutions (K is 27..4608 and N
1..512 here); the shape-matched rate is what oneDNN's matmul reaches on the step's own shapes,
i.e. what the convolutions would reach if each ran as fast as a plain matmul of its size (on Zen 4
about 76% of the bf16 4096^3 rate, and the step's convolutions outrun it: the 4096^3 peak is the
stricter reference). Peak memory is `ru_maxrss` right after the timed steps.

The last line printed is `img_per_s=<number>`.
"""
import os
import resource
import time

from absl import app
from absl import flags
import numpy as np

from step_timing import build_trainer, op_flops, random_images, step_flops, step_ops, step_settings, train_step_seconds

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
flags.DEFINE_bool("shape_peak", True, "Time the step's convolutions and matmuls as tf.matmul of their GEMM shapes "
                  "(none and bf16 runs).")


def _forward_conv(op):
    """(output shape, kernel shape, strides, padding) of the forward convolution behind a conv op."""
    if op.type == "Conv2D":
        out, kernel = op.outputs[0], op.inputs[1]
    elif op.type == "Conv2DBackpropInput":
        out, kernel = op.inputs[2], op.inputs[1]
    else:
        out, kernel = op.inputs[2], op.outputs[0]
    return out.shape.as_list(), kernel.shape.as_list(), op.get_attr("strides"), op.get_attr("padding")


def padding_share(ops):
    """Share of the counted convolution FLOPs that multiply SAME padding zeros."""
    def taps_inside(size_out, kernel, stride, size_in):
        pad = max((size_out - 1) * stride + kernel - size_in, 0) // 2
        return sum(sum(0 <= o * stride - pad + k < size_in for k in range(kernel)) for o in range(size_out))
    total = padding = 0
    for op in ops:
        flops = op_flops(op)
        if not flops or op.type not in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
            continue
        total += flops
        out, kernel, strides, pad_mode = _forward_conv(op)
        if pad_mode != b"SAME" and pad_mode != "SAME":
            continue
        source = op.inputs[0] if op.type != "Conv2DBackpropInput" else op.outputs[0]
        inside = 1.0
        for axis in (1, 2):
            size_in = source.shape[axis]
            inside *= taps_inside(out[axis], kernel[axis - 1], strides[axis], size_in) / (out[axis] * kernel[axis - 1])
        padding += flops * (1.0 - inside)
    return padding / total if total else 0.0


def _gemm(op):
    """(M, K, N, orientation) of the matmul that does a conv or matmul op's multiply-adds, or None."""
    if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
        out, kernel, _, _ = _forward_conv(op)
        if None in out or None in kernel:
            return None
        orientation = {"Conv2D": "forward", "Conv2DBackpropInput": "input_grad",
                       "Conv2DBackpropFilter": "weight_grad"}[op.type]
        return out[0] * out[1] * out[2], kernel[0] * kernel[1] * kernel[2], kernel[3], orientation
    if op.type == "MatMul":
        a, b = op.inputs[0].shape.as_list(), op.inputs[1].shape.as_list()
        if None in a or None in b:
            return None
        m, k = (a[1], a[0]) if op.get_attr("transpose_a") else (a[0], a[1])
        n = b[0] if op.get_attr("transpose_b") else b[1]
        return m, k, n, "forward"
    return None


def shape_matched_rate(ops, dtype, max_rows=65536, reps=3):
    """FLOP/s of `tf.matmul` in `dtype` on the GEMM shapes of the step's convolutions and matmuls.

    Every op is timed as one matmul of its shape (forward [M,K]x[K,N], input gradient [M,N]x[N,K],
    weight gradient [M,K]^T x [M,N]); M above `max_rows` is timed at `max_rows` and scaled. The
    result is total FLOPs over total time, i.e. weighted like the step.
    """
    import tensorflow as tf
    timed, total_flops, total_time = {}, 0.0, 0.0
    for op in ops:
        gemm = _gemm(op)
        if gemm is None:
            continue
        m, k, n, orientation = gemm
        rows = min(m, max_rows)
        if gemm not in timed:
            def operand(*shape):
                return tf.cast(tf.random.normal(shape), dtype)
            if orientation == "forward":
                a, b, kwargs = operand(rows, k), operand(k, n), {}
            elif orientation == "input_grad":
                a, b, kwargs = operand(rows, n), operand(k, n), {"transpose_b": True}
            else:
                a, b, kwargs = operand(rows, k), operand(rows, n), {"transpose_a": True}
            timed[gemm] = matmul_seconds(a, b, reps, **kwargs) * m / rows
        total_flops += 2.0 * m * k * n
        total_time += timed[gemm]
    return total_flops / total_time if total_time else float("nan")


def matmul_seconds(a, b, reps, **kwargs):
    """Best of `reps` timings of `tf.matmul(a, b, **kwargs)` (after one untimed call that traces it)."""
    import tensorflow as tf
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y, **kwargs)[:1, :1], tf.float32)))
    mm(a, b).numpy()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        mm(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_peak(dtype, n=4096, reps=6):
    """Achieved FLOP/s of an n x n x n matmul in `dtype` (best of `reps`)."""
    import tensorflow as tf
    a = tf.cast(tf.random.normal((n, n), dtype=tf.float32), dtype)
    b = tf.cast(tf.random.normal((n, n), dtype=tf.float32), dtype)
    return 2.0 * n ** 3 / matmul_seconds(a, b, reps)


def main(argv):
    del argv
    import tensorflow as tf
    from spot_tf.run.precision import precision

    settings_values = dict(
        image_size=FLAGS.image_size, ae_depth=FLAGS.ae_depth, batch_size=FLAGS.batch_size,
        mixed_precision=FLAGS.mixed_precision, xla=FLAGS.xla, generator_loss=FLAGS.generator_loss)
    settings = step_settings(**settings_values)
    images = random_images(FLAGS.batch_size, FLAGS.image_size)
    times, logs = train_step_seconds(settings, FLAGS.phase, images, FLAGS.steps, FLAGS.warmup)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    bad = {k: v for k, v in logs.items() if not np.isfinite(v)}
    if bad:
        print(f"WARNING: non-finite logged values: {bad}")

    mean, best = float(np.mean(times)), float(np.min(times))
    img_per_s = FLAGS.batch_size / mean
    flops = reference_ops = None
    if FLAGS.count_flops or FLAGS.shape_peak:
        # The float32 formulation of the same step (see the module doc): its FLOPs and GEMM shapes.
        reference_settings = step_settings(**{**settings_values, "mixed_precision": "none"})
        with precision("none"):
            reference_ops = step_ops(build_trainer(reference_settings, FLAGS.phase), images)
        flops = step_flops(reference_ops) if FLAGS.count_flops else None
    peaks = {}
    if FLAGS.matmul_peak:
        peaks = {"fp32": matmul_peak(tf.float32), "bf16": matmul_peak(tf.bfloat16)}
    run_dtype = {"none": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}[FLAGS.mixed_precision]
    # Not for fp16: CPUs without AVX512-FP16 emulate float16 matmuls, minutes for one step's shapes.
    shape_rate = (shape_matched_rate(reference_ops, run_dtype)
                  if FLAGS.shape_peak and FLAGS.mixed_precision != "fp16" else None)

    loss_key = "repair_loss" if FLAGS.phase == "spot" else "loss"
    print(f"threads: intra={tf.config.threading.get_intra_op_parallelism_threads()} "
          f"inter={tf.config.threading.get_inter_op_parallelism_threads()} cpus={os.cpu_count()}")
    if flops:
        print(f"step FLOPs (conv/matmul shapes of the float32 train_step graph): {flops / 1e9:.1f} GFLOP, "
              f"{100 * padding_share(reference_ops):.1f}% of them on SAME padding zeros")
    if peaks:
        print(f"matmul peak (4096^3 tf.matmul, this run): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
              f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
    if shape_rate:
        print(f"shape-matched matmul rate (the step's conv/matmul GEMM shapes as tf.matmul in {run_dtype.name}, "
              f"this run): {shape_rate / 1e9:.0f} GFLOP/s")
    header = ("phase", "precision", "xla", "batch", "step_s mean", "step_s min", "img/s", "peak GB",
              "GFLOP/s", "% fp32 pk", "% bf16 pk", "% shape pk", loss_key)
    print(" | ".join(f"{h:>11}" for h in header))
    gflops = flops / mean / 1e9 if flops else float("nan")
    row = (FLAGS.phase, FLAGS.mixed_precision, str(FLAGS.xla), FLAGS.batch_size, f"{mean:.3f}", f"{best:.3f}",
           f"{img_per_s:.1f}", f"{peak_gb:.2f}", f"{gflops:.0f}",
           f"{100 * gflops * 1e9 / peaks['fp32']:.0f}" if peaks and flops else "-",
           f"{100 * gflops * 1e9 / peaks['bf16']:.0f}" if peaks and flops else "-",
           f"{100 * gflops * 1e9 / shape_rate:.0f}" if shape_rate and flops else "-",
           f"{logs.get(loss_key, float('nan')):.4f}")
    print(" | ".join(f"{str(c):>11}" for c in row))
    print(f"img_per_s={img_per_s:.1f}")


if __name__ == "__main__":
    app.run(main)
