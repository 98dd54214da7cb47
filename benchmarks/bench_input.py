"""Input pipeline throughput: decoded and augmented images per second.

    python benchmarks/bench_input.py --dataset=demo --image_size=96,224 --batch_size=64 --steps=50
    python benchmarks/bench_input.py --make_imagenet_like=512 --dataset=/tmp/imagenet_like \
        --split=train --image_size=128,227 --repeats=3

``--decode=both`` measures the training pipeline with ``make_dataset``'s ``fused_decode`` on (a
JPEG's crop decoded alone) and off (whole images, the default) in turn, in an order that alternates
from one repeat to the next (so that neither always runs first on a machine shared with others),
and prints their ratio. The test pre-processing always decodes whole images. Besides images per
second, each training measurement gives the CPU time the process spent per image (all its threads),
which other work on a shared machine disturbs less.

``--data_service_workers=0,1,2`` measures the training pipeline (whole-image decode) through a
tf.data service with that many workers instead (0: the local pipeline), the dispatcher and workers
on threads of this process: the same cores do the same work, so the ratio of the rates is the
service's overhead (gRPC, serialization, its buffers). The counts take turns in an order that
alternates from one repeat to the next; the last line is ``service_ratio=A``, the best service
configuration's img/s over the local pipeline's (mean over repeats). With ``--input_cores=K`` the
input gets K cores in both: the local pipeline runs on the first K cores this process may use, and
the service's workers run as ``spot-tf-data-service worker`` processes on those same K cores while
the trainer (this process, with the dispatcher) reads on the others, as it would with worker hosts of
K cores; the table then gives the workers' CPU time per image and the trainer's apart.

``--resize_shorter=0,N`` (on an image folder, e.g. the ImageNet-like one) measures stored image sizes
instead of decodes: the folder is converted to TFRecords once per value, as
``datasets/build_imagenet_tfrecords.py --resize_shorter`` would (0 = the JPEGs as they are), and the
training pipeline (whole-JPEG decode) reads each in turn, alternating the order. It prints the ratio of
images per CPU second, the last value's over the first's, and what the stored size changes in the
pixels: the training view (crop, resize, flip, colour) of the same crop, by the same seeds, from the
stored and the original JPEG (the crop box scaled to the stored image and rounded to its pixels), and
the linear probes' central views; a JPEG re-encoded at its original size (the converters' quality) is
the reference for what recompression alone changes. The last line is ``stored_size_ratio=<images per
CPU second, last / first, at the first --image_size (median over --repeats)>``; given both options,
``service_ratio=A stored_size_ratio=B``.

``--make_imagenet_like=N`` first writes N JPEGs of ImageNet's usual size and quality (500x375, one
in four 375x500; quality 90) into the new or empty folder ``--dataset`` names, as
``train/<class>/*.JPEG``: random crops of the photos bundled with scikit-image (a class each),
resized with PIL. Later runs read the folder without the option.
"""

import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image
import tensorflow as tf

