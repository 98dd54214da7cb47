"""The public entry points: ``describe_dataset`` and ``make_dataset``.

The ``dataset`` setting (the ``spec``) is one of: ``demo``; ``tfds:NAME``; a directory or file
pattern of ImageNet-schema TFRecords; a folder with one subfolder per class. Every source yields
encoded records; this module decodes, augments, drops (and reports, see skips.py) what does not
decode, batches and prefetches them.
"""

import os

import tensorflow as tf

from spot_tf.data import decode
from spot_tf.data import demo
from spot_tf.data import image_folder
from spot_tf.data import imagenet_tfrecord
from spot_tf.data import never_raise
from spot_tf.data import preprocessing
from spot_tf.data import probe_views
from spot_tf.data import records
from spot_tf.data import service
from spot_tf.data import skips
from spot_tf.data import tfds_source
from spot_tf.errors import SettingError
from spot_tf.errors import SettingPathError

TFDS_PREFIX = "tfds:"
DEMO = "demo"
_EXPECTED = "expected 'demo', 'tfds:NAME', a TFRecord pattern or directory, or an image folder"


def _looks_like_tfrecords(directory):
    return any(tf.io.gfile.glob(os.path.join(directory, prefix + "-*"))
               for prefix in sorted(records.all_split_names("tfrecord")))


def get_source(spec, tfds_data_dir=None, cache_dir=None):
    """The source object for a ``dataset`` setting; raises a SettingError if it names nothing readable.

    Args:
      spec: the ``dataset`` setting (see module docstring).
      tfds_data_dir: TFDS data directory for ``tfds:NAME``.
      cache_dir: cache root for ``demo`` (the ``data_cache_dir`` setting).
    """
    if not spec:
        raise SettingError("dataset", spec, f"is empty; {_EXPECTED}.")
    if spec == DEMO:
        return imagenet_tfrecord.TFRecordSource(demo.ensure_demo(cache_dir), kind=DEMO)
    if spec.startswith(TFDS_PREFIX):
        return tfds_source.TFDSSource(spec[len(TFDS_PREFIX):], data_dir=tfds_data_dir)
    if tf.io.gfile.isdir(spec) and not _looks_like_tfrecords(spec):
        return image_folder.ImageFolderSource(spec)
    if not tf.io.gfile.isdir(spec) and not tf.io.gfile.glob(spec):
        raise SettingPathError("dataset", spec, f"matches no file or directory ({_EXPECTED}).")
    return imagenet_tfrecord.TFRecordSource(spec)


def describe_dataset(spec, tfds_data_dir=None, cache_dir=None, splits=records.SPLITS):
    """Checks that every split in ``splits`` can be read and returns a ``DatasetInfo``.

    Call it before building any model: a bad ``dataset`` (nothing matches, empty folder, unknown
    TFDS name, records without ``image/encoded``) raises a SettingError (a ValueError; a
    SettingPathError, also a FileNotFoundError, for a path that names nothing) naming the setting.

    Args:
      spec, tfds_data_dir, cache_dir: as for ``get_source``.
      splits: the splits to check.
    """
    return get_source(spec, tfds_data_dir, cache_dir).describe(tuple(splits))


def _per_replica_batch(batch_size, input_context):
    if input_context is None:
        return batch_size
    return input_context.get_per_replica_batch_size(batch_size)


