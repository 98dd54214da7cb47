import json

import numpy as np
import tensorflow as tf

from conftest import tiny_settings
from spot_tf.phases import run_phases
from spot_tf.run.checkpoints import restore_spot_model


def test_all_in_bf16_exports_and_evaluates_in_float32(tmp_path, demo_cache):
    settings = tiny_settings(tmp_path, demo_cache, mixed_precision="bf16", ae_steps=2, spot_steps=2, eval_steps=2)
    run_phases(settings, "all")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["training"]["mixed_precision"] == "bf16" and saved["evaluation"]["eval_precision"] == "none"
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    assert {v.dtype for v in loaded.variables if v.dtype.is_floating} == {tf.float32}
    images = tf.random.stateless_uniform((2, 32, 32, 3), seed=[1, 2], minval=-1.0, maxval=1.0)
    exported = loaded.signatures["serving_default"](images=images)
    model, _ = restore_spot_model(str(tmp_path), settings.model)
    expected = model.discriminator.features(images, training=False)
    for name in ("conv_1", "conv_5"):
        assert exported[name].dtype == tf.float32
        # bfloat16 compute would differ by about 1e-2 of the scale.
        scale = float(tf.reduce_max(tf.abs(expected[name])))
        np.testing.assert_allclose(exported[name].numpy(), expected[name].numpy(), atol=1e-5 * scale, err_msg=name)
    assert sorted(json.loads((tmp_path / "linear_eval" / "results.json").read_text())) == [
        f"conv_{i}" for i in range(1, 6)]
