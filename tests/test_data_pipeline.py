"""Tests of spot_tf/data/pipeline.py: the public make_dataset / describe_dataset."""

import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from spot_tf.data import DatasetInfo
from spot_tf.data import SkipReport
from spot_tf.data import describe_dataset
from spot_tf.data import make_dataset
from spot_tf.data import preprocessing
from spot_tf.data import probe_views
from spot_tf.errors import SettingError
from test_data_decode import noise_jpeg
from test_data_image_folder import make_image_folder
from test_data_imagenet_tfrecord import cut_in_half
from test_data_imagenet_tfrecord import jpeg
from test_data_imagenet_tfrecord import raw_example
from test_data_imagenet_tfrecord import write_records
from test_data_imagenet_tfrecord import write_split

SIZE = 32


@pytest.fixture(name="mixed_records")
def fixture_mixed_records(tmp_path):
    """train-*: full schema, TPU variant, greyscale JPEG, PNG and one corrupt image (labels 1..6)."""
    png = tf.io.encode_png(np.zeros((30, 20, 4), np.uint8)).numpy()
    write_split(tmp_path, "train", [1, 2])
    write_records(tmp_path / "train-00002-of-00003", [
        raw_example(jpeg(), 3, **{"image/class/synset": b"n3"}),  # TPU variant.
        raw_example(jpeg(channels=1), 4),
        raw_example(png, 5),
        raw_example(b"\xff\xd8 corrupt jpeg", 6),
    ])
    write_split(tmp_path, "validation", [1, 2, 3], num_files=1)
    return str(tmp_path)


def _labels(dataset):
    return sorted(int(label) for _, labels in dataset for label in labels)


def test_eval_reads_everything_but_the_corrupt_image(mixed_records):
    report = SkipReport()
    dataset = make_dataset(mixed_records, "train", SIZE, 4, training=False, with_labels=True,
                           skip_report=report)
    batches = list(dataset)
    assert [len(labels) for _, labels in batches] == [4, 1]  # The remainder is kept.
    assert _labels(batches) == [0, 1, 2, 3, 4]
    assert report.per_file() == {os.path.join(mixed_records, "train-00002-of-00003"): 1}
    images = np.concatenate([images for images, _ in batches])
    assert images.shape == (5, SIZE, SIZE, 3) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1


def test_strict_decode_names_the_file(mixed_records):
    dataset = make_dataset(mixed_records, "train", SIZE, 4, training=False, strict_decode=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="train-00002-of-00003"):
        list(dataset)


def test_training_batches_repeat_and_drop_remainder(mixed_records):
    dataset = make_dataset(mixed_records, "unsupervised", SIZE, 3, training=True, seed=1)
    assert dataset.element_spec.shape == (3, SIZE, SIZE, 3)
    batches = list(dataset.take(6))  # 18 images from a split of 5 good ones: it repeats.
    assert all(-1 <= b.numpy().min() and b.numpy().max() <= 1 for b in batches)
    once = make_dataset(mixed_records, "train", SIZE, 3, training=True, repeat=False)
    assert sum(1 for _ in once) == 1  # 5 images -> one full batch.


def test_input_context_shards_and_batches_per_replica(tmp_path):
    write_split(tmp_path, "train", list(range(1, 17)), num_files=4)
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(2, pipeline_id, 2)
        dataset = make_dataset(str(tmp_path / "train-*"), "train", SIZE, 8, training=False,
                               with_labels=True, input_context=context)
        assert all(len(labels) == 4 for _, labels in dataset)
        seen.append(set(_labels(dataset)))
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(16))


def test_image_folder(tmp_path):
    count = make_image_folder(tmp_path, copies=4)
    info = describe_dataset(str(tmp_path))
    assert info.kind == "folder" and info.num_classes == 2
    assert sum(info.num_examples[s] for s in ("train", "test")) == count
    labels = _labels(make_dataset(str(tmp_path), "test", SIZE, 8, training=False, with_labels=True))
    assert len(labels) == info.num_examples["test"]


