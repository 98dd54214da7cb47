import pytest
import tensorflow as tf

from spot_tf.training.step_metrics import StepMetrics


def test_means_over_steps_and_reset():
    metrics = StepMetrics(("loss", "acc"))
    metrics.update({"loss": 2.0}, {"acc": 0.5})
    metrics.update({"loss": 4.0}, {"acc": 1.0})
    assert {k: float(v) for k, v in metrics.results().items()} == {"loss": 3.0, "acc": 0.75}
    metrics.reset()
    assert float(metrics.results()["loss"]) == 0.0


def test_contributions_sum_and_statistics_average_over_replicas(two_replicas):
    with two_replicas.scope():
        metrics = StepMetrics(("loss", "acc"))

    def step():
        rid = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.float32)
        metrics.update({"loss": 1.0 + rid}, {"acc": rid})  # shares 1 and 2; statistics 0 and 1

    two_replicas.run(tf.function(step))
    results = metrics.results()
    assert float(results["loss"]) == pytest.approx(3.0)
    assert float(results["acc"]) == pytest.approx(0.5)
