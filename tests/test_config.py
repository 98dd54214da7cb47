import pytest

from spot_tf.config import RunConfig


def test_defaults_are_valid():
    assert RunConfig(model_dir="/tmp/x").validate().generator_loss == "code"


@pytest.mark.parametrize("field,value", [("image_size", 100), ("batch_size", 0), ("keep_prob", 0.0),
                                         ("mixed_precision", "fp8"), ("generator_loss", "gan"),
                                         ("checkpoint_every", 0), ("strategy", "tpu"), ("ae_steps", -1)])
def test_bad_values_name_the_flag(field, value):
    with pytest.raises(ValueError, match=f"--{field}="):
        RunConfig(model_dir="/tmp/x", **{field: value}).validate()
