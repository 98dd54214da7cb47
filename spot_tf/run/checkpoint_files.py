"""The `ckpt-N` files of a phase folder: which are complete and readable, and what a cut save left.

TensorFlow finds a folder's latest checkpoint through its `checkpoint` index file. That file can be
lost (a partial copy, a sync tool) and the newest checkpoint can be cut short (a full disk, a killed
copy) while the ones before it are intact. So a phase resumes from the newest `ckpt-N` that it can
read in full, found by scanning the folder, and never from nothing while any `ckpt-N` is there.
"""
import os
import re
import shutil

import tensorflow as tf
from absl import logging

from spot_tf.paths import literal_glob, tf_path
from spot_tf.run.folder import CHECKPOINT_NAME

_PREFIX = re.compile(rf"^{CHECKPOINT_NAME}-(\d+)$")
# What tf.train.Checkpoint.save writes before it renames a save into place.
_TEMP = re.compile(rf"^{CHECKPOINT_NAME}-\d+_temp$")
_SHARD = re.compile(r"\.data-(\d+)-of-(\d+)$")


class NoReadableCheckpointError(ValueError):
    """A folder holds checkpoints, and none of them can be read."""


def checkpoint_steps(directory):
    """{step: prefix} of every `ckpt-N` in `directory` that has an index file."""
    steps = {}
    for index in literal_glob(directory, f"{CHECKPOINT_NAME}-*.index"):
        prefix = index[:-len(".index")]
        match = _PREFIX.match(os.path.basename(prefix))
        if match:
            steps[int(match.group(1))] = prefix
    return steps


def unreadable_reason(prefix):
    """Why the checkpoint at `prefix` cannot be restored (a missing shard, a short read), or None."""
    directory, name = os.path.split(prefix)
    shards = [_SHARD.search(path) for path in literal_glob(directory, name + ".data-*")]
    counts = {int(m.group(2)) for m in shards if m}
    if not shards or len(counts) != 1 or len(shards) != counts.pop():
        return "its data shards are missing or incomplete"
    try:
        reader = tf.train.load_checkpoint(tf_path(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as err:  # a short read is an IndexError
        return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return None


def newest_readable(directory):
    """The prefix of the newest checkpoint in `directory` that reads in full, or None if there is none.

    A newer one that does not read is reported by name in a warning and passed over. Raises
    NoReadableCheckpointError when the folder holds checkpoints and none reads: starting over there
    would overwrite them.
    """
    steps = checkpoint_steps(directory) if os.path.isdir(directory) else {}
    bad = []
    for step in sorted(steps, reverse=True):
        reason = unreadable_reason(steps[step])
        if reason is None:
            for prefix, why in bad:
                logging.warning("checkpoint %s cannot be read (%s): using %s instead", prefix, why, steps[step])
            return steps[step]
        bad.append((steps[step], reason))
    if bad:
        raise NoReadableCheckpointError(f"no checkpoint in {directory} can be read ({bad[0][0]}: {bad[0][1]}); "
                                        f"move them away to start this phase over")
    return None


def remove_temp_leftovers(directory):
    """Removes the `ckpt-N_temp` folders of saves that were cut short (only those: nothing else)."""
    removed = []
    for path in literal_glob(directory, f"{CHECKPOINT_NAME}-*_temp"):
        if os.path.isdir(path) and _TEMP.match(os.path.basename(path)):
            shutil.rmtree(path)
            removed.append(path)
    for path in removed:
        logging.info("removed %s, left by a save that was cut short", path)
    return removed
