import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from voc_seg_data import example, save_png_mask, save_sbd_mask, write_sbd, write_voc2012

from spot_tf.data import SkipReport
from spot_tf.data.voc_segmentation import (SEG11VALID, VOID, VOCSegmentationSource, check_mask, read_png_mask,
                                           read_sbd_mask, segmentation_dataset)
from spot_tf.errors import SettingError


def test_palette_masks_are_read_as_indices_not_colours(tmp_path):
    _, mask = example(np.random.default_rng(0), (20, 30))
    save_png_mask(tmp_path / "m.png", mask)
    np.testing.assert_array_equal(read_png_mask(str(tmp_path / "m.png")), mask)
    # A colour decode (TF's) returns the palette's colours: what must not be taken for the labels.
    decoded = tf.io.decode_png(tf.io.read_file(str(tmp_path / "m.png"))).numpy()
    assert decoded.shape[-1] == 3 and not np.array_equal(decoded[..., 0], mask)


def test_an_rgb_mask_is_refused(tmp_path):
    _, mask = example(np.random.default_rng(0), (20, 30))
    Image.fromarray(np.stack([mask] * 3, -1)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="is a RGB image, not class indices"):
        read_png_mask(str(tmp_path / "rgb.png"))


def test_sbd_masks_round_trip(tmp_path):
    _, mask = example(np.random.default_rng(1), (25, 17))
    save_sbd_mask(str(tmp_path / "a.mat"), mask)
    np.testing.assert_array_equal(read_sbd_mask(str(tmp_path / "a.mat")), mask)


def test_check_mask_names_the_fault():
    mask = np.zeros((4, 5), np.uint8)
    mask[0, 0] = VOID
    check_mask(mask, (4, 5, 3), "m.png")
    with pytest.raises(ValueError, match="m.png is 5x4 pixels, its image 6x4"):
        check_mask(mask, (4, 6, 3), "m.png")
    mask[1, 1] = 21
    with pytest.raises(ValueError, match="holds label 21: a VOC mask holds 0..20 and 255"):
        check_mask(mask, (4, 5, 3), "m.png")


def test_voc_alone_tests_on_val(tmp_path):
    write_voc2012(tmp_path)
    splits, test_name = VOCSegmentationSource(str(tmp_path / "VOCdevkit")).splits()
    assert test_name == "val"
    assert [e.id for e in splits["test"]] == [f"2008_{i:06d}" for i in range(6, 10)]
    assert [e.id for e in splits["train"]] == [f"2008_{i:06d}" for i in range(6)]
    assert {e.kind for e in splits["train"]} == {"png"}


def test_sbd_adds_its_train_images_but_no_test_image(tmp_path):
    write_voc2012(tmp_path)
    # SBD lists a VOC train image (the devkit's mask wins), a val image (left out) and three of its own.
    write_sbd(tmp_path, ["2008_000001", "2008_000007"])
    for sbd in ("benchmark_RELEASE", os.path.join("benchmark_RELEASE", "dataset")):
        splits, test_name = VOCSegmentationSource(str(tmp_path / "VOCdevkit"), str(tmp_path / sbd)).splits()
        assert test_name == "val"
        train = {e.id: e.kind for e in splits["train"]}
        assert train["2008_000001"] == "png" and "2008_000007" not in train
        assert sorted(i for i, kind in train.items() if kind == "mat") == [f"2007_{i:06d}" for i in range(3)]
        assert len(train) == 9


def test_seg11valid_from_voc2011_and_sbd_or_from_its_list(tmp_path):
    write_voc2012(tmp_path, year="VOC2011")
    write_sbd(tmp_path, ["2008_000006", "2008_000008"])
    source = VOCSegmentationSource(str(tmp_path / "VOCdevkit"), str(tmp_path / "benchmark_RELEASE"))
    splits, test_name = source.splits()
    # VOC2011 val without SBD's train images.
    assert test_name == SEG11VALID and [e.id for e in splits["test"]] == ["2008_000007", "2008_000009"]
    assert "2008_000006" in {e.id for e in splits["train"]}
    listed = tmp_path / "VOCdevkit" / "VOC2011" / "ImageSets" / "Segmentation" / "seg11valid.txt"
    listed.write_text("2008_000009\n")
    splits, test_name = VOCSegmentationSource(str(tmp_path / "VOCdevkit")).splits()
    assert test_name == SEG11VALID and [e.id for e in splits["test"]] == ["2008_000009"]


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(SettingError, match="voc_seg_dataset.*no such directory"):
        VOCSegmentationSource(str(tmp_path / "nothing"))
    with pytest.raises(SettingError, match="is no VOC segmentation folder"):
        VOCSegmentationSource(str(tmp_path))
    write_voc2012(tmp_path)
    write_sbd(tmp_path, [])
    os.remove(tmp_path / "benchmark_RELEASE" / "dataset" / "train.txt")
    with pytest.raises(SettingError, match="sbd_dir.*has no list of its images: no train.txt"):
        VOCSegmentationSource(str(tmp_path / "VOCdevkit"), str(tmp_path / "benchmark_RELEASE"))
    os.remove(tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2008_000003.png")
    with pytest.raises(SettingError, match="train.txt lists 2008_000003, which has no .*2008_000003.png"):
        VOCSegmentationSource(str(tmp_path / "VOCdevkit")).splits()


def test_the_dataset_gives_whole_images_and_their_masks(tmp_path):
    masks = write_voc2012(tmp_path)
    masks.update(write_sbd(tmp_path, [], extra=2))
    splits, _ = VOCSegmentationSource(str(tmp_path / "VOCdevkit"), str(tmp_path / "benchmark_RELEASE")).splits()
    report = SkipReport()
    test = list(segmentation_dataset(splits["test"], report, training=False))
    assert len(test) == 4
    for (image, mask), expected in zip(test, splits["test"]):
        assert image.shape[:3] == (1,) + masks[expected.id].shape and image.dtype == tf.float32
        np.testing.assert_array_equal(mask[0].numpy(), masks[expected.id])
        assert -1.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0
    train = segmentation_dataset(splits["train"], report, training=True, seed=3)
    seen = [mask[0].numpy() for _, mask in train.take(16)]
    # Repeated, shuffled, and the SBD masks read from their .mat files.
    assert any(np.array_equal(m, masks["2007_000001"]) for m in seen)


def test_a_bad_mask_ends_the_pipeline_with_its_name(tmp_path):
    write_voc2012(tmp_path, train=2, val=2)
    bad = tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2008_000002.png"
    save_png_mask(bad, np.zeros((7, 7), np.uint8))
    splits, _ = VOCSegmentationSource(str(tmp_path / "VOCdevkit")).splits()
    report = SkipReport()
    with pytest.raises(SettingError, match=r"voc_seg_dataset=.*2008_000002.png.*is 7x7 pixels, its image"):
        with report.raise_setting_errors():
            list(segmentation_dataset(splits["test"], report, training=False))


def test_max_side_shrinks_images_and_masks_alike(tmp_path):
    masks = write_voc2012(tmp_path, train=1, val=2)
    splits, _ = VOCSegmentationSource(str(tmp_path / "VOCdevkit")).splits()
    for (image, mask), example in zip(segmentation_dataset(splits["test"], SkipReport(), training=False, max_side=20),
                                      splits["test"]):
        height, width = masks[example.id].shape
        scale = 20 / max(height, width)
        assert image.shape[1:3] == mask.shape[1:3] == (round(height * scale), round(width * scale))
        # Nearest-neighbour labels: no new value appears.
        assert set(np.unique(mask.numpy())) <= set(np.unique(masks[example.id]))
