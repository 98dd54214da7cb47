"""The checkpoints of a run: their layout, telling them apart, and restoring a SpotModel from one.

A phase folder holds `ckpt-<step>` checkpoints (`tf.train.CheckpointManager`) of a
`tf.train.Checkpoint` with
- autoencoder phase: `model` (the Autoencoder), `ema` (its WeightAverage), `optimizer`;
- spot phase: `model` (the SpotModel), `ema` (a WeightAverage of the repair network's and the
  discriminator's trainable weights, in that order), `repair_optimizer`, `discriminator_optimizer`.
The original TF1 code's checkpoints store variables by name (`encoder/...`, `generator/...`,
`discriminator/...`); `restore` reads both kinds.
"""
import os

import keras
import tensorflow as tf

from spot_tf.errors import SettingError, SettingPathError
from spot_tf.models import SpotModel
from spot_tf.optim.ema import WeightAverage
from spot_tf.paths import real_path, tf_path
from spot_tf.run import saved_settings
from spot_tf.run.checkpoint_files import newest_readable

# Spot first: a spot checkpoint of the original holds `encoder/...` too.
KINDS = ("spot", "autoencoder")
# Object-based (TF2) checkpoints store their object graph; TF1 Saver checkpoints store names only.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# The variable-name prefixes that only a checkpoint of that kind holds (this port's, the original's).
KIND_PREFIXES = {"spot": ("model/discriminator/", "model/repair/", "discriminator/", "generator/"),
                 "autoencoder": ("model/encoder/", "encoder/")}
TF1_SCOPES = {"spot": ("encoder", "decoder", "generator", "discriminator"), "autoencoder": ("encoder", "decoder")}
GEOMETRY = ("image_size", "ae_depth", "disc_padding", "repair_preactivation")


def build_spot_model(model_settings, seed=None, **kwargs):
    """The SpotModel of a run's `model` settings (the one place it is built), with every variable.

    Args:
        model_settings: The run's ModelSettings.
        seed: When given, the initial weights are drawn from it (as the spot phase starts), so the
            same seed gives the same network.
        **kwargs: Keras Model arguments (name).
    """
    if seed is not None:
        # The initializers draw from Keras' global generator.
        keras.utils.set_random_seed(seed)
    model = SpotModel(**vars(model_settings), **kwargs)
    model.build()
    return model


def spot_ema(model, decay=0.9999):
    """The WeightAverage of a SpotModel, in the order the checkpoint stores it."""
    return WeightAverage(model.repair.trainable_variables + model.discriminator.trainable_variables, decay)


def resolve_checkpoint(source, phase="spot"):
    """Turns a model_dir, a phase folder or a checkpoint prefix into a checkpoint prefix.

    In a folder it is the newest checkpoint that reads in full (`newest_readable`): this port's and
    the original's, which TensorFlow's `checkpoint` index file names alike.

    Raises FileNotFoundError naming `source` when there is none.
    """
    if tf.io.gfile.isdir(source):
        for directory in (os.path.join(source, phase), source):
            # The original's `model.ckpt-N` are found through their index file.
            latest = newest_readable(directory)
            if not latest and tf.io.gfile.isdir(directory):
                found = tf.train.latest_checkpoint(tf_path(directory))
                latest = real_path(found) if found else None
            if latest:
                return latest
        raise FileNotFoundError(f"no checkpoint in {source} (looked in {source}/{phase} and {source})")
    if tf.io.gfile.exists(source + ".index"):
        return source
    raise FileNotFoundError(f"checkpoint {source} does not exist (no {source}.index)")


def is_tf1_checkpoint(prefix):
    """Whether the checkpoint was written by the original TF1 code (variables stored by name)."""
    return OBJECT_GRAPH_KEY not in tf.train.load_checkpoint(tf_path(prefix)).get_variable_to_shape_map()


def checkpoint_kind(prefix):
    """"spot" or "autoencoder" (a spot checkpoint also holds an autoencoder), or None if neither."""
    names = tf.train.load_checkpoint(tf_path(prefix)).get_variable_to_shape_map()
    for kind in KINDS:
        if any(name.startswith(KIND_PREFIXES[kind]) for name in names):
            return kind
    return None


def _source_geometry(prefix):
    """The model settings of the run that wrote `prefix` (its config.json), or None."""
    run_dir = os.path.dirname(os.path.dirname(os.path.abspath(prefix)))
    saved = saved_settings.read(run_dir) if os.path.exists(os.path.join(run_dir, "config.json")) else None
    return saved.model if saved is not None else None


def _check_source(prefix, phase, model, setting, source):
    kind = checkpoint_kind(prefix)
    if kind != phase:
        found = f"a {kind}-phase checkpoint" if kind else "a checkpoint of neither phase"
        raise SettingError(setting, source, f"expected a {phase}-phase checkpoint, found {found} ({prefix})")
    saved = _source_geometry(prefix)
    wanted = {name: getattr(model, name) for name in GEOMETRY}
    if phase == "autoencoder":
        wanted = {"ae_depth": model.ae_depth}
    differs = {name: getattr(saved, name) for name, value in wanted.items()
               if saved is not None and getattr(saved, name) != value}
    if differs:
        found = ", ".join(f"{name}={value!r}" for name, value in differs.items())
        expected = ", ".join(f"{name}={wanted[name]!r}" for name in differs)
        raise SettingError(setting, source, f"{prefix} was trained with {found}; expected {expected}")


def restore(model, source, phase="spot", use_ema=False, setting="eval_source"):
    """Loads a phase's weights into a built SpotModel from this port's or the original's checkpoint.

    Args:
        model: A built SpotModel.
        source: model_dir, a phase folder or a checkpoint prefix (this port's `ckpt-N`, or a TF1
            `model.ckpt-N`).
        phase: "spot" (repair network + discriminator + autoencoder) or "autoencoder" (encoder and
            decoder only: what the spot phase starts from).
        use_ema: Load the moving averages of the weights instead of the raw weights (spot only).
        setting: The setting that named `source`, for errors.

    Returns:
        The checkpoint prefix read. Raises SettingError naming `setting` when `source` holds nothing,
        a checkpoint of the other phase or of another geometry.
    """
    try:
        prefix = resolve_checkpoint(source, phase)
    except FileNotFoundError as err:
        raise SettingPathError(setting, source, str(err)) from None
    _check_source(prefix, phase, model, setting, source)
    try:
        if is_tf1_checkpoint(prefix):
            model.load_tf1_checkpoint(prefix, include=TF1_SCOPES[phase], use_ema=use_ema)
        elif phase == "autoencoder":
            status = tf.train.Checkpoint(model=model.autoencoder).read(tf_path(prefix))
            status.expect_partial().assert_existing_objects_matched()
        else:
            ema = spot_ema(model)
            status = tf.train.Checkpoint(model=model, ema=ema).read(tf_path(prefix))
            status.expect_partial().assert_existing_objects_matched()
            if use_ema:
                ema.copy_to_sources()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise SettingError(setting, source, f"{prefix} does not fit a model of image_size={model.image_size}, "
                           f"ae_depth={model.ae_depth}, disc_padding={model.disc_padding!r}: {first}") from None
    return prefix


def restore_spot_model(source, model_settings, use_ema=False, setting="eval_source"):
    """A SpotModel of `model_settings` with a spot-phase checkpoint's weights: (model, prefix)."""
    model = build_spot_model(model_settings)
    return model, restore(model, source, "spot", use_ema=use_ema, setting=setting)