from spot_tf.data import SkipReport
from spot_tf.data import demo
from spot_tf.data import image_folder
from spot_tf.data import make_dataset
from spot_tf.data import preprocessing
from spot_tf.data import probe_views
from spot_tf.data import records
from spot_tf.data import tfrecord_writer
from spot_tf.data import service

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", "demo", "The --dataset value to read.")
flags.DEFINE_list("image_size", ["96", "224"], "Output sizes to measure.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("steps", 50, "Batches timed per measurement, after the warm-up.")
flags.DEFINE_integer("warmup", 5, "Batches read before timing (fills the buffers).")
flags.DEFINE_string("split", "unsupervised", "Split to read.")
flags.DEFINE_string("cache_dir", None, "Demo cache root.")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory.")
flags.DEFINE_enum("decode", "both", ["fused", "full", "both"],
                  "Training decode: of the JPEG crop only, of whole images, or both in turn.")
flags.DEFINE_integer("repeats", 1, "Rows per size (machines shared with others vary).")
flags.DEFINE_list("data_service_workers", [], "Measure through a tf.data service of this many in-process "
                  "workers (0: the local pipeline) instead of the decode table.")
flags.DEFINE_integer("input_cores", 0, "With --data_service_workers: the cores the input gets, locally and "
                     "in worker processes, the trainer reading on the others (0: workers on threads of this "
                     "process, every configuration on every core).", lower_bound=0)
flags.DEFINE_list("resize_shorter", [], "Stored shorter sides to compare (0 = as they are), e.g. 0,256; "
                  "--dataset must be an image folder.")
flags.DEFINE_integer("pixel_images", 64, "Images whose views are compared (--resize_shorter).")
flags.DEFINE_integer("make_imagenet_like", 0,
                     "First write this many ImageNet-like JPEGs into the folder --dataset names.")

# (width, height) of the JPEGs written; 3 in 4 landscape, as in ImageNet.
IMAGENET_SIZES = ((500, 375), (500, 375), (500, 375), (375, 500))
IMAGENET_QUALITY = 90
MIN_AREA = 0.5  # Of the largest box of the output's aspect that fits in the photo.


def _random_box(photo_size, aspect, rng):
    """A random (left, top, right, bottom) box of width / height ``aspect`` inside the photo."""
    width, height = photo_size
    box_width = min(width, height * aspect) * rng.uniform(MIN_AREA, 1.0) ** 0.5
    box_height = box_width / aspect
    left, top = rng.uniform(0, width - box_width), rng.uniform(0, height - box_height)
    return left, top, left + box_width, top + box_height


def make_imagenet_like(directory, count, seed=0):
    """Writes ``count`` ImageNet-like JPEGs as ``directory/train/<class>/*.JPEG``.

    Args:
      directory: a folder that does not exist or is empty.
      count: how many images; the photos take turns, so there are min(count, 8) classes.
      seed: the boxes' and sizes' draws.

    Returns:
      The paths written.
    """
    if os.path.isdir(directory) and os.listdir(directory):
        raise app.UsageError(f"--make_imagenet_like writes into a new or empty folder; {directory} "
                             "is not empty (leave the option out to read it).")
    rng = random.Random(seed)
    photos = demo.load_photos()
    paths = []
    for i in range(count):
        name, photo = photos[i % len(photos)]
        width, height = rng.choice(IMAGENET_SIZES)
        box = _random_box(photo.size, width / height, rng)
        path = os.path.join(directory, "train", name, f"{name}_{i:05d}.JPEG")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        photo.resize((width, height), Image.LANCZOS, box=box).save(path, quality=IMAGENET_QUALITY)
        paths.append(path)
    return paths


def _cpu_seconds(pid):
    """User and system CPU seconds of process ``pid`` so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(image_size, training, fused_decode, skip_report, spec=None, data_service=None, worker_pids=()):
    """(images per second, process CPU milliseconds per image) over --steps batches of ``spec``
    (--dataset by default); with ``worker_pids``, a third value: their CPU milliseconds per image.

    With ``data_service`` (an address), training batches through a new job of that service.
    """
    job = dict(data_service=data_service, service_job=f"bench_input:{time.time()}") if data_service else {}
    dataset = make_dataset(spec or FLAGS.dataset, FLAGS.split, image_size, FLAGS.batch_size,
                           training=training, tfds_data_dir=FLAGS.tfds_data_dir,
                           cache_dir=FLAGS.cache_dir, repeat=True, skip_report=skip_report,
                           fused_decode=fused_decode, **job)
    batches = iter(dataset)
    for _ in range(FLAGS.warmup):
        next(batches)
    workers_cpu = lambda: sum(map(_cpu_seconds, worker_pids))
    start, cpu_start, workers_start = time.perf_counter(), time.process_time(), workers_cpu()
    images = sum(int(next(batches).shape[0]) for _ in range(FLAGS.steps))
    rates = (images / (time.perf_counter() - start), (time.process_time() - cpu_start) * 1000 / images)
    return rates + ((workers_cpu() - workers_start) * 1000 / images,) if worker_pids else rates


def _train_measures(image_size, repeat, skip_report):
    """{"fused": measure(...), "full": measure(...)} of the training decodes --decode asks for."""
    paths = {"fused": ["fused"], "full": ["full"], "both": ["fused", "full"]}[FLAGS.decode]
    if repeat % 2:  # Alternate which runs first.
        paths.reverse()
    return {path: measure(image_size, True, path == "fused", skip_report) for path in paths}


def _cell(value, width, digits=0):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _span(values):
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


# Columns: (title, width, digits).
_COLUMNS = (("size", 4, 0), ("repeat", 6, 0), ("fused img/s", 11, 0), ("full img/s", 10, 0),
            ("fused/full", 10, 2), ("fused CPU ms", 12, 3), ("full CPU ms", 11, 3),
            ("full/fused CPU", 14, 2), ("test img/s", 10, 0))


def _row(values):
    return " | ".join(_cell(value, width, digits)
                      for value, (_, width, digits) in zip(values, _COLUMNS))


def _pin(cores):
    """Runs every thread of this process (and the threads they start) on ``cores`` only."""
    for thread in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # A thread that ended meanwhile.
            os.sched_setaffinity(int(thread), cores)


@contextlib.contextmanager
def _worker_processes(dispatcher, count, cores):
    """``count`` ``spot-tf-data-service worker`` processes on ``cores``, serving; yields their pids."""
    # The worker pins itself before TensorFlow starts a thread (preexec_fn is unsafe in a threaded process).
    command = [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {sorted(cores)}); "
               "from spot_tf.data_service_cli import run; run()", "worker", f"--dispatcher={dispatcher}",
               "--host=localhost"]
    with contextlib.ExitStack() as stack:
        workers = []
        for _ in range(count):
            log = stack.enter_context(tempfile.TemporaryFile("w+"))
            worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
            stack.callback(worker.wait)
            stack.callback(worker.terminate)
            workers.append(worker)
            if not worker.stdout.readline().startswith("worker serving at"):
                log.seek(0)
                raise RuntimeError(f"a data service worker did not start:\n{log.read()[-2000:]}")
        yield [worker.pid for worker in workers]


def _service_measure(image_size, workers, skip_report):
    """measure() of the training pipeline, locally (0 workers) or through a service: in this process,
    or with --input_cores in worker processes on the input cores."""
    if not FLAGS.input_cores:
        if not workers:
            return measure(image_size, True, False, skip_report)
        with service.local_service(workers) as local:
            return measure(image_size, True, False, skip_report, data_service=local.address)
    cores = sorted(os.sched_getaffinity(0))
    input_cores, trainer_cores = set(cores[:FLAGS.input_cores]), set(cores[FLAGS.input_cores:])
    try:
        if not workers:
            _pin(input_cores)
            return measure(image_size, True, False, skip_report) + (None,)
        _pin(trainer_cores)
        with service.local_service(0) as local, _worker_processes(local.address, workers, input_cores) as pids:
            return measure(image_size, True, False, skip_report, data_service=local.address, worker_pids=pids)
    finally:
        _pin(set(cores))


def service_table(skip_report):
    """The --data_service_workers table; returns service_ratio (see the module docstring)."""
    counts = sorted(set(map(int, FLAGS.data_service_workers)) | {0})
    columns = _SERVICE_COLUMNS[:5] + _PROCESS_COLUMNS + _SERVICE_COLUMNS[5:] if FLAGS.input_cores else _SERVICE_COLUMNS
    print(" | ".join(f"{title:>{width}}" for title, width in columns))
    ratios = {}  # Workers -> [img/s over the local pipeline's, per repeat].
    for size in map(int, FLAGS.image_size):
        for repeat in range(FLAGS.repeats):
            order = counts if repeat % 2 == 0 else counts[::-1]
            rates = {workers: _service_measure(size, workers, skip_report) for workers in order}
            local_rate = rates[0][0]
            for workers in counts:
                rate, cpu, *worker_cpu = rates[workers]
                ratios.setdefault(workers, []).append(rate / local_rate)
                apart = "".join(f" | {_cell(value, width, 3)}" for value, (_, width) in zip(worker_cpu, _PROCESS_COLUMNS))
                print(f"{size:>4} | {repeat + 1:>6} | {workers:>7} | {rate:>5.0f} | {cpu:>6.3f}{apart} | "
                      f"{rate / local_rate:>8.2f}", flush=True)
    means = {workers: sum(r) / len(r) for workers, r in ratios.items() if workers}
    for workers, mean in means.items():
        print(f"{workers} worker(s): img/s over local {_span(ratios[workers])} (mean {mean:.2f})")
    return max(means.values()) if means else None


_SERVICE_COLUMNS = (("size", 4), ("repeat", 6), ("workers", 7), ("img/s", 5), ("CPU ms", 6),
                    ("/ local", 8))
# With --input_cores, "CPU ms" is this process's (the local pipeline, or the trainer) and this column
# the worker processes'.
_PROCESS_COLUMNS = (("worker CPU ms", 13),)


def _stored(folder, shorter, root):
    """TFRecords of ``folder``'s --split with images stored at ``shorter`` (0 = as they are), in ``root``."""
    out = os.path.join(root, f"shorter_{shorter}")
    _, items = image_folder.ImageFolderSource(folder).items(FLAGS.split)

    def make_example(item):
        with open(item[0], "rb") as f:
            return tfrecord_writer.image_example(f.read(), item[1] + 1, resize_shorter=shorter)
    written = {FLAGS.split: tfrecord_writer.write_sharded(items, make_example, out, records.written_prefix(FLAGS.split),
                                                          4, num_workers=os.cpu_count())}
    shapes = [(f.features.feature["image/width"].int64_list.value[0],
               f.features.feature["image/height"].int64_list.value[0],
               len(f.features.feature["image/encoded"].bytes_list.value[0]))
              for paths in written.values() for f in map(tf.train.Example.FromString,
                                                          tf.data.TFRecordDataset(paths).as_numpy_iterator())]
    width, height, size = np.mean(shapes, axis=0)
    print(f"stored shorter side {shorter or 'as is'}: {len(shapes)} images, {width:.0f}x{height:.0f} "
          f"and {size / 1024:.0f} KiB on average")
    return out


def _difference(got, want):
    """(mean absolute difference, PSNR in dB) of two [-1, 1] views, in 0-255 units."""
    error = (np.asarray(got, np.float64) - np.asarray(want, np.float64)) * 127.5
    mse = np.mean(error ** 2)
    return np.mean(np.abs(error)), 10 * np.log10(255.0 ** 2 / mse) if mse else float("inf")


def _views(image, seed, image_size, box_scale=None):
    """{name: view} of one uint8 image: the training view of the crop of ``seed`` (its box drawn on
    the original image, whose shape ``box_scale`` = (original shape, scale) gives for a stored one),
    and the probes' central views at their own crop sizes."""
    seeds = preprocessing.train_seeds(tf.constant([seed, 0], tf.int64))
    if box_scale is None:
        begin, size = preprocessing.train_crop_window(tf.shape(image), seeds)
    else:
        original_shape, scale = box_scale
        begin, size = preprocessing.train_crop_window(original_shape, seeds)
        begin = tf.cast(tf.round(tf.cast(begin, tf.float32) * scale), tf.int32)
        size = tf.minimum(tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32), tf.shape(image) - begin)
    views = {f"training {image_size} px": preprocessing.augment_train_crop(tf.slice(image, begin, size),
                                                                          image_size, seeds)}
    for name, protocol in probe_views.PROTOCOLS.items():
        views[f"probe {name} {protocol.crop} px"] = probe_views.central_view(image, protocol.crop, name)
    return views


