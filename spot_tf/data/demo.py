"""The ``demo`` dataset: crops of natural photos bundled with scikit-image, as ImageNet TFRecords.

Each photo is a class; a few hundred random square crops of it (random position and scale, fixed
seed) are its examples. They are written once, in the ImageNet schema, to ``<cache>/demo``, so that
the demo exercises the very reader ImageNet uses. The cache root is the ``cache_dir`` argument, else
``$SPOT_TF_CACHE``, else ``~/.cache/spot_tf``.

``manifest.json`` lists every file written with its size, its SHA-256 (and a shard's record count);
the cache is used only while every file matches, content included, else it is written again, so a
lost shard cannot shrink the data silently nor an edited one change it. The files are written to a
temporary directory and moved in one by one, the manifest last, so an interrupted run never leaves
a cache that passes the check. Only the files the demo writes are
ever replaced or deleted.
"""

import hashlib
import json
import os
import random
import shutil
import tempfile

from absl import logging
from PIL import Image
import skimage.data

from spot_tf.data import records
from spot_tf.data import tfrecord_reader
from spot_tf.data import tfrecord_writer
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError

VERSION = 3  # 2: the manifest lists the files; 3: with their SHA-256.
MANIFEST = "manifest.json"
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
TEST_EVERY = 5  # Every 5th crop is held out: 256 train + 64 test per photo.
CROP_SIZE = 128  # Stored size; enough for 32-96 px training crops.
SCALE_RANGE = (0.25, 0.75)  # Crop side as a fraction of the photo's shorter side.
SHARDS = {"train": 8, "test": 2}  # Our split -> shards (the unsupervised split reads train-*).


def cache_root(cache_dir=None):
    return (cache_dir or os.environ.get("SPOT_TF_CACHE")
            or os.path.join(os.path.expanduser("~"), ".cache", "spot_tf"))


def _read_manifest(directory):
    """The manifest in ``directory`` as a dict, or None if there is none that reads as one."""
    try:
        with open(os.path.join(directory, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _mismatch(directory):
    """Why the cache in ``directory`` cannot be used, or None if it matches its manifest."""
    manifest = _read_manifest(directory) or {}
    if manifest.get("version") != VERSION:
        return f"no manifest of version {VERSION}"
    for name, entry in manifest.get("files", {}).items():
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            return f"{name} is missing"
        if os.path.getsize(path) != entry["size"]:
            return f"{name} has {os.path.getsize(path)} bytes, not {entry['size']}"
        if _sha256(path) != entry["sha256"]:
            return f"{name} has changed since it was written (its SHA-256 differs)"
    return None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_photos():
    """The bundled photos as ``[(class name, RGB PIL image)]``, in the order of PHOTOS."""
    photo_dir = os.path.dirname(skimage.data.__file__)
    photos = {name: os.path.join(photo_dir, file_name) for name, file_name in PHOTOS.items()}
    missing = [path for path in photos.values() if not os.path.exists(path)]
    if missing:
        raise SettingPathError("dataset", "demo",
                               f"scikit-image {skimage.__version__} does not bundle {missing}.")
    return [(name, Image.open(path).convert("RGB")) for name, path in photos.items()]


def _crop_boxes(photo, rng):
    width, height = photo.size
    for _ in range(CROPS_PER_PHOTO):
        side = int(rng.uniform(*SCALE_RANGE) * min(width, height))
        left, top = rng.randint(0, width - side), rng.randint(0, height - side)
        yield left, top, left + side, top + side


def _write(directory, seed=0):
    """Writes the shards, labels.txt and the manifest that lists them into ``directory``."""
    rng = random.Random(seed)
    photos = load_photos()
    crops = {split: [] for split in SHARDS}
    for label, (name, photo) in enumerate(photos):
        for i, box in enumerate(_crop_boxes(photo, rng)):
            split = "test" if i % TEST_EVERY == TEST_EVERY - 1 else "train"
            crops[split].append((label, box, f"{name}_{i:04d}.JPEG"))

    def make_example(item):
        label, box, file_name = item
        name, photo = photos[label]
        crop = photo.resize((CROP_SIZE, CROP_SIZE), Image.BILINEAR, box=box)
        return tfrecord_writer.image_example(crop, label + 1, filename=file_name, synset=name,
                                             text=name.replace("_", " "), quality=90)

    shards = []
    for split, items in crops.items():
        rng.shuffle(items)  # Mix the classes across shards.
        shards += tfrecord_writer.write_sharded(items, make_example, directory,
                                                records.written_prefix(split), SHARDS[split],
                                                num_workers=4)
    tfrecord_writer.write_labels_file(directory, list(PHOTOS))
    files = {name: {"size": os.path.getsize(os.path.join(directory, name)),
                    "sha256": _sha256(os.path.join(directory, name))}
             for name in os.listdir(directory)}
    for path in shards:
        files[os.path.basename(path)]["records"] = tfrecord_reader.count_records(path)
    with open(os.path.join(directory, MANIFEST), "w") as f:
        json.dump({"version": VERSION, "num_examples": {k: len(v) for k, v in crops.items()},
                   "files": files}, f, indent=1)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:  # Another process got there first.
        pass


def _install(written, directory):
    """Moves a complete cache from ``written`` into ``directory``, the manifest last.

    Replaces the files of the new manifest and deletes those only the old one lists (a former
    layout's shards, which the reader's patterns would still match); nothing else is touched.
    """
    old_files = set((_read_manifest(directory) or {}).get("files", {}))
    os.makedirs(directory, exist_ok=True)
    # From here until the new manifest is in place, the cache does not pass the check.
    _remove(os.path.join(directory, MANIFEST))
    new_files = set(os.listdir(written)) - {MANIFEST}
    for name in sorted(new_files):
        os.replace(os.path.join(written, name), os.path.join(directory, name))
    for name in old_files - new_files - {MANIFEST}:
        _remove(os.path.join(directory, name))
    os.replace(os.path.join(written, MANIFEST), os.path.join(directory, MANIFEST))


def ensure_demo(cache_dir=None):
    """Returns the directory of the demo TFRecords, writing them first if they do not match their
    manifest (never written, a file missing, of the wrong size or content, an older version).

    Args:
      cache_dir: the cache root (the ``data_cache_dir`` setting); see module docstring.
    """
    root = cache_root(cache_dir)
    directory = os.path.join(root, "demo")
    mismatch = _mismatch(directory)
    if mismatch is None:
        return directory
    if os.path.isdir(directory):
        logging.warning("The demo data in %s cannot be used (%s): writing it again.", directory,
                        mismatch)
    logging.info("Writing the demo dataset to %s", directory)
    try:
        os.makedirs(root, exist_ok=True)
        temp = tempfile.mkdtemp(prefix=".demo-", dir=root)
    except OSError as e:
        raise SettingError("data_cache_dir", root, f"cannot write the demo dataset there ({e})") from e
    try:
        _write(temp)
        _install(temp, directory)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return directory
