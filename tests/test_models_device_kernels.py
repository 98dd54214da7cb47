import pytest
import tensorflow as tf

from spot_tf.models.autoencoder import Autoencoder
from spot_tf.models.conv_unit import ConvUnit
from spot_tf.models import device_kernels
from spot_tf.models.device_kernels import (CPU_REWRITES, TILING_CONV_GRADIENTS, cpu_flags, cpu_has_native_bf16,
                                          current_device, device_kind, use_cpu_rewrite)
from spot_tf.run.precision import precision

GPU = "/job:localhost/replica:0/task:0/device:GPU:1"


ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
SAPPHIRE_RAPIDS = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
ZEN3 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: sysret_ss_attrs\n"


@pytest.mark.parametrize("name", sorted(CPU_REWRITES))
def test_every_rewrite_is_for_native_bf16_cpus_only(name, native_bf16_cpu):
    assert use_cpu_rewrite(name, "/CPU:0") and use_cpu_rewrite(name, tf.DeviceSpec(device_type="CPU"))
    assert not use_cpu_rewrite(name, GPU) and not use_cpu_rewrite(name, "gpu:0")
    assert not use_cpu_rewrite(name, "/device:TPU:0")


@pytest.mark.parametrize("name", sorted(CPU_REWRITES))
def test_a_cpu_without_native_bf16_keeps_the_library_gradients(name, monkeypatch):
    monkeypatch.setattr(device_kernels, "cpu_has_native_bf16", lambda: False)
    assert not use_cpu_rewrite(name, "/CPU:0") and not use_cpu_rewrite(name, GPU)


@pytest.mark.parametrize("cpuinfo, native", [(ZEN4, True), (SAPPHIRE_RAPIDS, True), (ZEN3, False), (None, False),
                                             ("processor\t: 0\n", False)],
                         ids=["avx512_bf16", "amx_bf16", "avx2-only", "unreadable", "no-flags-line"])
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo, native, monkeypatch):
    monkeypatch.setattr(device_kernels, "read_cpuinfo", lambda: cpuinfo)
    cpu_has_native_bf16.cache_clear()
    try:
        assert cpu_has_native_bf16() is native
        assert use_cpu_rewrite(TILING_CONV_GRADIENTS, "/CPU:0") is native
    finally:
        cpu_has_native_bf16.cache_clear()  # The next caller reads this machine's flags again.


def test_the_cpu_flags_are_the_first_flags_line():
    assert cpu_flags(ZEN4 + "flags\t\t: other\n") == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "avx512_vnni"}
    assert cpu_flags("") == set()


def test_this_machines_cpu_decides_by_its_own_flags():
    # The cached answer is what /proc/cpuinfo says here (an AVX2-only CPU: no rewrites; AVX-512-BF16: rewrites).
    text = device_kernels.read_cpuinfo()
    assert cpu_has_native_bf16() == bool(text and cpu_flags(text) & {"avx512_bf16", "amx_bf16"})
    assert use_cpu_rewrite(TILING_CONV_GRADIENTS, "/CPU:0") == cpu_has_native_bf16()


def test_an_unknown_rewrite_is_refused():
    with pytest.raises(KeyError, match="not one of the CPU rewrites"):
        use_cpu_rewrite("conv_gradient", "/CPU:0")


def test_the_device_is_the_scope_a_graph_is_traced_under():
    @tf.function
    def kinds():
        with tf.device(GPU):
            gpu = device_kind()
        with tf.device("/CPU:0"):
            cpu = device_kind()
        return tf.constant([gpu, cpu, device_kind()])
    # Without a scope the placer decides: the first GPU if there is one.
    unscoped = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    assert [k.decode() for k in kinds().numpy()] == ["GPU", "CPU", unscoped]


def test_each_mirrored_replica_asks_for_its_own_device(two_replicas, native_bf16_cpu):
    # As a replica on GPU:1 would ask for GPU:1.
    @tf.function
    def step():
        return tf.constant(current_device()), tf.constant(use_cpu_rewrite(TILING_CONV_GRADIENTS))
    devices, rewrites = two_replicas.run(step)
    assert [tf.DeviceSpec.from_string(d.numpy().decode()).device_index
            for d in two_replicas.experimental_local_results(devices)] == [0, 1]
    assert all(r.numpy() for r in two_replicas.experimental_local_results(rewrites))


def _gradient_ops(model, x, device):
    """Op types of the graph of `model`'s output and its gradient, traced under `device`."""
    @tf.function
    def forward_backward(x):
        with tf.device(device), tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        return tape.gradient(loss, [x] + model.trainable_variables)
    return {op.type for op in forward_backward.get_concrete_function(x).graph.get_operations()}


def test_a_bf16_autoencoder_on_a_cpu_takes_the_rewrites_and_on_a_gpu_the_library_gradients(native_bf16_cpu):
    x = tf.zeros((2, 16, 16, 3))
    with precision("bf16"):
        model = Autoencoder(depth=2)
        model(x)
        cpu, gpu = _gradient_ops(model, x, "/CPU:0"), _gradient_ops(model, x, GPU)
    # The decoder's resize gradient and the encoder's 2x2 / 2 conv gradients.
    assert {"DepthwiseConv2dNative", "DepthToSpace"} <= cpu and "ResizeBilinearGrad" not in cpu
    assert {"ResizeBilinearGrad", "Conv2DBackpropFilter"} <= gpu and not {"DepthwiseConv2dNative", "DepthToSpace"} & gpu
    # float32 is the original graph on both.
    model32 = Autoencoder(depth=2)
    model32(x)
    assert _gradient_ops(model32, x, "/CPU:0") == _gradient_ops(model32, x, GPU)


def test_a_bf16_small_map_conv_takes_tap_matmuls_on_a_cpu_only(native_bf16_cpu):
    x = tf.zeros((2, 6, 6, 256))
    with precision("bf16"):
        unit = ConvUnit(256, 3)
        unit.build(x.shape)
        cpu, gpu = _gradient_ops(unit, x, "/CPU:0"), _gradient_ops(unit, x, GPU)
    assert "MatMul" in cpu and "Conv2DBackpropFilter" not in cpu
    assert "MatMul" not in gpu and "Conv2DBackpropFilter" in gpu


def test_an_avx2_cpu_traces_the_library_gradients_in_bf16(monkeypatch):
    monkeypatch.setattr(device_kernels, "cpu_has_native_bf16", lambda: False)
    x = tf.zeros((2, 16, 16, 3))
    with precision("bf16"):
        model = Autoencoder(depth=2)
        model(x)
        cpu = _gradient_ops(model, x, "/CPU:0")
    assert {"ResizeBilinearGrad", "Conv2DBackpropFilter"} <= cpu and not {"DepthwiseConv2dNative", "DepthToSpace"} & cpu