def pixel_differences(folder, shorter, image_size, count):
    """{(path, view): (mean abs, PSNR)} of the views of stored vs original JPEGs; path "resized" (to
    ``shorter``) or "re-encoded" (at the original size, the recompression alone)."""
    _, items = image_folder.ImageFolderSource(folder).items(FLAGS.split)
    results = {}
    for seed, (path, _) in enumerate(sorted(items)[:count]):
        with open(path, "rb") as f:
            data = f.read()
        original = tf.io.decode_jpeg(data, channels=3)
        want = _views(original, seed, image_size)
        stored = {"resized": tfrecord_writer.to_rgb_jpeg(data, resize_shorter=shorter)[0],
                  "re-encoded": tfrecord_writer.to_rgb_jpeg(original.numpy())[0]}
        for kind, encoded in stored.items():
            image = tf.io.decode_jpeg(encoded, channels=3)
            scale = tf.cast(tf.shape(image), tf.float32) / tf.cast(tf.shape(original), tf.float32)
            got = _views(image, seed, image_size, (tf.shape(original), scale))
            for view in want:
                results.setdefault((kind, view), []).append(_difference(got[view], want[view]))
    return {key: tuple(np.mean(values, axis=0)) for key, values in results.items()}


def compare_stored_sizes(shorters):
    """Prints the --resize_shorter table and the pixel differences; returns the stored-size ratio."""
    if not os.path.isdir(FLAGS.dataset) or FLAGS.dataset == "demo":
        raise app.UsageError("--resize_shorter needs --dataset=<an image folder> (e.g. --make_imagenet_like's).")
    root = tempfile.mkdtemp(prefix="bench_input_stored_")
    specs = {shorter: _stored(FLAGS.dataset, shorter, root) for shorter in shorters}
    names = [str(shorter or "as is") for shorter in shorters]
    print(" | ".join(["size", "repeat"] + [f"{n} img/s" for n in names] + [f"{n} CPU ms" for n in names]
                     + [f"{names[-1]}/{names[0]} img per CPU s"]))
    report, ratios = SkipReport(), {}
    for size in map(int, FLAGS.image_size):
        for repeat in range(FLAGS.repeats):
            order = shorters if repeat % 2 == 0 else shorters[::-1]  # Alternate which runs first.
            rates = {shorter: measure(size, True, False, report, specs[shorter]) for shorter in order}
            ratio = rates[shorters[0]][1] / rates[shorters[-1]][1]
            ratios.setdefault(size, []).append(ratio)
            print(" | ".join([f"{size:>4}", f"{repeat + 1:>6}"]
                             + [f"{rates[s][0]:>{len(n) + 6}.0f}" for s, n in zip(shorters, names)]
                             + [f"{rates[s][1]:>{len(n) + 7}.3f}" for s, n in zip(shorters, names)]
                             + [f"{ratio:.2f}"]), flush=True)
    print(report.summary())
    if shorters[-1]:
        differences = pixel_differences(FLAGS.dataset, shorters[-1], int(FLAGS.image_size[0]), FLAGS.pixel_images)
        print(f"pixels, {FLAGS.pixel_images} images, same crops and seeds, stored vs original JPEG "
              "(0-255 units): view | mean abs difference | PSNR dB")
        for (kind, view), (mean_abs, psnr) in differences.items():
            print(f"  {kind} to {shorters[-1] if kind == 'resized' else 'q95'}: {view} | {mean_abs:.2f} | {psnr:.1f}")
    for size, values in ratios.items():
        print(f"size {size}: {names[-1]}/{names[0]} images per CPU second {_span(values)}")
    return statistics.median(ratios[int(FLAGS.image_size[0])])


