"""PASCAL VOC: a VOCdevkit folder as a source of the one record format, and VOC's three-state labels.

Every record's "label" is an int32 vector over VOC_CLASSES (alphabetical), as voc_classes.py says:
PRESENT (1) when the image has an object of the class not marked difficult, ABSENT (0) when it has
none, DIFFICULT (-1) when all its objects of the class are difficult (the devkit's
``ImageSets/Main/<class>_<set>.txt`` files write these 1, -1 and 0). Each protocol decides what a DIFFICULT entry means (Krähenbühl et al.
leave it out of loss and test; Goyal et al. train on it as a negative and leave it out of the test).

A VOCdevkit folder (``VOCdevkit/VOC2007``, or ``VOCdevkit`` holding it) has ``JPEGImages/<id>.jpg``,
``Annotations/<id>.xml`` and ``ImageSets/Main/{trainval,test}.txt``; trainval is our "train" split
(and "unsupervised"), test our "test". The labels are read from the annotations, as TFDS's voc
builder reads them: ``parse_annotation`` keeps every object with its box, pose and flags, so that a
detection or segmentation reader (SegmentationClass masks by id) can be built on the same listing.
Anything malformed is a SettingError naming the file: an id without its JPEG or annotation, an
annotation that does not parse, names a class VOC does not have or holds no object.
"""

import collections
import os
import xml.etree.ElementTree as ElementTree

import numpy as np
import tensorflow as tf

from spot_tf.data import records as records_lib
from spot_tf.data.voc_classes import VOC_CLASSES
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError

PRESENT, ABSENT, DIFFICULT = 1, 0, -1
# The folder below VOCdevkit that a VOCdevkit path is taken to mean.
YEAR_FOLDER = "VOC2007"
SUBFOLDERS = ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main"))

# One annotated object; `box` is (xmin, ymin, xmax, ymax) in the devkit's 1-based pixels.
VOCObject = collections.namedtuple("VOCObject", ["name", "pose", "truncated", "difficult", "box"])


def _text(element, tag, default=""):
    found = element.find(tag)
    return default if found is None or found.text is None else found.text.strip()


def parse_annotation(path):
    """The objects of one ``Annotations/<id>.xml``; raises ValueError if it does not parse."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as e:
        raise ValueError(f"{path} does not parse as XML ({e})") from None
    objects = []
    for element in root.findall("object"):
        box = element.find("bndbox")
        objects.append(VOCObject(
            name=_text(element, "name").lower(), pose=_text(element, "pose", "unspecified").lower(),
            truncated=_text(element, "truncated", "0") == "1", difficult=_text(element, "difficult", "0") == "1",
            box=tuple(float(_text(box, key, "0")) for key in ("xmin", "ymin", "xmax", "ymax")) if box is not None
            else None))
    return objects


def class_labels(objects, classes=VOC_CLASSES):
    """int32 [classes] of an image's objects: PRESENT, ABSENT or DIFFICULT (difficult objects only)."""
    labels = np.full(len(classes), ABSENT, np.int32)
    index = {name: i for i, name in enumerate(classes)}
    for obj in objects:
        i = index[obj.name]
        if not obj.difficult:
            labels[i] = PRESENT
        elif labels[i] == ABSENT:
            labels[i] = DIFFICULT
    return labels


def three_state(labels, labels_no_difficult, num_classes):
    """The labels of a TFDS voc example: its ``labels`` (every object's class) and
    ``labels_no_difficult`` (the classes of its objects not difficult) -> int32 [num_classes]."""
    def has(classes):
        return tf.reduce_any(tf.equal(tf.cast(classes, tf.int32)[:, None], tf.range(num_classes)), axis=0)
    return tf.where(has(labels_no_difficult), PRESENT, tf.where(has(labels), DIFFICULT, ABSENT))


