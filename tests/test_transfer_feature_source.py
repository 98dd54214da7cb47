import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import CONV_LAYERS, SpotModel
from spot_tf.run.checkpoints import spot_ema
from spot_tf.settings import ModelSettings
from spot_tf.transfer.export import export_saved_model
from spot_tf.transfer.feature_source import is_saved_model, load_feature_extractor

IMAGES = tf.random.stateless_uniform((2, 40, 40, 3), (5, 6), -1, 1)


def assert_same_features(extractor, discriminator, atol=1e-4):
    out = extractor(IMAGES)
    expected = discriminator.features(IMAGES, training=False)
    assert tuple(out) == CONV_LAYERS
    for name in CONV_LAYERS:
        assert out[name].dtype == tf.float32
        np.testing.assert_allclose(out[name], expected[name], rtol=1e-5, atol=atol)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A SpotModel saved as a spot-phase checkpoint whose moving averages differ from its weights."""
    model_dir = tmp_path_factory.mktemp("run")
    model = SpotModel(image_size=32)
    model.build()
    ema = spot_ema(model)
    for average in ema.averages:
        average.assign(average * 0.5 + 0.01)
    tf.train.Checkpoint(model=model, ema=ema).save(str(model_dir / "spot" / "ckpt"))
    return model, ema, model_dir


def test_from_a_checkpoint_of_this_port(trained):
    model, ema, model_dir = trained
    for source in (model_dir, model_dir / "spot", model_dir / "spot" / "ckpt-1"):
        extractor = load_feature_extractor(source, ModelSettings(image_size=32))
        assert_same_features(extractor, model.discriminator)
        assert extractor.discriminator is not None and extractor.variables


def test_ema_weights_from_a_checkpoint(trained):
    model, ema, model_dir = trained
    extractor = load_feature_extractor(model_dir, ModelSettings(image_size=32), use_ema=True)
    averaged = SpotModel(image_size=32)
    averaged.build()
    averaged.set_weights(model.get_weights())
    for source, average in zip(spot_ema(averaged).sources, ema.averages):
        source.assign(average)
    assert_same_features(extractor, averaged.discriminator)
    with pytest.raises(AssertionError):
        assert_same_features(extractor, model.discriminator)


def test_from_a_tf1_checkpoint(trained, tmp_path):
    model, _, _ = trained
    names = model.tf1_variables()
    prefix = str(tmp_path / "model.ckpt-100")
    # A name-based (TF1) checkpoint: every tensor stored under the original's variable name.
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=list(names), shape_and_slices=[""] * len(names),
                      tensors=[v.value for v in names.values()])
    extractor = load_feature_extractor(prefix, ModelSettings(image_size=32))
    assert_same_features(extractor, model.discriminator)


def test_from_an_exported_saved_model(trained, tmp_path):
    model, _, _ = trained
    path = export_saved_model(model.discriminator, tmp_path / "export")
    assert is_saved_model(path) and not is_saved_model(str(tmp_path))
    extractor = load_feature_extractor(path, use_ema=True)
    assert extractor.discriminator is None and extractor.variables
    # Graph vs eager execution sum in other orders (oneDNN): compare at the maps' scale.
    assert_same_features(extractor, model.discriminator, atol=1e-3)


def test_missing_sources_are_named(tmp_path):
    missing = tmp_path / "no_such_run"
    with pytest.raises(FileNotFoundError, match="no_such_run"):
        load_feature_extractor(missing, ModelSettings(image_size=32))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_feature_extractor(tmp_path, ModelSettings(image_size=32))
