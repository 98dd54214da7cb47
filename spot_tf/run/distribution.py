"""tf.distribute helpers: the strategy of a run, replica ids and cross-replica sums."""
import json
import os

import tensorflow as tf

from spot_tf.errors import SettingError
from spot_tf.settings import STRATEGIES


def make_strategy(name, devices=None):
    """Returns the tf.distribute strategy named by the `strategy` setting.

    Args:
        name: "default" (one device), "mirrored" (all local GPUs, or `devices`), or "multi_worker"
            (MultiWorkerMirroredStrategy; reads TF_CONFIG, which must be set before this call).
        devices: Devices for "mirrored" (e.g. ["CPU:0", "CPU:1"] in tests).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise SettingError("strategy", name, "needs the TF_CONFIG environment variable (cluster and task "
                               "of this worker)")
        json.loads(os.environ["TF_CONFIG"])
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise SettingError("strategy", name, f"must be one of {', '.join(STRATEGIES)}")


def is_multi_worker(strategy):
    """Whether `strategy` spans several workers (its collectives need every worker)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy):
    """Whether this worker writes checkpoints, summaries and exports (worker 0, or the only one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0
                                            and "chief" not in resolver.cluster_spec().as_dict())


def replica_id():
    """This replica's index over all workers (0 outside a strategy)."""
    rid = tf.distribute.get_replica_context().replica_id_in_sync_group
    return tf.cast(rid, tf.int64)


def num_replicas():
    """Replicas in sync (1 outside a strategy): per-replica loss shares are divided by it."""
    return tf.distribute.get_replica_context().num_replicas_in_sync


def scalar_value(variable):
    """A scalar (possibly mirrored) variable as a Python number, e.g. the global step."""
    return tf.convert_to_tensor(variable).numpy().item()
