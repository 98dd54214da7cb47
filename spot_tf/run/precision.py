"""The Keras dtype policy of one phase.

The policy is global in Keras: a phase sets it for its own duration and puts the previous one back,
so training in bf16 does not carry over into an export or an evaluation that asked for float32.
"""
import contextlib

import keras

from spot_tf.settings import PRECISIONS


@contextlib.contextmanager
def precision(name):
    """Runs the block under the policy of `name` (none = float32, bf16, fp16)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[name] or "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
