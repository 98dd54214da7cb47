"""Tests of spot_tf/data/service.py, and of make_dataset through a tf.data service on localhost."""

import collections
import socket

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from spot_tf.data import SkipReport
from spot_tf.data import make_dataset
from spot_tf.data import service
from spot_tf.errors import SettingError
from test_data_imagenet_tfrecord import jpeg
from test_data_imagenet_tfrecord import raw_example
from test_data_imagenet_tfrecord import write_records
from test_data_imagenet_tfrecord import write_split

SIZE = 32


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(name="records")
def fixture_records(tmp_path):
    """train-*: 12 images (labels 1..12) in 4 files, and a fifth file of one corrupt image."""
    write_split(tmp_path, "train", list(range(1, 13)), num_files=4)
    write_records(tmp_path / "train-00004-of-00005", [raw_example(b"\xff\xd8 corrupt jpeg", 13)])
    return str(tmp_path / "train-*")


@pytest.fixture(name="op_determinism")
def fixture_op_determinism():
    tf.config.experimental.enable_op_determinism()
    yield
    tf_config.disable_op_determinism()  # Process-wide: the other tests run without it.


def test_addresses_are_grpc_host_port():
    assert service.parse_address("grpc://localhost:5050") == ("localhost", 5050)
    assert service.parse_address("grpc://10.0.0.7:1") == ("10.0.0.7", 1)
    assert service.parse_address("grpc://[::1]:5050") == ("::1", 5050)
    for bad in ("localhost:5050", "grpc://localhost", "http://h:5050", "grpc://h:99999", "grpc://h:50/x", ""):
        with pytest.raises(SettingError, match=r"^data_service=.*expected grpc://HOST:PORT"):
            service.parse_address(bad)


def test_an_unreachable_dispatcher_is_named_at_once():
    address = f"grpc://127.0.0.1:{closed_port()}"
    with pytest.raises(SettingError, match=rf"^data_service='{address}': no tf.data service dispatcher answers"):
        service.check_reachable(address, timeout=2)
    with service.local_service(num_workers=0) as local:
        service.check_reachable(local.address)


def test_job_names_differ_by_run_phase_and_start_step():
    names = {service.job_name(run, phase, step) for run in ("/a", "/b") for phase in ("autoencoder", "spot")
             for step in (0, 5)}
    assert len(names) == 8


def _service_dataset(spec, address, job, batch_size=4, **kwargs):
    return make_dataset(spec, "unsupervised", SIZE, batch_size, training=True, seed=3, with_labels=True,
                        data_service=address, service_job=job, **kwargs)


def test_one_worker_gives_the_local_batches_in_a_fixed_order(records, op_determinism):
    # With a fixed order of the input stages (--deterministic) both read the same stream: same files,
    # same positions, so the same seeds and crops. Several workers share the files out by timing.
    local = make_dataset(records, "unsupervised", SIZE, 4, training=True, seed=3, with_labels=True)
    with service.local_service(num_workers=1) as local_service:
        served = _service_dataset(records, local_service.address, "fixed")
        for (images, labels), (served_images, served_labels) in zip(local.take(4), served.take(4)):
            np.testing.assert_array_equal(labels, served_labels)
            np.testing.assert_array_equal(images, served_images)


def test_trainers_sharing_a_job_read_each_record_once_per_pass_and_count_the_skips(records):
    report = SkipReport()
    with service.local_service(num_workers=2) as local:
        # Two trainers' pipelines (batch 1, one pass) read one job in turns.
        readers = [iter(_service_dataset(records, local.address, "shared", batch_size=1, repeat=False,
                                         skip_report=report)) for _ in range(2)]
        seen = [[], []]
        while readers:
            for index, reader in enumerate(list(readers)):
                try:
                    seen[index].append(int(next(reader)[1][0]))
                except StopIteration:
                    readers.remove(reader)
    # Between them, every record once (labels 1..12, 0-based): separate jobs would each read all 12.
    # How many each gets depends on timing (the first to ask may prefetch them all).
    assert collections.Counter(seen[0] + seen[1]) == collections.Counter(range(12))
    assert report.per_file() == {records.replace("*", "00004-of-00005"): 1}


def test_a_phase_reads_on_when_workers_leave_and_join(records):
    with service.local_service(num_workers=2) as local:
        batches = iter(_service_dataset(records, local.address, "elastic"))
        for _ in range(3):
            next(batches)
        local.stop_worker()
        for _ in range(10):
            images, _ = next(batches)
        local.add_worker()
        local.stop_worker(0)
        for _ in range(10):
            images, _ = next(batches)
    assert images.shape == (4, SIZE, SIZE, 3)


def test_a_split_with_no_image_that_decodes_is_fatal_through_the_service(tmp_path):
    write_records(tmp_path / "train-00000-of-00001",
                  [raw_example(jpeg()[:40], 1), raw_example(b"\xff\xd8 corrupt jpeg", 2)])
    report = SkipReport()
    with service.local_service(num_workers=1) as local:
        dataset = _service_dataset(str(tmp_path / "train-*"), local.address, "barren", skip_report=report)
        with pytest.raises(SettingError, match=r"split 'unsupervised' has no image that decodes"):
            with report.raise_setting_errors():
                next(iter(dataset))


def test_the_service_serves_training_batches_of_a_named_job(records):
    for kwargs in (dict(training=False, service_job="j"), dict(training=True, service_job=None)):
        with pytest.raises(ValueError, match="data_service serves training batches"):
            make_dataset(records, "unsupervised", SIZE, 4, data_service="grpc://localhost:1", **kwargs)
