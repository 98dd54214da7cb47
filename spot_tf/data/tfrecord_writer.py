"""Writes images as TFRecords in the public ImageNet schema (see DATA_FORMATS.md).

Used by the demo data, ``datasets/build_imagenet_tfrecords.py`` and ``datasets/convert_stl10.py``, so
that everything the project trains on is read by the same reader as ImageNet.
"""

import concurrent.futures
import io
import os

from absl import logging
import numpy as np
from PIL import Image
import tensorflow as tf

from spot_tf.errors import SettingError

LABELS_FILE = "labels.txt"  # "<label>:<synset>" per line, label 1..N (slim's format).


def _bytes(value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def stored_size(width, height, resize_shorter):
    """``(width, height)`` with the shorter side brought down to ``resize_shorter`` px, the aspect ratio
    kept (the longer side rounded); never enlarged, and as it is for ``resize_shorter`` 0."""
    shorter = min(width, height)
    if not resize_shorter or shorter <= resize_shorter:
        return width, height
    scale = resize_shorter / shorter
    return ((resize_shorter, max(resize_shorter, round(height * scale))) if width == shorter
            else (max(resize_shorter, round(width * scale)), resize_shorter))


def to_rgb_jpeg(image, quality=95, resize_shorter=0):
    """Returns ``(jpeg_bytes, height, width)`` of an image given as array, PIL image or file bytes.

    RGB JPEG bytes no larger than asked are kept as they are (no second lossy compression); anything
    else (PNG, greyscale, RGBA, CMYK, arrays, a JPEG to shrink) is converted to RGB and encoded.
    ``resize_shorter`` > 0 shrinks an image whose shorter side is longer to that side (``stored_size``)
    with PIL's bilinear filter, which averages over the whole footprint when it shrinks, as the linear
    probes' own resize does (torchvision's ``Resize`` on PIL images).
    """
    if isinstance(image, bytes):
        data, image = image, Image.open(io.BytesIO(image))
        if (image.format == "JPEG" and image.mode == "RGB"
                and stored_size(image.width, image.height, resize_shorter) == image.size):
            return data, image.height, image.width
    elif isinstance(image, np.ndarray):
        image = Image.fromarray(np.squeeze(image) if image.ndim == 3 and image.shape[-1] == 1
                                else image)
    image = image.convert("RGB")
    size = stored_size(image.width, image.height, resize_shorter)
    if size != image.size:
        image = image.resize(size, Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue(), image.height, image.width


def image_example(image, label, filename="", synset="", text="", quality=95, resize_shorter=0):
    """A ``tf.train.Example`` in the ImageNet schema; ``label`` is 1-based (0 = no label).

    ``resize_shorter``: see ``to_rgb_jpeg``.
    """
    encoded, height, width = to_rgb_jpeg(image, quality, resize_shorter)
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": _bytes(encoded),
        "image/format": _bytes("JPEG"),
        "image/colorspace": _bytes("RGB"),
        "image/channels": _int64(3),
        "image/height": _int64(height),
        "image/width": _int64(width),
        "image/filename": _bytes(filename),
        "image/class/label": _int64(label),
        "image/class/synset": _bytes(synset),
        "image/class/text": _bytes(text),
    }))


def shard_names(prefix, num_shards):
    """``train-00000-of-00004`` ... as the public ImageNet scripts name them."""
    return [f"{prefix}-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


def shard_paths(output_dir, prefix, num_shards, count):
    """The paths ``write_sharded`` writes ``count`` items to (never more shards than items)."""
    return [os.path.join(output_dir, name) for name in shard_names(prefix, max(1, min(num_shards, count)))]


def check_unwritten(output_dir, paths):
    """Raises a SettingError naming ``output_dir`` if any of ``paths`` exists already.

    The converters write only files that are not there: what is there may be another dataset's.
    """
    there = [os.path.basename(path) for path in paths if tf.io.gfile.exists(path)]
    if there:
        more = f" and {len(there) - 1} more of the files it would write" if len(there) > 1 else ""
        raise SettingError("output_dir", output_dir, f"already holds {there[0]}{more}; write into "
                           "another folder, or move them away first")


def write_sharded(items, make_example, output_dir, prefix, num_shards, num_workers=1):
    """Writes ``make_example(item)`` for every item into ``num_shards`` files of contiguous items.

    Each shard is written to a temporary name and renamed when complete, so an interrupted run
    never leaves a shard that looks finished. Returns the list of shard paths.
    """
    paths = shard_paths(output_dir, prefix, num_shards, len(items))
    bounds = np.linspace(0, len(items), len(paths) + 1).astype(int)
    tf.io.gfile.makedirs(output_dir)

    def write_shard(shard):
        path = paths[shard]
        with tf.io.TFRecordWriter(path + ".tmp") as writer:
            for item in items[bounds[shard]:bounds[shard + 1]]:
                writer.write(make_example(item).SerializeToString())
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)

    # PIL releases the GIL while it decodes and encodes, so threads help.
    with concurrent.futures.ThreadPoolExecutor(max(1, num_workers)) as pool:
        list(pool.map(write_shard, range(len(paths))))
    logging.info("Wrote %d records in %d shards %s-*", len(items), len(paths),
                 os.path.join(output_dir, prefix))
    return paths


def write_labels_file(output_dir, synsets):
    """Writes ``labels.txt``: ``<label>:<synset>`` with labels 1..N in the order given."""
    with tf.io.gfile.GFile(os.path.join(output_dir, LABELS_FILE), "w") as f:
        f.write("".join(f"{label}:{name}\n" for label, name in enumerate(synsets, start=1)))


def read_labels_file(directory):
    """The synsets of ``labels.txt`` in label order, or None if there is no such file."""
    path = os.path.join(directory, LABELS_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        pairs = [line.strip().split(":", 1) for line in f if line.strip()]
    return tuple(name for _, name in sorted(pairs, key=lambda pair: int(pair[0])))
