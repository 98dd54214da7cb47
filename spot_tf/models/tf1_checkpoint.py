"""Loads checkpoints written by the original TF1/slim code into the Keras models by variable name."""
import numpy as np
import tensorflow as tf

from spot_tf.paths import real_path, tf_path

_VARIABLE_LEAVES = ("weights", "biases", "gamma", "beta", "moving_mean", "moving_variance")
EMA_SUFFIX = "/ExponentialMovingAverage"


class CheckpointMismatchError(ValueError):
    """The checkpoint's variables do not match the model's."""


def _model_variable_names(shape_map, scopes):
    """Names in the checkpoint that look like model variables under `scopes` (no optimizer slots)."""
    names = set()
    for name in shape_map:
        if name.split("/")[0] in scopes and name.split("/")[-1] in _VARIABLE_LEAVES:
            names.add(name)
    return names


def load_tf1_variables(path, variables, use_ema=False):
    """Assigns `variables` ({original name: Keras variable}) from the TF1 checkpoint at `path`.

    Every expected variable must be in the checkpoint with the same shape, and the checkpoint must
    hold no other model variable under the same top-level scopes (e.g. a depth-5 encoder for a
    depth-4 model); the error lists every such variable. Optimizer slots, the global step and other
    scopes (e.g. the original's fine-tuning classifier) are ignored.

    Args:
        path: Checkpoint prefix (e.g. run/model.ckpt-50000) or a directory holding a checkpoint.
        variables: {original name: Keras variable}, e.g. from `SpotModel.tf1_variables()`.
        use_ema: Load the exponential moving averages the original kept of trainable variables
            (`<name>/ExponentialMovingAverage`) where they exist.

    Returns:
        The sorted list of loaded names.
    """
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(tf_path(path))
        if latest is None:
            raise FileNotFoundError(f"no TF1 checkpoint in directory {path}")
        path = real_path(latest)
    try:
        reader = tf.train.load_checkpoint(tf_path(path))
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as err:
        raise FileNotFoundError(f"cannot read TF1 checkpoint {path}: {err}") from err
    shape_map = reader.get_variable_to_shape_map()
    problems = []
    for name, var in sorted(variables.items()):
        if name not in shape_map:
            problems.append(f"missing from checkpoint: {name} (model shape {list(var.shape)})")
        elif list(shape_map[name]) != list(var.shape):
            problems.append(f"wrong shape: {name} is {list(shape_map[name])} in the checkpoint, "
                            f"{list(var.shape)} in the model")
    scopes = {name.split("/")[0] for name in variables}
    for name in sorted(_model_variable_names(shape_map, scopes) - set(variables)):
        problems.append(f"not in the model: {name} (checkpoint shape {list(shape_map[name])})")
    if problems:
        raise CheckpointMismatchError(
            f"TF1 checkpoint {path} does not match the model ({len(problems)} problems):\n  "
            + "\n  ".join(problems))
    for name, var in variables.items():
        source = name + EMA_SUFFIX if use_ema and reader.has_tensor(name + EMA_SUFFIX) else name
        var.assign(np.asarray(reader.get_tensor(source), dtype=var.dtype))
    return sorted(variables)
