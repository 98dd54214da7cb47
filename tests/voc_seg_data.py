"""Tiny PASCAL VOC segmentation data sets for tests: a VOCdevkit/VOC2012 folder with palette PNG masks
(void borders) and an SBD benchmark_RELEASE folder with .mat masks, of coloured rectangles on noise."""
import os

import numpy as np
import scipy.io
from PIL import Image

from spot_tf.data.voc_segmentation import VOID

# The colour each class's rectangle is painted in (so that the classes are learnable).
COLOURS = {1: (230, 30, 30), 7: (30, 230, 30), 15: (30, 30, 230)}


def palette():
    """A palette as VOC's: entry 255 white, the others any distinct colours."""
    colours = np.zeros((256, 3), np.uint8)
    colours[:21] = np.random.default_rng(0).integers(0, 255, (21, 3))
    colours[VOID] = 255
    return colours.reshape(-1).tolist()


def example(rng, size=None):
    """(uint8 image [H, W, 3], uint8 mask [H, W]): a class rectangle with a void border on noise."""
    height, width = size or (int(rng.integers(36, 60)), int(rng.integers(36, 60)))
    image = rng.integers(90, 160, (height, width, 3)).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    label = int(rng.choice(list(COLOURS)))
    top, left = int(rng.integers(0, height // 2)), int(rng.integers(0, width // 2))
    bottom, right = top + height // 3 + 4, left + width // 3 + 4
    image[top:bottom, left:right] = COLOURS[label]
    mask[top:bottom, left:right] = VOID
    mask[top + 1:bottom - 1, left + 1:right - 1] = label
    return image, mask


def save_png_mask(path, mask):
    image = Image.fromarray(mask, mode="P")
    image.putpalette(palette())
    image.save(path)


def save_sbd_mask(path, mask):
    scipy.io.savemat(path, {"GTcls": {"Segmentation": mask, "CategoriesPresent": np.unique(mask)}})


def write_voc2012(parent, train=6, val=4, seed=0, year="VOC2012"):
    """parent/VOCdevkit/<year> with JPEGImages, SegmentationClass and ImageSets/Segmentation
    {train,val}.txt; returns {id: mask}."""
    root = os.path.join(parent, "VOCdevkit", year)
    for folder in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    rng = np.random.default_rng(seed)
    masks, lists = {}, {"train": [], "val": []}
    for index in range(train + val):
        image_id = f"2008_{index:06d}"
        image, mask = example(rng)
        Image.fromarray(image).save(os.path.join(root, "JPEGImages", f"{image_id}.jpg"), quality=95)
        save_png_mask(os.path.join(root, "SegmentationClass", f"{image_id}.png"), mask)
        lists["train" if index < train else "val"].append(image_id)
        masks[image_id] = mask
    for name, ids in lists.items():
        with open(os.path.join(root, "ImageSets", "Segmentation", f"{name}.txt"), "w") as f:
            f.write("".join(f"{i}\n" for i in ids))
    return masks


def write_sbd(parent, ids, seed=1, extra=3):
    """parent/benchmark_RELEASE/dataset with cls/<id>.mat and img/<id>.jpg for `ids` (also listed in
    train.txt) and `extra` images of its own; returns {id: mask}."""
    root = os.path.join(parent, "benchmark_RELEASE", "dataset")
    for folder in ("cls", "img"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    rng = np.random.default_rng(seed)
    masks = {}
    for image_id in list(ids) + [f"2007_{i:06d}" for i in range(extra)]:
        image, mask = example(rng)
        Image.fromarray(image).save(os.path.join(root, "img", f"{image_id}.jpg"), quality=95)
        save_sbd_mask(os.path.join(root, "cls", f"{image_id}.mat"), mask)
        masks[image_id] = mask
    with open(os.path.join(root, "train.txt"), "w") as f:
        f.write("".join(f"{i}\n" for i in masks))
    with open(os.path.join(root, "val.txt"), "w") as f:
        f.write("")
    return masks
