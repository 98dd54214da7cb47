"""The Keras dtype policy of one phase, and what `auto` resolves to on this machine.

The policy is global in Keras: a phase sets it for its own duration and puts the previous one back,
so training in bf16 does not carry over into an export or an evaluation that asked for float32.

`auto` picks bf16 only where this project has measured its training steps with it: a CPU with native
bfloat16 dot products (AVX-512-BF16) and no AMX (1.7-2x the float32 step on AMD EPYC Zen 4). Elsewhere
it picks float32: bf16 on a CPU without AVX-512-BF16 is emulated, and the bf16 steps on AMX CPUs and on
GPUs are not yet verified.
"""
import contextlib

import keras
import tensorflow as tf
from absl import logging

from spot_tf.models.device_kernels import CPUINFO, cpu_flags, read_cpuinfo
from spot_tf.settings import AUTO_PRECISION, PRECISIONS

def choose_precision(cpuinfo, has_gpu):
    """(precision, why) that `auto` means on a machine with this /proc/cpuinfo text (None: unreadable)."""
    if has_gpu:
        return "none", "a GPU is visible, and the bf16 / fp16 training steps are not yet verified on GPUs"
    if cpuinfo is None:
        return "none", f"{CPUINFO} is unreadable, so the CPU's bfloat16 support is unknown"
    flags = cpu_flags(cpuinfo)
    if "amx_bf16" in flags:
        return "none", "the CPU has AMX, where the bf16 spot step is not yet verified"
    if "avx512_bf16" in flags:
        return "bf16", "the CPU has native bfloat16 (avx512_bf16, no AMX), where bf16 steps run 1.7-2x float32's"
    return "none", "the CPU has no native bfloat16 (no avx512_bf16 in /proc/cpuinfo): bf16 would be emulated"


def resolve(name):
    """(precision, why): `name` itself, or what `auto` means on this machine."""
    if name != AUTO_PRECISION:
        return name, "asked for"
    return choose_precision(read_cpuinfo(), bool(tf.config.list_physical_devices("GPU")))


def resolve_training_precision(settings):
    """`settings` with mixed_precision=auto replaced by what it means here (logged with the reason)."""
    asked = settings.training.mixed_precision
    if asked != AUTO_PRECISION:
        return settings
    chosen, why = resolve(asked)
    logging.info("mixed_precision=auto: %s, because %s", chosen, why)
    return settings.replace(mixed_precision=chosen)


@contextlib.contextmanager
def precision(name):
    """Runs the block under the policy of `name` (none = float32, bf16, fp16, auto)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[resolve(name)[0]] or "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
