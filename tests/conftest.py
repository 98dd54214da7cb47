"""Test setup: two logical CPU devices (for MirroredStrategy tests) before anything touches TF."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def two_replicas():
    """One MirroredStrategy over the two logical CPUs for the whole session.

    Every MirroredStrategy of a process numbers its collectives from the same keys, so a second
    strategy with other tensor shapes collides with the first one's cached collectives.
    """
    return tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
