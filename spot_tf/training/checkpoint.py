"""The checkpoint layout of a run, and loading trained weights for transfer.

A spot-phase checkpoint (`model_dir/spot/ckpt-N`) is a `tf.train.Checkpoint` with `model` (the
SpotModel), `ema` (a WeightAverage of the repair network's and discriminator's trainable weights, in
that order), `repair_optimizer`, `discriminator_optimizer`. An autoencoder-phase checkpoint
(`model_dir/autoencoder/ckpt-N`) has `model` (the Autoencoder), `ema` and `optimizer`.
"""
import os

import tensorflow as tf

from spot_tf.models import SpotModel
from spot_tf.training.ema import WeightAverage

PHASE_DIRS = ("spot", "autoencoder")
# Object-based (TF2) checkpoints store their object graph; TF1 Saver checkpoints store names only.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def spot_ema(model, decay=0.9999):
    """The WeightAverage of a SpotModel, in the order the checkpoint stores it."""
    return WeightAverage(model.repair.trainable_variables + model.discriminator.trainable_variables, decay)


def resolve_checkpoint(source, phase="spot"):
    """Turns a model_dir, a phase dir, or a checkpoint prefix into a checkpoint prefix.

    Raises FileNotFoundError naming `source` when there is none.
    """
    if tf.io.gfile.isdir(source):
        for directory in (os.path.join(source, phase), source):
            latest = tf.train.latest_checkpoint(directory) if tf.io.gfile.isdir(directory) else None
            if latest:
                return latest
        raise FileNotFoundError(f"no checkpoint in {source} (looked in {source}/{phase} and {source})")
    if tf.io.gfile.exists(source + ".index"):
        return source
    raise FileNotFoundError(f"checkpoint {source} does not exist (no {source}.index)")


def is_tf1_checkpoint(prefix):
    """Whether the checkpoint was written by the original TF1 code (variables stored by name)."""
    return OBJECT_GRAPH_KEY not in tf.train.load_checkpoint(prefix).get_variable_to_shape_map()


def restore_spot_model(source, image_size, ae_depth, use_ema=False, **model_kwargs):
    """Builds a SpotModel and loads a spot-phase checkpoint of this port or of the original TF1 code.

    Args:
        source: model_dir, model_dir/spot, a `ckpt-N` prefix, or a TF1 `model.ckpt-N` prefix/dir.
        image_size: The model's input size.
        ae_depth: The encoder depth.
        use_ema: Load the exponential moving average of the weights instead of the raw weights.
        **model_kwargs: Other SpotModel arguments (disc_padding, ...).

    Returns:
        (model, checkpoint prefix).
    """
    prefix = resolve_checkpoint(source, "spot")
    model = SpotModel(image_size=image_size, ae_depth=ae_depth, **model_kwargs)
    model.build()
    if is_tf1_checkpoint(prefix):
        model.load_tf1_checkpoint(prefix, use_ema=use_ema)
        return model, prefix
    ema = spot_ema(model)
    tf.train.Checkpoint(model=model, ema=ema).read(prefix).expect_partial()
    if use_ema:
        ema.copy_to_sources()
    return model, prefix
