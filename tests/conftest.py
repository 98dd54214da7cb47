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


@pytest.fixture
def native_bf16_cpu(monkeypatch):
    """This test's CPU counts as one with native bfloat16, so the bf16 gradient rewrites are traced on it."""
    from spot_tf.models import device_kernels
    monkeypatch.setattr(device_kernels, "cpu_has_native_bf16", lambda: True)


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory):
    """The embedded demo data, written once for the session."""
    from spot_tf.data import ensure_demo
    cache = tmp_path_factory.mktemp("demo_cache")
    ensure_demo(str(cache))
    return str(cache)


def tiny_settings(model_dir, demo_cache, **overrides):
    """RunSettings small enough for tests: 32 px, batch 4, a few steps (overrides by setting name)."""
    from spot_tf.settings import RunSettings
    values = dict(dataset="demo", data_cache_dir=demo_cache, image_size=32, batch_size=4, ae_steps=2, spot_steps=4,
                  eval_steps=4, checkpoint_every=2, summary_every=2)
    values.update(overrides)
    return RunSettings.from_flat(str(model_dir), values).validate()


@pytest.fixture(scope="session")
def tiny_autoencoder(tmp_path_factory, demo_cache):
    """A model_dir holding a 2-step autoencoder phase (32 px), for the spot phase to start from."""
    from spot_tf.phases import pretrain
    model_dir = tmp_path_factory.mktemp("tiny_run")
    pretrain.autoencoder(tiny_settings(model_dir, demo_cache))
    return str(model_dir / "autoencoder")


def summary_tags(log_dir):
    """{tag: [steps]} of the TensorBoard event files under log_dir."""
    import glob
    tags = {}
    for path in glob.glob(os.path.join(str(log_dir), "**", "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags
