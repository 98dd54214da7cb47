"""One table of what a machine's devices train at: steps, precisions, XLA, scaling, and the input.

    python benchmarks/accelerator_check.py                        # the ImageNet sizes, every device
    python benchmarks/accelerator_check.py --dataset=/data/imagenet/tfrecords
    python benchmarks/accelerator_check.py --image_size=32 --batch_size=8 --steps=2   # a quick look

On the devices TensorFlow sees (the GPUs if there are any, else the CPU; ``--cpu_devices=N`` splits the
CPU into N logical devices), it times the spot and autoencoder train steps as bench_train_step.py does
(the trainer the phase runner builds, Keras' own train function, one fixed in-memory batch) in every
precision the device runs natively (float32 always; bf16 and fp16 where the hardware has them, see
``native_precisions``), without and with XLA, on one device and on all of them (MirroredStrategy,
``--batch_size`` per device: the scaling efficiency is the all-device rate over N times the one-device
rate). It then reads the training input (``make_dataset`` on ``--dataset``: decode and augmentation
on this host's CPUs) locally and through a tf.data service started in this process (a dispatcher and
``--service_workers`` workers on the same CPUs: the service path's cost, not more cores), and gives
each step row the share of the step the input would take (the step's images/s over the input's: above
100% the input is the bottleneck). FLOP/s are the float32 step's convolution and matmul FLOPs
(step_timing.step_flops) at the row's rate.

A row that fails (no kernel, out of memory, a feature missing) says ``failed: <reason>`` and the
table goes on. The last line is ``rows=<timed> failed=<count>``.
"""
import gc
import time

from absl import app
from absl import flags
import numpy as np

import step_timing

FLAGS = flags.FLAGS
flags.DEFINE_list("phases", ["spot", "autoencoder"], "Train steps to time.")
flags.DEFINE_integer("image_size", 128, "Square input size (ImageNet's).")
flags.DEFINE_integer("ae_depth", 5, "Encoder depth (ImageNet's).")
flags.DEFINE_integer("batch_size", 128, "Batch size per device.")
flags.DEFINE_integer("steps", 10, "Timed steps per row.")
flags.DEFINE_integer("warmup", 3, "Untimed steps first (after the traced call, which compiles).")
flags.DEFINE_list("precisions", ["auto"], "none (float32), bf16, fp16, or auto: those the device has natively.")
flags.DEFINE_list("xla", ["false", "true"], "XLA off and/or on.")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices (CPU-only machines).")
flags.DEFINE_string("dataset", "demo", "The --dataset whose training input is read.")
flags.DEFINE_string("cache_dir", None, "Demo cache root.")
flags.DEFINE_integer("input_batches", 20, "Input batches timed (after --warmup).")
flags.DEFINE_bool("count_flops", True, "Count the float32 step's FLOPs (one more trace per phase).")
flags.DEFINE_integer("service_workers", 2, "Workers of the local tf.data service (0: no service row).")

PRECISION_NAMES = {"none": "float32", "bf16": "bf16", "fp16": "fp16"}
# A GPU's (major, minor) compute capability from which a precision runs on its tensor cores.
GPU_CAPABILITY = {"fp16": (7, 0), "bf16": (8, 0)}
# The CPU feature flags (/proc/cpuinfo) of native bfloat16 / float16 arithmetic; without them TF emulates.
CPU_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}