def main(argv):
    del argv
    if FLAGS.make_imagenet_like:
        if FLAGS.dataset == "demo":
            raise app.UsageError("--make_imagenet_like needs --dataset=<folder to write>.")
        paths = make_imagenet_like(FLAGS.dataset, FLAGS.make_imagenet_like)
        size = sum(os.path.getsize(path) for path in paths) / len(paths) / 1024
        print(f"wrote {len(paths)} JPEGs ({size:.0f} KiB on average) into {FLAGS.dataset}")
    # The service and stored-size comparisons each end the run with their ratio, together on one line.
    summary = []
    if FLAGS.resize_shorter:
        summary.append(f"stored_size_ratio={compare_stored_sizes([int(v) for v in FLAGS.resize_shorter]):.3f}")
    if FLAGS.resize_shorter and not FLAGS.data_service_workers:
        print(" ".join(summary))
        return
    print(f"dataset={FLAGS.dataset} split={FLAGS.split} batch={FLAGS.batch_size} "
          f"steps={FLAGS.steps} decode={'full' if FLAGS.data_service_workers else FLAGS.decode}; "
          "CPU ms = process CPU time per image")
    report = SkipReport()
    if FLAGS.input_cores and not FLAGS.input_cores < len(os.sched_getaffinity(0)):
        raise app.UsageError(f"--input_cores={FLAGS.input_cores} leaves no core of the "
                             f"{len(os.sched_getaffinity(0))} this process may use to the trainer.")
    if FLAGS.data_service_workers:
        ratio = service_table(report)
        print(report.summary())
        summary.insert(0, f"service_ratio={ratio:.2f}" if ratio is not None else "service_ratio=-")
        print(" ".join(summary))
        return
    print(" | ".join(f"{title:>{width}}" for title, width, _ in _COLUMNS))
    ratios = {}  # Size -> [(fused/full img/s, full/fused CPU)].
    for size in map(int, FLAGS.image_size):
        for repeat in range(FLAGS.repeats):
            train = _train_measures(size, repeat, report)
            (fused_rate, fused_cpu), (full_rate, full_cpu) = (
                train.get(path, (None, None)) for path in ("fused", "full"))
            rate_ratio = cpu_ratio = None
            if len(train) == 2:
                rate_ratio, cpu_ratio = fused_rate / full_rate, full_cpu / fused_cpu
                ratios.setdefault(size, []).append((rate_ratio, cpu_ratio))
            test_rate, _ = measure(size, False, False, report)
            print(_row((size, repeat + 1, fused_rate, full_rate, rate_ratio, fused_cpu, full_cpu,
                        cpu_ratio, test_rate)), flush=True)
    for size, pairs in ratios.items():
        rates, cpus = zip(*pairs)
        print(f"size {size}: fused/full img/s {_span(rates)}, full/fused CPU {_span(cpus)}")
    print(report.summary())  # Skipped images are not counted as read.


if __name__ == "__main__":
    app.run(main)