def test_tfds(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        info = describe_dataset("tfds:stl10", tfds_data_dir=str(tmp_path))
        assert info.location["unsupervised"] == "tfds:stl10/unlabelled"
        batch = next(iter(make_dataset("tfds:stl10", "unsupervised", SIZE, 4, training=True,
                                       tfds_data_dir=str(tmp_path))))
    assert batch.shape == (4, SIZE, SIZE, 3)


def test_demo(tmp_path):
    info = describe_dataset("demo", cache_dir=str(tmp_path))
    assert isinstance(info, DatasetInfo) and info.kind == "demo" and info.num_classes == 8
    images, labels = next(iter(make_dataset("demo", "train", SIZE, 8, training=True,
                                            cache_dir=str(tmp_path), with_labels=True)))
    assert images.shape == (8, SIZE, SIZE, 3) and labels.dtype == tf.int32
    assert set(labels.numpy()) <= set(range(8))


def test_bad_inputs_are_named(tmp_path):
    missing = str(tmp_path / "nothing-*")
    empty = tmp_path / "empty"
    empty.mkdir()
    no_image = str(tmp_path / "bad" / "train-00000-of-00001")
    os.makedirs(os.path.dirname(no_image))
    write_records(no_image, [raw_example(None, 1, **{"image/format": b"JPEG"})])
    cases = [(missing, "nothing-"), (str(empty), "empty"),
             ("tfds:no_such_dataset_xyz", "no_such_dataset_xyz"),
             (no_image, "image/encoded"), ("", "dataset='': is empty")]
    for spec, name in cases:
        with pytest.raises(SettingError, match=name) as error:
            describe_dataset(spec)
        assert error.value.setting == "dataset" and error.value.value == spec
        with pytest.raises(SettingError, match=name):
            make_dataset(spec, "train", SIZE, 4, training=True)
    with pytest.raises(FileNotFoundError):  # What callers caught before.
        describe_dataset(missing)
    with pytest.raises(ValueError, match="bogus"):
        make_dataset(str(tmp_path), "bogus", SIZE, 4, training=True)


def test_truncated_shard_is_skipped_and_named(tmp_path):
    write_split(tmp_path, "train", [1, 2, 3, 4, 5, 6], num_files=2)
    cut = str(tmp_path / "train-00001-of-00002")
    cut_in_half(cut)  # Keeps one whole record of three.
    report = SkipReport()
    labels = _labels(make_dataset(str(tmp_path), "train", SIZE, 4, training=False,
                                  with_labels=True, skip_report=report))
    assert labels == [0, 1, 2, 3]
    assert list(report.cut_short) == [cut] and report.total == 0
    assert cut in report.summary()
    strict = make_dataset(str(tmp_path), "train", SIZE, 4, training=False, strict_decode=True,
                          skip_report=report)
    with pytest.raises(SettingError, match=f"shard {cut} is truncated or corrupt "
                                           r"\(1 records read, .* bytes\)") as error:
        with report.raise_setting_errors():
            list(strict)
    assert isinstance(error.value, ValueError) and error.value.setting == "dataset"


@pytest.mark.parametrize("training", [False, True])
def test_split_with_no_image_that_decodes_is_named(tmp_path, training):
    write_split(tmp_path, "train", [1, 2])
    write_records(tmp_path / "validation-00000-of-00001",
                  [raw_example(b"not an image", 1), raw_example(b"", 2)])
    report = SkipReport()
    dataset = make_dataset(str(tmp_path), "test", SIZE, 4, training=training, skip_report=report)
    # What taking a fixed batch of test images did: a bare StopIteration (or, training, a hang).
    with pytest.raises(SettingError, match=r"split 'test' has no image that decodes \("):
        with report.raise_setting_errors():
            next(iter(dataset))
    assert report.per_file() == {str(tmp_path / "validation-00000-of-00001"): 2}


def test_skips_are_counted_per_file_across_epochs(mixed_records):
    write_records(os.path.join(mixed_records, "train-00003-of-00003"),
                  [raw_example(b"broken", 7), raw_example(b"broken too", 8)])
    report = SkipReport()
    dataset = make_dataset(mixed_records, "train", SIZE, 2, training=True, skip_report=report)
    list(dataset.take(12))  # 24 images: more than three passes over 5 good ones.
    assert report.per_file() == {os.path.join(mixed_records, "train-00002-of-00003"): 1,
                                 os.path.join(mixed_records, "train-00003-of-00003"): 2}
    assert report.total == 3 and report.summary().startswith("3 images skipped")


def test_fused_decode_gives_the_same_training_images(tmp_path):
    write_records(tmp_path / "train-00000-of-00001", [
        raw_example(noise_jpeg(height=40 + 7 * i, width=90 - 5 * i), i + 1) for i in range(8)])

    def images(fused):
        # One shard and a seeded shuffle: each image gets the same example seed in both runs.
        dataset = make_dataset(str(tmp_path), "train", SIZE, 4, training=True, repeat=False,
                               seed=3, fused_decode=fused)
        return sorted(image.tobytes() for batch in dataset for image in batch.numpy())

    fused = images(True)
    assert len(fused) == 8 and fused == images(False)


def test_fused_decode_reads_png_and_skips_what_does_not_decode(mixed_records):
    cut_short = os.path.join(mixed_records, "train-00003-of-00003")
    write_records(cut_short, [raw_example(noise_jpeg()[:-100], 7)])
    report = SkipReport()
    dataset = make_dataset(mixed_records, "train", SIZE, 1, training=True, repeat=False,
                           with_labels=True, skip_report=report, fused_decode=True)
    assert _labels(dataset) == [0, 1, 2, 3, 4]  # 4 is the PNG.
    assert report.per_file() == {os.path.join(mixed_records, "train-00002-of-00003"): 1,
                                 cut_short: 1}


PROBE_SIZE = 24


def _noise_folder(root, per_class=3):
    """root/{train,test}/{a,b}/*.png of noise (lossless, so a crop tells where it was cut)."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in ("a", "b"):
            os.makedirs(root / split / name)
            for i in range(per_class):
                shape = (20 + 3 * i, 30 - 2 * i, 3)
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
                    root / split / name / f"{i}.png")
    return str(root)


def _decoded(path):
    return tf.constant(np.asarray(Image.open(path).convert("RGB")))


@pytest.mark.parametrize("protocol", sorted(probe_views.PROTOCOLS))
def test_probe_training_batches_are_reproducible(tmp_path, protocol):
    # One shard and a seeded shuffle: each image gets the same example seed in every run.
    write_records(tmp_path / "train-00000-of-00001", [
        raw_example(noise_jpeg(height=20 + 3 * i, width=30 - 2 * i), i + 1) for i in range(6)])

    def train(seed):
        dataset = make_dataset(str(tmp_path), "train", PROBE_SIZE, 3, training=True, seed=seed,
                               repeat=False, with_labels=True, probe_protocol=protocol)
        assert dataset.element_spec[0].shape == (3, PROBE_SIZE, PROBE_SIZE, 3)
        examples = [(int(label), image) for images, labels in dataset
                    for image, label in zip(images.numpy(), labels.numpy())]
        assert all(-1 <= image.min() and image.max() <= 1 for _, image in examples)
        return sorted((label, image.tobytes()) for label, image in examples)

    first = train(1)
    assert [label for label, _ in first] == [0, 1, 2, 3, 4, 5]
    assert train(1) == first
    assert train(2) != first


@pytest.mark.parametrize("protocol", sorted(probe_views.PROTOCOLS))
def test_probe_test_views(tmp_path, protocol):
    folder = _noise_folder(tmp_path)
    central = list(make_dataset(folder, "test", PROBE_SIZE, 4, training=False, with_labels=True,
                                probe_protocol=protocol))
    ten = list(make_dataset(folder, "test", PROBE_SIZE, 4, training=False, with_labels=True,
                            probe_protocol=protocol, ten_crop=True))
    assert [images.shape for images, _ in central] == [(4, PROBE_SIZE, PROBE_SIZE, 3),
                                                       (2, PROBE_SIZE, PROBE_SIZE, 3)]
    assert [images.shape for images, _ in ten] == [(4, 10, PROBE_SIZE, PROBE_SIZE, 3),
                                                   (2, 10, PROBE_SIZE, PROBE_SIZE, 3)]
    assert _labels(central) == _labels(ten) == [0, 0, 0, 1, 1, 1]
    # Test images in file order: the first is a/0.png.
    first_test = _decoded(tmp_path / "test" / "a" / "0.png")
    np.testing.assert_array_equal(
        central[0][0][0], probe_views.central_view(first_test, PROBE_SIZE, protocol))
    np.testing.assert_array_equal(
        ten[0][0][0], probe_views.ten_crop_view(first_test, PROBE_SIZE, protocol))
    # The central crop is the fifth of the ten.
    np.testing.assert_array_equal(ten[0][0][:, 4], central[0][0])


def _one_image_folder(root, splits=("train",)):
    image = np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    for split in splits:
        os.makedirs(root / split / "a")
        Image.fromarray(image).save(root / split / "a" / "only.png")
    return str(root), tf.constant(image)


def test_probe_train_view_is_seeded_by_run_and_position(tmp_path):
    folder, image = _one_image_folder(tmp_path)
    for seed in (7, 8):
        # The example seed is (run seed and pipeline, position in the stream): (seed, 0) here.
        (batch,) = make_dataset(folder, "train", PROBE_SIZE, 1, training=True, seed=seed,
                                repeat=False, probe_protocol="splitbrain")
        np.testing.assert_array_equal(batch[0], probe_views.train_view(
            image, PROBE_SIZE, "splitbrain", tf.constant([seed, 0], tf.int64)))
    # Each pass over the image draws a new crop, all from the stream positions' seeds.
    repeated = make_dataset(folder, "train", PROBE_SIZE, 1, training=True, seed=7,
                            probe_protocol="splitbrain")
    outputs = {batch[0].numpy().tobytes() for batch in repeated.take(4)}
    views = {probe_views.train_view(image, PROBE_SIZE, "splitbrain",
                                    tf.constant([7, i], tf.int64)).numpy().tobytes()
             for i in range(40)}
    assert len(outputs) == 4 and outputs <= views


def test_without_probe_protocol_the_reference_preprocessing_is_kept(tmp_path):
    folder, image = _one_image_folder(tmp_path, ("train", "test"))
    (train,) = make_dataset(folder, "train", SIZE, 1, training=True, seed=7, repeat=False)
    np.testing.assert_array_equal(
        train[0], preprocessing.preprocess_train(image, SIZE, tf.constant([7, 0], tf.int64)))
    (test,) = make_dataset(folder, "test", SIZE, 1, training=False)
    # Of an image whose shape is known only when it runs, as a decoded one: tf.image.central_crop
    # rounds a static shape's offsets otherwise (here 3 columns, not 2).
    preprocess_test = tf.function(lambda x: preprocessing.preprocess_test(x, SIZE),
                                  input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    np.testing.assert_allclose(test[0], preprocess_test(image), atol=1e-6)


def test_probe_settings_are_checked(tmp_path):
    folder = _noise_folder(tmp_path, per_class=1)
    with pytest.raises(ValueError, match="ten_crop.*training=True"):
        make_dataset(folder, "train", PROBE_SIZE, 2, training=True, probe_protocol="splitbrain",
                     ten_crop=True)
    with pytest.raises(ValueError, match="ten_crop.*probe_protocol=None"):
        make_dataset(folder, "test", PROBE_SIZE, 2, training=False, ten_crop=True)
    with pytest.raises(ValueError, match="probe_protocol='simclr'"):
        make_dataset(folder, "test", PROBE_SIZE, 2, training=False, probe_protocol="simclr")
    with pytest.raises(SettingError, match="eval_image_size=0") as error:
        make_dataset(folder, "train", 0, 2, training=True, probe_protocol="deepcluster")
    assert error.value.setting == "eval_image_size"


def test_probe_crops_may_exceed_256_px(tmp_path):
    """No upper limit: 300 px crops are cut from a larger image (probe_views.side)."""
    folder, image = _one_image_folder(tmp_path, ("train", "test"))
    (batch,) = make_dataset(folder, "test", 300, 1, training=False, probe_protocol="deepcluster")
    assert batch.shape == (1, 300, 300, 3)
    np.testing.assert_array_equal(batch[0], probe_views.central_view(image, 300, "deepcluster"))
