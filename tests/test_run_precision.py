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
