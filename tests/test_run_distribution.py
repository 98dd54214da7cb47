import json

import pytest
import tensorflow as tf

from spot_tf.run.distribution import is_chief, make_strategy, num_replicas, replica_id, scalar_value


def test_default_strategy_is_one_chief_replica():
    strategy = make_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and is_chief(strategy)
    assert int(replica_id()) == 0 and num_replicas() == 1
    assert scalar_value(tf.Variable(7, dtype=tf.int64)) == 7


def test_bad_strategy_and_missing_tf_config(monkeypatch):
    with pytest.raises(ValueError, match="strategy='tpu'"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")


def test_replica_ids_counts_and_mirrored_steps_over_two_replicas(two_replicas):
    ids = two_replicas.experimental_local_results(two_replicas.run(replica_id))
    assert sorted(int(i) for i in ids) == [0, 1]
    counts = two_replicas.experimental_local_results(two_replicas.run(lambda: tf.constant(num_replicas())))
    assert [int(c) for c in counts] == [2, 2]
    assert is_chief(two_replicas)
    with two_replicas.scope():
        step = tf.Variable(3, dtype=tf.int64)
    assert scalar_value(step) == 3


def test_worker_zero_is_chief_without_a_chief_task():
    class Resolver:
        def __init__(self, task_type, task_id, cluster):
            self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

        def cluster_spec(self):
            return tf.train.ClusterSpec(self._cluster)

    class Strategy:
        def __init__(self, resolver):
            self.cluster_resolver = resolver

    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert is_chief(Strategy(Resolver("worker", 0, workers)))
    assert not is_chief(Strategy(Resolver("worker", 1, workers)))
    with_chief = {"chief": ["127.0.0.1:0"], **workers}
    assert not is_chief(Strategy(Resolver("worker", 0, with_chief)))
    assert is_chief(Strategy(Resolver("chief", 0, with_chief)))
    assert json.dumps(workers)
