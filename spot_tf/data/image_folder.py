"""Reads a folder of images with one subfolder per class (JPEG and PNG, any colour mode).

Two layouts: ``root/<split>/<class>/*`` (split folders named as the "folder" entry of
``records.SPLIT_NAMES`` says: ``train``, ``test``/``val``/``validation``, and optionally
``unlabeled``/``unlabelled`` for the self-supervised phases), or ``root/<class>/*``, which
is split 80/20 into train/test by a hash of each file's path, so the two never overlap and the split
does not depend on the listing order or on which other files exist. Labels are the sorted class
names' indices, the same in every split.
"""

import hashlib
import os

import tensorflow as tf

from spot_tf.data import records as records_lib
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
TEST_PERCENT = 20


def _subdirs(path):
    return sorted(name for name in tf.io.gfile.listdir(path)
                  if tf.io.gfile.isdir(os.path.join(path, name)))


def _is_test(relative_path):
    """Deterministic 80/20 assignment from the file's path below the class folders' parent."""
    digest = hashlib.md5(relative_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") % 100 < TEST_PERCENT


def list_images(class_root, class_names):
    """(path, label, path relative to class_root) of the images in ``class_root/<class>/``."""
    items = []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(class_root, name)
        if not tf.io.gfile.isdir(class_dir):
            continue
        for file_name in sorted(tf.io.gfile.listdir(class_dir)):
            if file_name.lower().endswith(IMAGE_EXTENSIONS):
                items.append((os.path.join(class_dir, file_name), label, f"{name}/{file_name}"))
    return items


class ImageFolderSource:
    """``root/<class>/*`` or ``root/<split>/<class>/*``."""

    kind = "folder"

    def __init__(self, root):
        self.root = root
        if not tf.io.gfile.isdir(root):
            raise SettingPathError("dataset", root, "no such directory.")
        subdirs = _subdirs(root)
        self.has_split_dirs = ("train" in subdirs
                               and set(subdirs) <= records_lib.all_split_names("folder"))
        if self.has_split_dirs:
            self.class_names = tuple(sorted(
                {name for split in subdirs for name in _subdirs(os.path.join(root, split))}))
        else:
            self.class_names = tuple(subdirs)
        if not self.class_names:
            raise SettingError("dataset", root, "expected one subfolder per class "
                               "(root/<class>/* or root/<split>/<class>/*), found none.")

    def split_dir(self, split):
        """The folder of ``split`` in the ``root/<split>/<class>/*`` layout."""
        names = records_lib.split_names("folder", split)
        for name in names:
            path = os.path.join(self.root, name)
            if tf.io.gfile.isdir(path):
                return path
        raise SettingPathError("dataset", self.root,
                               f"no folder for split {split!r} (looked for {', '.join(names)}).")

    def items(self, split):
        """(location, [(path, label)]) of ``split``; raises if it holds no image."""
        if self.has_split_dirs:
            location = self.split_dir(split)
            items = [(path, label) for path, label, _ in list_images(location, self.class_names)]
        else:
            records_lib.check_split(split)
            want_test = split == "test"
            location = f"{self.root} ({'test' if want_test else 'train'} part of the hash split)"
            items = [(path, label) for path, label, relative in list_images(self.root, self.class_names)
                     if _is_test(relative) == want_test]
        if not items:
            raise SettingError("dataset", self.root, f"no {'/'.join(IMAGE_EXTENSIONS)} image in "
                               f"{location} (split {split!r}).")
        return location, items

    def validate(self, split):
        return self.items(split)[0]

    def describe(self, splits=records_lib.SPLITS):
        listed = {split: self.items(split) for split in splits}
        return records_lib.DatasetInfo(
            num_classes=len(self.class_names),
            num_examples={split: len(items) for split, (_, items) in listed.items()},
            kind=self.kind, location={split: location for split, (location, _) in listed.items()},
            class_names=self.class_names)

    def records(self, split, *, training, seed, input_context):
        _, items = self.items(split)
        paths, labels = zip(*items)
        files = tf.data.Dataset.from_tensor_slices((list(paths), list(labels)))
        return records_lib.read_sharded(
            files, len(items),
            lambda path, label: records_lib.make_record(tf.io.read_file(path), label, path, path),
            training=training, seed=seed, input_context=input_context, interleave=False)
