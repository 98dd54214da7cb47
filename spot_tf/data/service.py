"""tf.data service: its servers, the address of the ``data_service`` setting, and the distribute step.

Decoding and augmenting ImageNet JPEGs takes 10-15 CPU cores per GPU; the tf.data service moves that
work to worker processes on other hosts. A dispatcher hands out the splits of the input (the files
and records of a pass) to its workers; the trainers read the workers' outputs. ``make_dataset`` runs
the same decode and augmentation on the workers that it runs locally (see pipeline.py), and
``spot-tf-data-service`` (data_service_cli.py) starts the servers of a cluster.

    with local_service(num_workers=2) as service:     # a dispatcher and 2 workers in this process
        dataset = make_dataset(..., data_service=service.address, service_job="name")

What stays exact through the service: each pass reads every record once across all the pipelines of
a job; each image is decoded and augmented by the local pipeline's code, seeded by the run's seed
and its position in its worker's stream; a resumed fit() reads a new job seeded by the step it
resumes at, as locally. Which worker reads which file depends on timing, so with several workers a
step's images are another draw than the local pipeline's; with one worker and op determinism on
(in the worker's process too) they are the same batches, bit for bit.
"""

import contextlib
import re
import socket

import tensorflow as tf

from spot_tf.errors import SettingError

PROTOCOL = "grpc"
_ADDRESS = re.compile(r"^grpc://(?P<host>[^:/\s]+|\[[0-9a-fA-F:.]+\]):(?P<port>\d{1,5})$")
# How long the trainer waits for the dispatcher before giving up (at start, see check_reachable).
CONNECT_TIMEOUT_S = 10.0
# How often a worker tells the dispatcher it is alive and learns of new jobs (TensorFlow's default,
# 30 s, would keep each fit() waiting that long for its first batch).
HEARTBEAT_MS = 500
# How long the dispatcher waits for a silent worker before it stops giving it tasks (TensorFlow's
# default, 10 min, would have new jobs wait on a worker that has left).
WORKER_TIMEOUT_MS = 10_000
# Elements a worker sends per request. Each request costs the trainer about as much CPU as copying
# the element does; blocks of 32 took the trainer's share from 0.68 to 0.41 CPU ms per 128 px image
# (benchmarks/bench_input.py --data_service_workers, see README).
TRANSFER_BLOCK = 32


def parse_address(address):
    """``(host, port)`` of a ``grpc://HOST:PORT`` address; raises a SettingError naming ``data_service``."""
    match = _ADDRESS.match(address or "")
    if not match or not 0 < int(match["port"]) < 65536:
        raise SettingError("data_service", address, "expected grpc://HOST:PORT (a tf.data service "
                           "dispatcher, see spot-tf-data-service)")
    return match["host"].strip("[]"), int(match["port"])


def check_reachable(address, timeout=CONNECT_TIMEOUT_S):
    """Raises a SettingError naming ``data_service`` unless a dispatcher's port accepts a connection.

    tf.data retries an unreachable dispatcher for as long as an hour; the trainer asks first.

    Args:
      address: ``grpc://HOST:PORT``.
      timeout: seconds to wait for the connection.
    """
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise SettingError("data_service", address,
                           f"no tf.data service dispatcher answers there ({e.strerror or e})") from None


def start_dispatcher(port=0, work_dir=None):
    """A started ``tf.data.experimental.service.DispatchServer``.

    Args:
      port: the port to serve on (0: any free one; its ``target`` tells which).
      work_dir: where the dispatcher journals its state: with one, a dispatcher restarted on the same
        work_dir resumes the jobs it had (fault-tolerant mode); without, its state lives in memory.
    """
    config = tf.data.experimental.service.DispatcherConfig(
        port=port, protocol=PROTOCOL, work_dir=work_dir, fault_tolerant_mode=work_dir is not None,
        worker_timeout_ms=WORKER_TIMEOUT_MS)
    return tf.data.experimental.service.DispatchServer(config)


