import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.errors import SettingError
from spot_tf.models import CONV_LAYERS, Discriminator
from spot_tf.transfer import export
from spot_tf.transfer.export import export_saved_model, min_input_size



def assert_close(actual, expected):
    """Within 1e-5 of the map's scale: oneDNN sums in another order in a graph than eagerly."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max()))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(3)
    disc = Discriminator(32)
    disc(tf.zeros((1, 32, 32, 3)))
    # Non-trivial batch-norm statistics, so inference mode is visible in the outputs.
    for unit in disc.conv_5.units:
        unit.bn.moving_mean.assign(tf.random.uniform(unit.bn.moving_mean.shape))
        unit.bn.moving_variance.assign(tf.random.uniform(unit.bn.moving_variance.shape, 0.5, 2.0))
    return disc, export_saved_model(disc, tmp_path_factory.mktemp("export") / "saved_model")


def test_features_and_logits_equal_the_keras_model(exported):
    disc, path = exported
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "spot_logits"}
    for shape in [(3, 32, 32, 3), (2, 48, 40, 3)]:
        images = tf.random.stateless_uniform(shape, (1, 2), -1, 1)
        out = loaded.signatures["serving_default"](images=images)
        expected = disc.features(images, training=False)
        assert set(out) == set(CONV_LAYERS)
        for name in CONV_LAYERS:
            assert_close(out[name], expected[name])
    images = tf.random.stateless_uniform((2, 32, 32, 3), (3, 4), -1, 1)
    heads = loaded.signatures["spot_logits"](images=images)
    expected = disc(images, training=False)
    for name in ("logits", "mask_logits"):
        assert_close(heads[name], expected[name])


def test_both_endpoints_answer_an_empty_batch(exported):
    disc, path = exported
    loaded = tf.saved_model.load(path)
    one = disc.features(tf.zeros((1, 32, 32, 3)), training=False)
    features = loaded.signatures["serving_default"](images=tf.zeros((0, 32, 32, 3)))
    for name in CONV_LAYERS:
        assert features[name].shape == (0,) + tuple(one[name].shape[1:]), name
    heads = loaded.signatures["spot_logits"](images=tf.zeros((0, 32, 32, 3)))
    assert heads["logits"].shape == (0, 2) and heads["mask_logits"].shape[0] == 0


def test_loads_and_runs_with_plain_tensorflow_without_spot_tf(exported, tmp_path):
    disc, path = exported
    images = np.random.default_rng(0).uniform(-1, 1, (2, 40, 40, 3)).astype(np.float32)
    expected = disc.features(images, training=False)
    np.savez(tmp_path / "io.npz", images=images, **{k: v.numpy() for k, v in expected.items()})
    script = textwrap.dedent(f"""
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "spot_tf" or name.startswith("spot_tf."):
                    raise ImportError("spot_tf is blocked in this test")

        sys.meta_path.insert(0, Block())
        import numpy as np
        import tensorflow as tf
        try:
            import spot_tf
            sys.exit("spot_tf was importable")
        except ImportError:
            pass
        io = np.load({str(tmp_path / "io.npz")!r})
        out = tf.saved_model.load({str(path)!r}).signatures["serving_default"](images=tf.constant(io["images"]))
        for name in ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]:
            np.testing.assert_allclose(out[name].numpy(), io[name], rtol=1e-5, atol=1e-5 * max(1, abs(io[name]).max()))
        assert not any(m.startswith("spot_tf") for m in sys.modules)
        print("OK")
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stderr[-3000:]


def test_runs_as_a_frozen_tfsm_layer_inside_a_keras_model(exported):
    disc, path = exported
    images = keras.Input(shape=(32, 32, 3))
    features = keras.layers.TFSMLayer(path, call_endpoint="serving_default", trainable=False)(images)
    pooled = keras.layers.GlobalAveragePooling2D()(features["conv_5"])
    classifier = keras.Model(images, keras.layers.Dense(10)(pooled))
    x = tf.random.stateless_uniform((4, 32, 32, 3), (5, 6), -1, 1)
    assert classifier(x).shape == (4, 10)
    assert_close(keras.Model(images, pooled)(x), tf.reduce_mean(disc.features(x, training=False)["conv_5"], [1, 2]))
    # Only the new head trains; the exported network stays as it was.
    assert [tuple(w.shape) for w in classifier.trainable_weights] == [(256, 10), (10,)]
    frozen = [w.numpy().copy() for w in classifier.non_trainable_weights]
    classifier.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(x, np.array([0, 1, 2, 3]), epochs=1, verbose=0)
    for weight, value in zip(classifier.non_trainable_weights, frozen):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_minimum_input_size():
    assert min_input_size("same") == 1
    assert min_input_size("valid") == 35
    disc = Discriminator(64, padding="valid")
    assert disc.features(tf.zeros((1, 35, 35, 3)))["conv_5"].shape[1:3] == (1, 1)
    # One pixel less leaves conv_3..conv_5 without a position: TensorFlow raises (InvalidArgumentError;
    # AbortedError from oneDNN's pooling on AVX-512 CPUs) on some CPUs and returns empty maps on others.
    try:
        maps = disc.features(tf.zeros((1, 34, 34, 3)))
    except (tf.errors.InvalidArgumentError, tf.errors.AbortedError, ValueError):
        return
    assert 0 in maps["conv_5"].shape[1:3]


def test_a_failed_export_keeps_the_previous_one(exported, monkeypatch):
    disc, path = exported
    before = sorted(os.listdir(path))

    class Broken:
        def write_out(self, filepath, **kwargs):
            os.makedirs(filepath)
            open(os.path.join(filepath, "partial"), "w").close()
            raise RuntimeError("disk full")

    monkeypatch.setattr(export, "build_export_archive", lambda *args: Broken())
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(disc, path)
    assert sorted(os.listdir(path)) == before
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]


def test_reexport_replaces_and_size_must_match_the_heads(exported):
    disc, path = exported
    assert export_saved_model(disc, path) == str(path)
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]
    assert "spot_logits" in tf.saved_model.load(path).signatures
    with pytest.raises(ValueError, match="image_size 64"):
        export_saved_model(disc, path, image_size=64)


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_anything_but_an_earlier_export_is_never_replaced(exported, tmp_path, kind):
    disc, path = exported
    assert os.path.isfile(os.path.join(path, export.MARKER))
    target = tmp_path / "results"
    if kind == "folder":
        target.mkdir()
        (target / "thesis.tex").write_text("years of work")
    else:
        target.write_text("years of work")
    with pytest.raises(SettingError, match=f"export_dir='{target}': exists and is not"):
        export_saved_model(disc, target)
    assert (target / "thesis.tex" if kind == "folder" else target).read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["results"]
    (tmp_path / "empty").mkdir()
    assert export_saved_model(disc, tmp_path / "empty") == str(tmp_path / "empty")