def devices():
    """(kind, [logical device names]): the GPUs if any are visible, else the CPUs."""
    import tensorflow as tf
    gpus = tf.config.list_logical_devices("GPU")
    return ("GPU", [d.name for d in gpus]) if gpus else ("CPU", [d.name for d in tf.config.list_logical_devices("CPU")])


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return {flag for line in f if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    except OSError:
        return set()


def native_precisions(kind):
    """({precision: True}, {precision: why not}) of the mixed precisions the first device of `kind` runs
    natively: a GPU by its compute capability, a CPU by its feature flags."""
    import tensorflow as tf
    native, missing = {}, {}
    if kind == "GPU":
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        capability = tuple(details.get("compute_capability") or (0, 0))
        for name, least in GPU_CAPABILITY.items():
            if capability >= least:
                native[name] = True
            else:
                missing[name] = f"compute capability {capability} < {least}"
    else:
        flags_here = _cpu_flags()
        for name, needed in CPU_FLAGS.items():
            if flags_here & set(needed):
                native[name] = True
            else:
                missing[name] = f"no {' or '.join(needed)}"
    return native, missing


def _reason(error):
    text = str(error).strip().splitlines()
    return f"failed: {type(error).__name__}: {text[0][:160] if text else ''}"


def _release():
    import keras
    keras.backend.clear_session()
    gc.collect()


def step_row(phase, precision, xla, strategy, global_batch):
    """Images per second of `phase`'s train step (the mean over --steps), or a failure's text."""
    try:
        settings = step_timing.step_settings(
            image_size=FLAGS.image_size, ae_depth=FLAGS.ae_depth, batch_size=global_batch,
            mixed_precision=precision, xla=xla)
        images = step_timing.random_images(global_batch, FLAGS.image_size)
        times, logs = step_timing.train_step_seconds(settings, phase, images, FLAGS.steps, FLAGS.warmup,
                                                          strategy)
        if not all(np.isfinite(value) for value in logs.values()):
            return "failed: non-finite losses"
        return global_batch / float(np.mean(times))
    except Exception as error:  # noqa: BLE001 -- a row's failure is reported in the table.
        return _reason(error)
    finally:
        _release()


def flops_per_image(phase):
    """The float32 step's convolution and matmul FLOPs per image (None if they cannot be counted)."""
    from spot_tf.run.precision import precision
    try:
        settings = step_timing.step_settings(image_size=FLAGS.image_size, ae_depth=FLAGS.ae_depth,
                                                  batch_size=FLAGS.batch_size)
        with precision("none"):
            trainer = step_timing.build_trainer(settings, phase)
            images = step_timing.random_images(FLAGS.batch_size, FLAGS.image_size)
            return step_timing.step_flops(step_timing.step_ops(trainer, images)) / FLAGS.batch_size
    except Exception:  # noqa: BLE001 -- the column shows "-".
        return None
    finally:
        _release()


def input_rate(data_service=None):
    """Training input images per second (decode + augmentation), or a failure's text."""
    from spot_tf.data import make_dataset
    try:
        dataset = make_dataset(FLAGS.dataset, "unsupervised", FLAGS.image_size, FLAGS.batch_size, training=True,
                               cache_dir=FLAGS.cache_dir, data_service=data_service,
                               service_job="accelerator_check" if data_service else None)
        batches = iter(dataset)
        for _ in range(FLAGS.warmup):
            next(batches)
        start = time.perf_counter()
        images = sum(int(next(batches).shape[0]) for _ in range(FLAGS.input_batches))
        return images / (time.perf_counter() - start)
    except Exception as error:  # noqa: BLE001 -- reported in the table.
        return _reason(error)


def service_input_rate():
    """`input_rate` through a tf.data service in this process (a dispatcher and --service_workers)."""
    from spot_tf.data import service
    try:
        with service.local_service(FLAGS.service_workers) as local:
            return input_rate(local.address)
    except Exception as error:  # noqa: BLE001 -- reported in the table.
        return _reason(error)


_COLUMNS = (("row", 30), ("devices", 7), ("batch", 6), ("img/s", 9), ("TFLOP/s", 8), ("scaling", 7),
            ("input local", 11), ("input service", 13))


def _format(cells):
    return " | ".join(f"{str(cell):>{width}}" for cell, (_, width) in zip(cells, _COLUMNS)).rstrip()


def _number(value):
    """Four significant digits (whole numbers from 1,000 on)."""
    if not isinstance(value, float):
        return "-"
    return f"{value:.0f}" if value >= 1000 else f"{value:.4g}"


def _share(step, source):
    return f"{100 * step / source:.3g}%" if isinstance(step, float) and isinstance(source, float) else "-"


def main(argv):
    del argv
    import tensorflow as tf
    if FLAGS.cpu_devices:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.cpu_devices)
    kind, names = devices()
    native, missing = native_precisions(kind)
    wanted = ["none", *native] if FLAGS.precisions == ["auto"] else FLAGS.precisions
    xla_values = [value.lower() in ("1", "true", "yes") for value in FLAGS.xla]
    print(f"devices: {len(names)} {kind} ({', '.join(names)}); precisions: "
          f"{', '.join(PRECISION_NAMES[p] for p in wanted)}"
          + "".join(f"; {name} not native ({why})" for name, why in missing.items() if name not in wanted))
    all_devices = tf.distribute.MirroredStrategy(names) if len(names) > 1 else None

    local = input_rate()
    served = service_input_rate() if FLAGS.service_workers else None
    print(_format([title for title, _ in _COLUMNS]))
    print(_format(["input local", "host", FLAGS.batch_size, _number(local) if isinstance(local, float) else local]))
    if FLAGS.service_workers:
        print(_format([f"input tf.data service ({FLAGS.service_workers} w)", "host", FLAGS.batch_size,
                       _number(served) if isinstance(served, float) else served]))
    timed = failed = 0
    for phase in FLAGS.phases:
        flops = flops_per_image(phase) if FLAGS.count_flops else None
        for precision in wanted:
            for xla in xla_values:
                one = None
                for strategy, count in ((None, 1), (all_devices, len(names)))[:2 if all_devices else 1]:
                    rate = step_row(phase, precision, xla, strategy, FLAGS.batch_size * count)
                    one = rate if count == 1 else one
                    label = f"{phase} {PRECISION_NAMES[precision]} {'XLA' if xla else 'no XLA'}"
                    if not isinstance(rate, float):
                        failed += 1
                        print(_format([label, count, FLAGS.batch_size * count, rate]), flush=True)
                        continue
                    timed += 1
                    scaling = (f"{100 * rate / (count * one):.0f}%" if count > 1 and isinstance(one, float)
                               else "-")
                    print(_format([label, count, FLAGS.batch_size * count, _number(rate),
                                   f"{rate * flops / 1e12:.3g}" if flops else "-", scaling,
                                   _share(rate, local), _share(rate, served)]), flush=True)
    print("input local / service: images/s of decode + augmentation on this host; in a step row, the share "
          "of the step the input would take (over 100%: input-bound)")
    print(f"rows={timed} failed={failed}")


if __name__ == "__main__":
    app.run(main)
