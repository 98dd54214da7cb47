"""One way to get frozen conv_1..conv_5 features from a checkpoint (this port's or the original
TF1 code's) or from an exported SavedModel."""
import os

import tensorflow as tf
from absl import logging

from spot_tf.errors import SettingError, SettingPathError
from spot_tf.models import CONV_LAYERS
from spot_tf.paths import tf_path
from spot_tf.run.checkpoints import build_spot_model, restore_spot_model
from spot_tf.settings import ModelSettings
from spot_tf.transfer.export import FEATURES_ENDPOINT

# The `eval_source` of the random baseline.
RANDOM = "random"


def is_saved_model(path):
    """Whether `path` is a SavedModel directory (it holds saved_model.pb)."""
    return tf.io.gfile.isdir(path) and tf.io.gfile.exists(os.path.join(path, "saved_model.pb"))


class FeatureExtractor:
    """Frozen features: `extractor(images)` maps [-1, 1] images to {conv_1..conv_5: float32 maps}.

    Args:
        fn: images -> dict holding at least conv_1..conv_5.
        source: Where the weights came from (for messages).
        discriminator: The Keras `Discriminator` behind `fn`, or None (SavedModel).
        resources: Objects `fn` needs alive (the loaded SavedModel).
    """

    def __init__(self, fn, source, discriminator=None, resources=None):
        self._fn = fn
        self.source = source
        self.discriminator = discriminator
        self._resources = resources

    def __call__(self, images):
        out = self._fn(tf.cast(images, tf.float32))
        return {name: tf.cast(out[name], tf.float32) for name in CONV_LAYERS}

    @property
    def variables(self):
        """Every weight behind the features (to check that they stay frozen)."""
        if self.discriminator is not None:
            return list(self.discriminator.weights)
        return list(self._resources.variables)


def features_of(discriminator, source="<in memory>"):
    """A FeatureExtractor over a Keras Discriminator, in inference mode (moving BN statistics)."""
    return FeatureExtractor(lambda images: discriminator.features(images, training=False), source, discriminator)


def load_feature_extractor(source, model_settings=None, use_ema=False, seed=0):
    """Loads frozen conv features from a checkpoint or an exported SavedModel, or the random baseline.

    Args:
        source: A SavedModel directory (detected by saved_model.pb, see `export_saved_model`), a
            spot-phase checkpoint of this port / of the original TF1 code (model_dir, model_dir/spot
            or a checkpoint prefix, see `spot_tf.run.checkpoints.restore`), or RANDOM: the
            discriminator as the spot phase initialises it from `seed` (the paper's random row).
        model_settings: The run's `ModelSettings` (checkpoints and RANDOM; default: STL-10's).
        use_ema: Load the moving averages of the weights (checkpoints only; a SavedModel holds the
            weights it was exported with).
        seed: The seed of the random baseline's initial weights (the run's `seed`).

    Returns:
        A FeatureExtractor. Raises SettingError naming `eval_source` if there is nothing to load.
    """
    source = os.fspath(source)
    if source == RANDOM:
        model = build_spot_model(model_settings or ModelSettings(), seed=seed, name="spot_model")
        return features_of(model.discriminator, f"{RANDOM} (seed {seed})")
    if is_saved_model(source):
        if use_ema:
            logging.warning("use_ema is ignored for SavedModel %s: it holds the weights it was exported with",
                            source)
        loaded = tf.saved_model.load(tf_path(source))
        if FEATURES_ENDPOINT not in loaded.signatures:
            raise SettingError("eval_source", source, f"the SavedModel has no {FEATURES_ENDPOINT!r} signature "
                               f"(it has {sorted(loaded.signatures)})")
        signature = loaded.signatures[FEATURES_ENDPOINT]
        return FeatureExtractor(lambda images: signature(images=images), source, resources=loaded)
    if not tf.io.gfile.exists(source) and not tf.io.gfile.exists(source + ".index"):
        raise SettingPathError("eval_source", source, "does not exist (expected a SavedModel directory, a "
                               "model_dir or a checkpoint prefix)")
    model, prefix = restore_spot_model(source, model_settings or ModelSettings(), use_ema=use_ema)
    return features_of(model.discriminator, prefix)
