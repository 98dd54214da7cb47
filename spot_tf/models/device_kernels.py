"""Which device kind each hand-picked kernel of the models was measured faster on: every such choice in one place.

The bfloat16 gradient rewrites below were measured on CPUs with native bfloat16 only (oneDNN on an AMD
EPYC Zen 4 with AVX-512-BF16, no AMX, see the functions named): there they are faster and exact (float32
sums, rounded once). A CPU without native bfloat16 (AVX2 only) emulates it: bf16 there is several times
slower than float32 whatever the kernels, and the depthwise convolution the resize gradient becomes does
not sum in float32 there (errors of a few bf16 ulps, sign flips near zero), so such a CPU keeps TF's own
gradients. On GPUs cuDNN's own gradient kernels are the reference choice. So a rewrite runs only where the
op is placed on a CPU and that CPU has native bfloat16 (`cpu_has_native_bf16`: `avx512_bf16` or
`amx_bf16` among /proc/cpuinfo's flags; every AMX-BF16 CPU has AVX-512-BF16 as well, and both sum bf16
products into float32 by their instructions' definition, which is what the rewrites' exactness rests on;
their speed on AMX is not measured). Layers ask `use_cpu_rewrite(name)` while they build their graph and
never test the device themselves. Float32 never reaches these questions: every rewrite is a bfloat16
path, and the float32 graph is the original's on every device.

The device is the one the op will run on, as far as it is known where the layer is called: an explicit
`device`, else the current device scope (what `tf.device`, and a MirroredStrategy replica on its own
device, set around the traced step), else, where nothing asks for a device (a plain `fit`, eager code
without a scope), the placer's choice: the first GPU if one is visible, the CPU otherwise. The question
is asked while tracing, so a `tf.function` traced under a device keeps that device's choice.

Tuned on CPUs but kept on every device (`DEVICE_NEUTRAL`): they are the same sums in a layout that is
no worse for cuDNN / cuBLAS either, and float32 runs them too, so they are not device choices. The input
pipeline's CPU tuning (whole-JPEG decode by default, never_raise's blocks) runs on the host CPU whatever
the accelerator, so it is not a device choice either.
"""
import functools

import tensorflow as tf

RESIZE_GRADIENT = "resize_gradient_as_depthwise_conv"
TAP_WEIGHT_GRADIENT = "small_map_weight_gradient_per_tap"
TILING_CONV_GRADIENTS = "tiling_conv_gradients_as_matmuls"

# Each rewrite and what it replaces; all measured faster on a CPU with native bfloat16 only (oneDNN).
CPU_REWRITES = {
    RESIZE_GRADIENT: "resize.py: the decoder's 2x bilinear upsampling's gradient as a stride-2 depthwise "
                     "convolution instead of ResizeBilinearGrad (3-4x faster forward + backward on CPU).",
    TAP_WEIGHT_GRADIENT: "conv_unit.py: the kernel gradient of a stride-1 convolution on a small map with "
                         "many channels as one matmul per kernel tap instead of Conv2DBackpropFilter "
                         "(1.5-1.7x on CPU).",
    TILING_CONV_GRADIENTS: "conv_unit.py: both gradients of the encoder's 2x2 stride-2 convolution as "
                           "space_to_depth matmuls instead of Conv2DBackpropFilter / -Input (the encoder's "
                           "backward 30% faster on CPU).",
}

DEVICE_NEUTRAL = {
    "full_map_conv_as_matmul": "conv_unit.py: a VALID convolution spanning its whole input (fc_1) as one matmul.",
    "split_input_conv": "conv_unit.py: conv(concat[a, mask]) as conv(a) + conv(mask): no odd channel count.",
    "fused_batch_norm": "conv_unit.py: FusedBatchNormV3, the kernel cuDNN's batch norm is as well.",
    "resize_bilinear_op": "resize.py: the forward upsampling as ResizeBilinear, the original's own op.",
}

ACCELERATORS = ("GPU", "TPU")

CPUINFO = "/proc/cpuinfo"
# The CPU features that compute bfloat16 products natively, summing them in float32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo):
    """The feature flags in the text of /proc/cpuinfo (its first `flags` line), as a set."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def read_cpuinfo():
    """The text of /proc/cpuinfo, or None where it is unreadable (not Linux)."""
    try:
        with open(CPUINFO, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


@functools.cache
def cpu_has_native_bf16():
    """Whether this machine's CPU computes bfloat16 natively (read once; False where /proc/cpuinfo is unreadable)."""
    cpuinfo = read_cpuinfo()
    return cpuinfo is not None and bool(cpu_flags(cpuinfo) & NATIVE_BF16_FLAGS)


def current_device():
    """The device an op created here is placed on: in a graph, the one its device scope asks for ('' if none)."""
    if tf.executing_eagerly():
        return tf.identity(0.0).device  # Where eager placement put it, scope or not.
    return tf.no_op().device  # Unused, it is pruned; its device is the scope's.


def device_kind(device=None):
    """"CPU", "GPU", ... of `device` (a device string or DeviceSpec), else of where an op created here runs."""
    if device is None:
        device = current_device()
    kind = (tf.DeviceSpec.from_string(device) if isinstance(device, str) else device).device_type
    if kind:
        return kind.upper()
    # Nothing asks for a device: the placer puts convolutions on the first accelerator there is.
    return next((name for name in ACCELERATORS if tf.config.list_logical_devices(name)), "CPU")


def use_cpu_rewrite(name, device=None):
    """Whether the CPU-measured rewrite `name` (a key of CPU_REWRITES) applies on `device` (default: here):
    a CPU, on a machine whose CPU has native bfloat16.

    Raises:
        KeyError: `name` is not a rewrite named in CPU_REWRITES.
    """
    if name not in CPU_REWRITES:
        raise KeyError(f"{name!r} is not one of the CPU rewrites: {', '.join(CPU_REWRITES)}.")
    return device_kind(device) == "CPU" and cpu_has_native_bf16()
