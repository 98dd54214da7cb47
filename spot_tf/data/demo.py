"""The ``demo`` dataset: crops of natural photos bundled with scikit-image, as ImageNet TFRecords.

Each photo is a class; a few hundred random square crops of it (random position and scale, fixed
seed) are its examples. They are written once, in the ImageNet schema, to ``<cache>/demo``, so that
the demo exercises the very reader ImageNet uses. The cache root is the ``cache_dir`` argument, else
``$SPOT_TF_CACHE``, else ``~/.cache/spot_tf``. The files are written to a temporary directory that
is renamed into place, so an interrupted run never leaves half a cache.
"""

import json
import os
import random
import shutil
import tempfile

from absl import logging
from PIL import Image
import skimage.data

from spot_tf.data import tfrecord_writer

VERSION = 1
# Photos shipped inside the scikit-image wheel (never fetched on first use): class -> file.
PHOTOS = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "retina": "retina.jpg",
    "stereo_motorcycle": "motorcycle_left.png",
}
CROPS_PER_PHOTO = 320
VALIDATION_EVERY = 5  # Every 5th crop is held out: 256 train + 64 validation per photo.
CROP_SIZE = 128  # Stored size; enough for 32-96 px training crops.
SCALE_RANGE = (0.25, 0.75)  # Crop side as a fraction of the photo's shorter side.
SHARDS = {"train": 8, "validation": 2}


def cache_root(cache_dir=None):
    return (cache_dir or os.environ.get("SPOT_TF_CACHE")
            or os.path.join(os.path.expanduser("~"), ".cache", "spot_tf"))


def _manifest(directory):
    try:
        with open(os.path.join(directory, "manifest.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _load_photos():
    photo_dir = os.path.dirname(skimage.data.__file__)
    photos = {name: os.path.join(photo_dir, file_name) for name, file_name in PHOTOS.items()}
    missing = [path for path in photos.values() if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(f"scikit-image {skimage.__version__} does not bundle {missing}.")
    return [(name, Image.open(path).convert("RGB")) for name, path in photos.items()]


def _crop_boxes(photo, rng):
    width, height = photo.size
    for _ in range(CROPS_PER_PHOTO):
        side = int(rng.uniform(*SCALE_RANGE) * min(width, height))
        left, top = rng.randint(0, width - side), rng.randint(0, height - side)
        yield left, top, left + side, top + side


def _write(directory, seed=0):
    rng = random.Random(seed)
    photos = _load_photos()
    crops = {"train": [], "validation": []}
    for label, (name, photo) in enumerate(photos):
        for i, box in enumerate(_crop_boxes(photo, rng)):
            split = "validation" if i % VALIDATION_EVERY == VALIDATION_EVERY - 1 else "train"
            crops[split].append((label, box, f"{name}_{i:04d}.JPEG"))

    def make_example(item):
        label, box, file_name = item
        name, photo = photos[label]
        crop = photo.resize((CROP_SIZE, CROP_SIZE), Image.BILINEAR, box=box)
        return tfrecord_writer.image_example(crop, label + 1, filename=file_name, synset=name,
                                             text=name.replace("_", " "), quality=90)

    for split, items in crops.items():
        rng.shuffle(items)  # Mix the classes across shards.
        tfrecord_writer.write_sharded(items, make_example, directory, split, SHARDS[split],
                                      num_workers=4)
    tfrecord_writer.write_labels_file(directory, list(PHOTOS))
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump({"version": VERSION, "num_examples": {k: len(v) for k, v in crops.items()}}, f)


def ensure_demo(cache_dir=None):
    """Returns the directory of the demo TFRecords, writing them first if needed."""
    root = cache_root(cache_dir)
    directory = os.path.join(root, "demo")
    if (_manifest(directory) or {}).get("version") == VERSION:
        return directory
    os.makedirs(root, exist_ok=True)
    logging.info("Writing the demo dataset to %s", directory)
    temp = tempfile.mkdtemp(prefix=".demo-", dir=root)
    try:
        _write(temp)
        if os.path.isdir(directory):  # An older version: move it away, then delete it.
            stale = tempfile.mkdtemp(prefix=".demo-stale-", dir=root)
            os.rename(directory, os.path.join(stale, "demo"))
            shutil.rmtree(stale, ignore_errors=True)
        os.rename(temp, directory)
    except OSError:
        # Another process renamed its copy into place first: use that one.
        if (_manifest(directory) or {}).get("version") != VERSION:
            raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return directory