def read_ids(path):
    """The image ids of an ImageSets list (the first word of each line)."""
    with tf.io.gfile.GFile(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def is_vocdevkit(path):
    """Whether ``path`` looks like a VOCdevkit year folder (or a VOCdevkit holding VOC2007)."""
    if not tf.io.gfile.isdir(path):
        return False
    return any(tf.io.gfile.isdir(os.path.join(folder, name)) for folder in (path, os.path.join(path, YEAR_FOLDER))
               for name in ("JPEGImages", "Annotations"))


class VOCSource:
    """A VOCdevkit year folder (``VOCdevkit/VOC2007``; a ``VOCdevkit`` holding VOC2007 also does).

    Args:
        root: The folder.
        classes: The class names, in label order.
    """

    kind = "voc"

    def __init__(self, root, classes=VOC_CLASSES):
        self.spec = root
        self.classes = tuple(classes)
        nested = os.path.join(root, YEAR_FOLDER)
        self.root = nested if tf.io.gfile.isdir(nested) else root
        self._listed = {}
        if not tf.io.gfile.isdir(root):
            raise SettingPathError("dataset", root, "no such directory (expected a VOCdevkit/VOC2007 folder).")
        missing = [name for name in SUBFOLDERS if not tf.io.gfile.isdir(os.path.join(self.root, name))]
        if missing:
            raise SettingPathError("dataset", root, f"is no VOCdevkit folder: it has no {', '.join(missing)} "
                                   f"(expected {', '.join(SUBFOLDERS)} in {self.root}).")

    def _fail(self, reason):
        raise SettingError("dataset", self.spec, reason)

    def image_set(self, split):
        """(the ImageSets/Main file of ``split``, its ids)."""
        name = records_lib.split_names(self.kind, split)[0]
        path = os.path.join(self.root, "ImageSets", "Main", f"{name}.txt")
        if not tf.io.gfile.exists(path):
            hint = (" (the test set ships apart, in VOCtest_06-Nov-2007.tar: extract it into the same VOCdevkit)"
                    if name == "test" else "")
            raise SettingPathError("dataset", self.spec, f"has no {path}: the {name} split is missing{hint}.")
        ids = read_ids(path)
        if not ids:
            self._fail(f"{path} lists no image.")
        return path, ids

    def examples(self, split):
        """(the image set file, [(JPEG path, int32 [classes] labels)]) of ``split``, checked image by image."""
        if split not in self._listed:
            location, ids = self.image_set(split)
            examples = []
            for image_id in ids:
                jpeg = os.path.join(self.root, "JPEGImages", f"{image_id}.jpg")
                annotation = os.path.join(self.root, "Annotations", f"{image_id}.xml")
                if not tf.io.gfile.exists(jpeg):
                    self._fail(f"{location} lists {image_id}, which has no {jpeg}.")
                if not tf.io.gfile.exists(annotation):
                    self._fail(f"{location} lists {image_id}, which has no {annotation}.")
                try:
                    objects = parse_annotation(annotation)
                except ValueError as e:
                    self._fail(str(e))
                unknown = sorted({obj.name for obj in objects} - set(self.classes))
                if unknown:
                    self._fail(f"{annotation} names {', '.join(map(repr, unknown))}, not a VOC class "
                               f"({', '.join(self.classes)}).")
                if not objects:
                    self._fail(f"{annotation} holds no <object>: a VOC classification image has at least one.")
                examples.append((jpeg, class_labels(objects, self.classes)))
            self._listed[split] = location, examples
        return self._listed[split]

    def validate(self, split):
        return self.image_set(split)[0]

    def describe(self, splits=records_lib.SPLITS):
        listed = {split: self.examples(split) for split in splits}
        return records_lib.DatasetInfo(
            num_classes=len(self.classes), num_examples={split: len(items) for split, (_, items) in listed.items()},
            kind=self.kind, location={split: location for split, (location, _) in listed.items()},
            class_names=self.classes, multi_label=True)

    def records(self, split, *, training, seed, input_context):
        _, examples = self.examples(split)
        paths, labels = zip(*examples)
        items = tf.data.Dataset.from_tensor_slices((list(paths), np.stack(labels)))
        return records_lib.read_sharded(
            items, len(examples), lambda path, label: records_lib.make_record(tf.io.read_file(path), label, path, path),
            training=training, seed=seed, input_context=input_context, interleave=False)