def make_dataset(spec, split, image_size, batch_size, training, seed=0, tfds_data_dir=None,
                 cache_dir=None, with_labels=False, input_context=None, strict_decode=False,
                 repeat=None, shuffle_buffer=1024, skip_report=None, fused_decode=False,
                 probe_protocol=None, ten_crop=False, data_service=None, service_job=None):
    """Batches of pre-processed images (and labels) of one split of ``spec``.

    Args:
      spec: the ``dataset`` setting (see module docstring).
      split: "unsupervised", "train" or "test".
      image_size: side of the square output images.
      batch_size: the GLOBAL batch size; with ``input_context`` each pipeline batches its replica's
        share.
      training: train augmentation, seeded shuffling, repeat, ``drop_remainder``; else the test
        pre-processing in file order, keeping the last partial batch.
      seed: seeds the file and record shuffles and the augmentation.
      tfds_data_dir: TFDS data directory for ``tfds:NAME``.
      cache_dir: cache root for ``demo``.
      with_labels: yield ``(images, labels)`` with int32 labels (0-based, -1 = unlabelled).
      input_context: a ``tf.distribute.InputContext``: read only this pipeline's shard.
      strict_decode: an image that does not decode, or a shard cut short, is a fatal error naming
        its file instead of being skipped and counted.
      repeat: repeat forever; defaults to ``training``.
      shuffle_buffer: records (still encoded) shuffled after the files are interleaved.
      skip_report: a ``SkipReport`` that counts what is skipped (one is made if None). A fatal fault
        (see skips.py; a split with no image that decodes always is) stops the iteration with an
        InvalidArgumentError; ``skip_report.raise_setting_errors()`` raises its SettingError instead.
      fused_decode: in training, decode only the crop of a JPEG: the same pixels as decoding it
        whole and cropping, but no faster (see README), and a JPEG corrupt in its scan data below
        the crop is used instead of skipped (see decode.py).
      probe_protocol: None for the reference pre-processing; else a linear-probe protocol (a key of
        ``probe_views.PROTOCOLS``): its random crop and flip in training, its central crop in test,
        of the protocol's square image (256 px at its own crop size, scaled with ``image_size``:
        ``probe_views.side``). ``fused_decode`` is ignored.
      ten_crop: test only, with ``probe_protocol``: each example is the protocol's ten crops.
      data_service: training only: ``grpc://HOST:PORT`` of a tf.data service dispatcher. Its workers
        read, decode, augment and tally the skips of the whole split (not this pipeline's shard),
        each record once per pass across every pipeline of the job (dynamic sharding); this
        pipeline counts the skips it receives and batches (see service.py for what stays exact).
      service_job: the service job's name (``service.job_name``): the pipelines of every trainer of
        one fit() share it, so that they share the passes.

    Returns:
      A ``tf.data.Dataset`` of float32 [B, S, S, 3] in [-1, 1] ([B, 10, S, S, 3] with ``ten_crop``)
      (or ``(images, labels)``).
    """
    records.check_split(split)
    if probe_protocol is not None:
        probe_views.get_protocol(probe_protocol)
        probe_views.check_crop_size(image_size)
    if ten_crop and (training or probe_protocol is None):
        raise ValueError("ten_crop is a test view of a probe_protocol: it needs training=False "
                         f"and a probe_protocol (got training={training}, "
                         f"probe_protocol={probe_protocol!r}).")
    if data_service and not (training and service_job):
        raise ValueError("data_service serves training batches of a named job: it needs "
                         f"training=True and a service_job (got training={training}, "
                         f"service_job={service_job!r}).")
    source = get_source(spec, tfds_data_dir, cache_dir)
    source.validate(split)
    # The service's workers run one dataset for all pipelines: the whole split, as if alone.
    read_context = None if data_service else input_context
    num_pipelines, pipeline_id = records.pipeline_index(read_context)
    if skip_report is None:
        skip_report = skips.SkipReport()

    dataset = source.records(split, training=training, seed=seed, input_context=read_context)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed + pipeline_id)
    dataset = skips.with_pass_ends(dataset)
    if training if repeat is None else repeat:
        dataset = dataset.repeat()

    def image_of(element):
        index, (record, _) = element
        # Stateless per-example seed: (run seed and pipeline, position in this pipeline's stream).
        example_seed = tf.stack([tf.constant(seed * num_pipelines + pipeline_id, tf.int64), index])
        if probe_protocol is not None:
            # The probe views resize the whole image first: decoding a crop would gain nothing.
            image = decode.decode_image(record["encoded"])
            if training:
                return probe_views.train_view(image, image_size, probe_protocol, example_seed)
            if ten_crop:
                return probe_views.ten_crop_view(image, image_size, probe_protocol)
            return probe_views.central_view(image, image_size, probe_protocol)
        if training:
            seeds = preprocessing.train_seeds(example_seed)
            crop = decode.decode_crop(
                record["encoded"], lambda shape: preprocessing.train_crop_window(shape, seeds),
                fused=fused_decode)
            return preprocessing.augment_train_crop(crop, image_size, seeds)
        return preprocessing.preprocess_test(decode.decode_image(record["encoded"]), image_size)

    def with_image(element, image, decoded):
        index, (record, end) = element
        # Not the encoded bytes: what follows needs only the image and where it came from.
        return {"image": image, "label": record["label"], "decoded": decoded, "end": end,
                "index": index, **{key: record[key] for key in ("file", "origin", "fault")}}

    dataset = never_raise.map_never_raising(dataset.enumerate(), image_of,
                                            num_parallel_calls=tf.data.AUTOTUNE,
                                            deterministic=not training).map(with_image)
    # Failed decodes are dropped after the map, where they can be counted (or be fatal): tallied
    # where they are decoded, reported where the SkipReport is.
    dataset = skips.tally(dataset, joinable=bool(data_service))
    if data_service:
        dataset = service.distribute(dataset, data_service, service_job)
    dataset = skips.drop_skipped(dataset, skip_report, spec, split, strict_decode)
    dataset = dataset.map(lambda e: (e["image"], e["label"]) if with_labels else e["image"])
    dataset = dataset.batch(_per_replica_batch(batch_size, input_context),
                            drop_remainder=training)
    return dataset.prefetch(tf.data.AUTOTUNE)
