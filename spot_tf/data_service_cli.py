"""Starts one server of a tf.data service for spot-tf: a dispatcher or a worker.

    spot-tf-data-service dispatcher --port=5050 --work_dir=/shared/dispatcher
    spot-tf-data-service worker --dispatcher=HOST:5050 --port=5051 --host=$(hostname)

Trainers then read with `spot-tf --data_service=grpc://HOST:5050 ...`: the workers decode and
augment their training images. A dispatcher with a --work_dir journals its state there, and one
restarted on it resumes the jobs it had. Workers may join and leave while trainers read. SIGTERM or
Ctrl-C stops the server; the first line on stdout says where it serves.
"""
import signal
import socket
import sys
import threading

from absl import app, flags

from spot_tf.errors import SettingError, fail

ROLES = ("dispatcher", "worker")
FLAGS = flags.FLAGS
flags.DEFINE_integer("port", 0, "Port to serve on (0: any free one, printed at start).", lower_bound=0,
                     upper_bound=65535)
flags.DEFINE_string("work_dir", None, "dispatcher: where it journals its state, to resume from after a restart "
                    "(fault-tolerant mode); without one its jobs live in memory.")
flags.DEFINE_string("dispatcher", None, "worker: the dispatcher's HOST:PORT (or grpc://HOST:PORT).")
flags.DEFINE_string("host", socket.gethostname(), "worker: the name under which trainers reach this host.")
flags.DEFINE_bool("deterministic", False, "worker: a fixed order of its input stages (trainers with "
                  "--deterministic and one worker then read what they would read alone; slower).")


def _serve(role):
    from spot_tf.data import service
    if role == "dispatcher":
        server = service.start_dispatcher(FLAGS.port, FLAGS.work_dir)
        address = server.target
    else:
        if not FLAGS.dispatcher:
            fail("--dispatcher: a worker needs its dispatcher's HOST:PORT")
        dispatcher = FLAGS.dispatcher if "://" in FLAGS.dispatcher else f"{service.PROTOCOL}://{FLAGS.dispatcher}"
        try:
            service.check_reachable(dispatcher)
        except SettingError as err:
            fail(f"--dispatcher={FLAGS.dispatcher}: {err.reason}")
        if FLAGS.deterministic:
            import tensorflow as tf
            tf.config.experimental.enable_op_determinism()
        server = service.start_worker(dispatcher, FLAGS.port, FLAGS.host)
        address = f"{FLAGS.host}:{server._address.rsplit(':', 1)[-1]}"
    return server, address


def main(argv):
    if len(argv) != 2 or argv[1] not in ROLES:
        fail(f"expected one role, {' or '.join(ROLES)} (got {' '.join(argv[1:]) or 'none'})")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    server, address = _serve(argv[1])
    print(f"{argv[1]} serving at {address}", flush=True)
    while not stop.wait(1.0):
        pass
    server._stop()
    print(f"{argv[1]} at {address} stopped", flush=True)


def run():
    """The console script `spot-tf-data-service`."""
    app.run(main, argv=sys.argv, flags_parser=_parse_flags)


def _parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as err:
        fail(str(err))
