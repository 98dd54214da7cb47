"""Tiny PASCAL VOC 2007 data sets for tests, written from the demo photos: a VOCdevkit folder and the
TFDS voc/2007 data made from it by TFDS's own builder (nothing downloaded)."""
import os
import random
from unittest import mock

import numpy as np
import tensorflow_datasets as tfds

from spot_tf.data import demo
from spot_tf.data.voc_classes import VOC_CLASSES

# Each photo stands for a class (so that the labels are learnable); a few other classes come and go.
PHOTO_CLASSES = {"astronaut": "person", "chelsea": "cat", "coffee": "diningtable", "rocket": "aeroplane",
                 "stereo_motorcycle": "motorbike"}
EXTRA_CLASSES = ("dog", "car", "bottle")
# A class only the trainval split has: its test AP is undefined.
TRAINVAL_ONLY = "sheep"


def _xml(image_id, size, objects):
    width, height = size
    parts = [f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>",
             f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"]
    for name, difficult in objects:
        parts.append(f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
                     f"<difficult>{int(difficult)}</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
                     f"<xmax>{width}</xmax><ymax>{height}</ymax></bndbox></object>")
    return "".join(parts) + "</annotation>\n"


def write_vocdevkit(parent, trainval=24, test=16, seed=0):
    """Writes parent/VOCdevkit/VOC2007 (JPEGImages, Annotations, ImageSets/Main with the per-class
    files) and returns {id: (split, [(class, difficult)])}. trainval is split into train and val."""
    root = os.path.join(parent, "VOCdevkit", "VOC2007")
    for folder in ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    rng = random.Random(seed)
    photos = [(name, photo) for name, photo in demo.load_photos() if name in PHOTO_CLASSES]
    splits = {"train": [], "val": [], "test": []}
    written = {}
    for index in range(trainval + test):
        image_id = f"{index:06d}"
        split = "test" if index >= trainval else ("train" if index % 2 == 0 else "val")
        name, photo = photos[index % len(photos)]
        size = (rng.randint(40, 64), rng.randint(40, 64))
        left, top = rng.randint(0, photo.width // 4), rng.randint(0, photo.height // 4)
        box = (left, top, left + photo.width // 2, top + photo.height // 2)
        photo.resize(size, box=box).save(os.path.join(root, "JPEGImages", f"{image_id}.jpg"), quality=90)
        objects = [(PHOTO_CLASSES[name], False)]
        if rng.random() < 0.5:
            objects.append((rng.choice(EXTRA_CLASSES), rng.random() < 0.5))
        if index % 7 == 3:
            # Difficult only: the class's entry is DIFFICULT for this image.
            objects.append(("chair", True))
        if split != "test" and index % 5 == 1:
            objects.append((TRAINVAL_ONLY, False))
        with open(os.path.join(root, "Annotations", f"{image_id}.xml"), "w") as f:
            f.write(_xml(image_id, size, objects))
        splits[split].append(image_id)
        written[image_id] = (split, objects)
    splits["trainval"] = sorted(splits["train"] + splits["val"])
    for split, ids in splits.items():
        with open(os.path.join(root, "ImageSets", "Main", f"{split}.txt"), "w") as f:
            f.write("".join(f"{i}\n" for i in ids))
        for name in VOC_CLASSES:
            with open(os.path.join(root, "ImageSets", "Main", f"{name}_{split}.txt"), "w") as f:
                for image_id in ids:
                    flags = [difficult for cls, difficult in written[image_id][1] if cls == name]
                    label = -1 if not flags else (0 if all(flags) else 1)
                    f.write(f"{image_id} {label:2d}\n")
    return written


def expected_labels(objects):
    """The three-state label vector of an image's objects, computed here independently."""
    labels = np.zeros(len(VOC_CLASSES), np.int32)
    for name in {cls for cls, _ in objects}:
        flags = [difficult for cls, difficult in objects if cls == name]
        labels[VOC_CLASSES.index(name)] = -1 if all(flags) else 1
    return labels


def prepare_tfds_voc(parent, data_dir):
    """Builds TFDS voc/2007 in `data_dir` from parent/VOCdevkit with TFDS's own voc builder, its
    downloads replaced by the folder (as TFDS's builder tests do)."""
    builder = tfds.builder("voc/2007", data_dir=data_dir)
    with mock.patch.object(tfds.download.DownloadManager, "download_and_extract",
                           lambda self, urls: {key: parent for key in urls}):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS))
    return builder
