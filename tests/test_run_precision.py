import keras

from spot_tf.run.precision import precision


def test_a_phase_sets_its_policy_and_puts_the_previous_one_back():
    assert keras.config.dtype_policy().name == "float32"
    with precision("bf16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        with precision("none"):
            assert keras.config.dtype_policy().name == "float32"
            assert keras.layers.Dense(2).compute_dtype == "float32"
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    try:
        with precision("fp16"):
            raise RuntimeError
    except RuntimeError:
        pass
    assert keras.config.dtype_policy().name == "float32"


def _cpuinfo(flags):
    return "".join(f"processor\t: {i}\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 {flags}\n\n" for i in range(2))


def test_auto_picks_bf16_only_on_a_cpu_with_native_bfloat16_and_no_amx():
    from spot_tf.run.precision import choose_precision, cpu_flags
    assert cpu_flags(_cpuinfo("avx512f avx512_bf16")) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16"}
    assert cpu_flags("processor\t: 0\n") == set()
    chosen, why = choose_precision(_cpuinfo("avx512f avx512_bf16"), has_gpu=False)
    assert chosen == "bf16" and "avx512_bf16" in why
    # Sapphire Rapids lists both: its AMX path is not verified.
    chosen, why = choose_precision(_cpuinfo("avx512_bf16 amx_bf16 amx_tile"), has_gpu=False)
    assert chosen == "none" and "AMX" in why
    chosen, why = choose_precision(_cpuinfo("avx512f avx512_vnni"), has_gpu=False)  # no bf16: emulated
    assert chosen == "none" and "no native bfloat16" in why
    assert choose_precision(_cpuinfo("avx512_bf16"), has_gpu=True)[0] == "none"
    assert choose_precision(None, has_gpu=False)[0] == "none"


def test_auto_is_resolved_once_into_the_settings_and_a_named_precision_is_kept(tmp_path, monkeypatch):
    from spot_tf.run import precision as precision_lib
    from spot_tf.settings import RunSettings
    monkeypatch.setattr(precision_lib, "read_cpuinfo", lambda: _cpuinfo("avx512_bf16"))
    settings = RunSettings.from_flat(str(tmp_path), {"mixed_precision": "auto"}).validate()
    assert precision_lib.resolve_training_precision(settings).training.mixed_precision == "bf16"
    with precision_lib.precision("auto"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    monkeypatch.setattr(precision_lib, "read_cpuinfo", lambda: _cpuinfo("avx512_bf16 amx_bf16"))
    assert precision_lib.resolve_training_precision(settings).training.mixed_precision == "none"
    fp16 = settings.replace(mixed_precision="fp16")
    assert precision_lib.resolve_training_precision(fp16) is fp16