def start_worker(dispatcher, port=0, host="localhost"):
    """A started ``tf.data.experimental.service.WorkerServer``; it may join a job already running.

    Args:
      dispatcher: the dispatcher's ``HOST:PORT`` (a ``grpc://`` prefix is dropped).
      port: the port to serve on (0: any free one).
      host: the name under which trainers reach this worker (the dispatcher hands it to them).
    """
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=dispatcher.removeprefix(PROTOCOL + "://"), worker_address=f"{host}:%port%",
        port=port, protocol=PROTOCOL, heartbeat_interval_ms=HEARTBEAT_MS)
    return tf.data.experimental.service.WorkerServer(config)


class LocalService:
    """A dispatcher and its workers in this process (see ``local_service``).

    Args:
      dispatcher: the ``DispatchServer``.
      workers: its ``WorkerServer``s.
    """

    def __init__(self, dispatcher, workers):
        self.dispatcher = dispatcher
        self.workers = workers

    @property
    def address(self):
        """The ``data_service`` setting that reaches this service: ``grpc://localhost:PORT``."""
        return self.dispatcher.target

    def add_worker(self):
        """Starts one more worker; it joins the jobs already running."""
        self.workers.append(start_worker(self.address))
        return self.workers[-1]

    def stop_worker(self, index=-1):
        """Stops one worker (the newest by default): its share of the job goes to the others."""
        self.workers.pop(index)._stop()

    def stop(self):
        """Stops the workers, then the dispatcher."""
        while self.workers:
            self.stop_worker()
        self.dispatcher._stop()


@contextlib.contextmanager
def local_service(num_workers, work_dir=None):
    """A tf.data service on localhost for the duration of the block: a dispatcher and ``num_workers``.

    The servers run on threads of this process, on its cores: a test or a benchmark of the service
    path, not a way to add input cores.

    Args:
      num_workers: how many workers to start (more may be added with ``add_worker``).
      work_dir: the dispatcher's journal (see ``start_dispatcher``).

    Yields:
      A ``LocalService``; its ``address`` is the ``data_service`` setting.
    """
    service = LocalService(start_dispatcher(work_dir=work_dir), [])
    try:
        for _ in range(num_workers):
            service.add_worker()
        yield service
    finally:
        service.stop()


def job_name(run, phase, start_step):
    """The service job of one fit(): shared by every trainer of the run, new at each start step.

    Args:
      run: the run's folder (``model_dir``, as every trainer of the run names it).
      phase: the phase's folder name ("autoencoder", "spot", "linear_eval", ...).
      start_step: the step the fit() starts at: a resumed fit() reads a fresh job, seeded by it.
        (A rerun at the same step while the dispatcher still holds the first attempt's job, which
        it drops a few minutes after its last reader, reads on in that job.)
    """
    return f"spot_tf:{run}:{phase}:{start_step}"


def distribute(dataset, address, job):
    """``dataset`` run on the service's workers, each split of a pass handed to one of them.

    Dynamic sharding ("distributed_epoch"): the dispatcher hands the files (or records) of each pass
    to whichever worker asks next, so workers may join and leave, and the trainers sharing ``job``
    read every record once per pass between them, in an order that depends on the workers' timing.
    Uncompressed: the trainer's cores are what the service frees, and decompressing float pixels
    cost them 0.6-0.9 ms per 128 px image (5.6-5.9 against 5.0-5.1 CPU ms per image in all). Sent in
    blocks of ``TRANSFER_BLOCK`` elements, unbatched on arrival: the same elements in the same order.

    Args:
      dataset: what the workers produce (its graph is sent to them).
      address: ``grpc://HOST:PORT`` of the dispatcher.
      job: the job's name (see ``job_name``).
    """
    return dataset.batch(TRANSFER_BLOCK).apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.DYNAMIC, service=address,
        job_name=job, compression=None)).unbatch()
