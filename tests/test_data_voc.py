"""Tests of spot_tf/data/voc.py on a tiny VOCdevkit written from the demo photos."""
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from spot_tf.data import pipeline, voc
from spot_tf.data.voc_classes import VOC_CLASSES
from voc_data import expected_labels, write_vocdevkit


@pytest.fixture(scope="module")
def devkit(tmp_path_factory):
    parent = tmp_path_factory.mktemp("voc")
    written = write_vocdevkit(str(parent), trainval=10, test=6)
    return str(parent / "VOCdevkit" / "VOC2007"), written


def _copy(devkit, tmp_path):
    root = tmp_path / "VOC2007"
    shutil.copytree(devkit[0], root)
    return root


def test_three_states_from_the_objects():
    objects = [voc.VOCObject("cat", "left", False, False, (1, 1, 5, 5)),
               voc.VOCObject("dog", "left", False, True, None),
               voc.VOCObject("person", "left", False, True, None), voc.VOCObject("person", "left", True, False, None)]
    labels = voc.class_labels(objects)
    assert labels.dtype == np.int32 and labels.shape == (20,)
    expected = np.zeros(20, np.int32)
    expected[VOC_CLASSES.index("cat")] = voc.PRESENT
    expected[VOC_CLASSES.index("dog")] = voc.DIFFICULT  # its only object is difficult
    expected[VOC_CLASSES.index("person")] = voc.PRESENT  # one of its objects is not
    np.testing.assert_array_equal(labels, expected)


def test_tfds_label_lists_give_the_same_states():
    labels = voc.three_state(tf.constant([7, 11, 14], tf.int64), tf.constant([7, 14], tf.int64), 20).numpy()
    assert labels[7] == labels[14] == voc.PRESENT and labels[11] == voc.DIFFICULT
    assert (np.delete(labels, [7, 11, 14]) == voc.ABSENT).all()
    assert (voc.three_state(tf.zeros([0], tf.int64), tf.zeros([0], tf.int64), 20).numpy() == voc.ABSENT).all()


def test_the_devkit_lists_both_splits_with_the_annotations_labels(devkit):
    root, written = devkit
    for path in (root, os.path.dirname(root)):  # VOCdevkit/VOC2007 or VOCdevkit
        info = pipeline.describe_dataset(path, splits=("train", "test"))
        assert info.kind == "voc" and info.multi_label and info.class_names == VOC_CLASSES
        assert info.num_examples == {"train": 10, "test": 6}
    records = list(voc.VOCSource(root).records("test", training=False, seed=0, input_context=None))
    assert len(records) == 6
    for record in records:
        image_id = os.path.basename(record["file"].numpy().decode())[:-4]
        assert written[image_id][0] == "test"
        np.testing.assert_array_equal(record["label"].numpy(), expected_labels(written[image_id][1]))
    # The devkit's own per-class files agree (1 / -1 / 0 there).
    source = voc.VOCSource(root)
    _, examples = source.examples("train")
    lines = open(os.path.join(root, "ImageSets", "Main", "chair_trainval.txt")).read().split("\n")
    devkit_labels = {line.split()[0]: int(line.split()[1]) for line in lines if line}
    ours = {os.path.basename(path)[:-4]: labels[VOC_CLASSES.index("chair")] for path, labels in examples}
    assert {key: {1: 1, -1: 0, 0: -1}[value] for key, value in devkit_labels.items()} == ours


def test_batches_carry_the_label_vectors(devkit):
    images, labels = next(iter(pipeline.make_dataset(devkit[0], "train", 32, 4, training=True, with_labels=True,
                                                     voc_view="finetune")))
    assert images.shape == (4, 32, 32, 3) and labels.shape == (4, 20) and labels.dtype == tf.int32
    images, labels = next(iter(pipeline.make_dataset(devkit[0], "test", 32, 4, training=False, with_labels=True,
                                                     voc_view="finetune")))
    assert images.shape == (4, 10, 32, 32, 3)
    assert set(np.unique(labels.numpy())) <= {-1, 0, 1}


def _error(root, split="test"):
    with pytest.raises(ValueError) as error:
        voc.VOCSource(str(root)).describe(("train", split))
    assert error.value.setting == "dataset" and error.value.value == str(root)
    return error.value.reason


def test_bad_folders_are_named(devkit, tmp_path):
    root = _copy(devkit, tmp_path)
    shutil.rmtree(root / "ImageSets")
    assert "has no ImageSets/Main" in _error(root)
    root = _copy(devkit, tmp_path / "b")
    os.remove(root / "ImageSets" / "Main" / "test.txt")
    assert "test.txt: the test split is missing (the test set ships apart" in _error(root)


@pytest.mark.parametrize("fault,message", [
    ("unknown", "names 'unicorn', not a VOC class"),
    ("no_jpeg", "which has no"),
    ("bad_xml", "does not parse as XML"),
    ("no_object", "holds no <object>"),
])
def test_bad_images_are_named(devkit, tmp_path, fault, message):
    root = _copy(devkit, tmp_path)
    image_id = open(root / "ImageSets" / "Main" / "test.txt").readline().strip()
    annotation = root / "Annotations" / f"{image_id}.xml"
    text = annotation.read_text()
    if fault == "unknown":
        annotation.write_text(text.replace(text[text.index("<name>") + 6:text.index("</name>")], "unicorn", 1))
    elif fault == "no_jpeg":
        os.remove(root / "JPEGImages" / f"{image_id}.jpg")
    elif fault == "bad_xml":
        annotation.write_text(text[:len(text) // 2])
    else:
        annotation.write_text(text[:text.index("<object>")] + "</annotation>\n")
    reason = _error(root)
    assert message in reason and image_id in reason


def test_is_vocdevkit(devkit, tmp_path):
    assert voc.is_vocdevkit(devkit[0]) and voc.is_vocdevkit(os.path.dirname(devkit[0]))
    assert not voc.is_vocdevkit(str(tmp_path)) and not voc.is_vocdevkit(str(tmp_path / "missing"))
