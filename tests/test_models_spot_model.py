import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models import SpotModel, feature_grid, needs_pool5
from spot_tf.run.precision import precision


@pytest.mark.parametrize("size", [32, 64, 96])
def test_output_shapes(size):
    model = SpotModel(image_size=size, ae_depth=4)
    x = tf.random.uniform((2, size, size, 3), -1, 1)
    out = model(x, training=False)
    g = size // 16
    assert out["reconstruction"].shape == (2, size, size, 3)
    assert out["repaired"].shape == (2, size, size, 3)
    assert out["logits"].shape == (4, 2)
    assert out["mask_logits"].shape == (4, g * g)
    assert out["mask"].shape == (2, g, g, 1)


def test_depth5_pools_conv5_to_the_encoder_grid():
    assert needs_pool5(128, 5) and not needs_pool5(96, 4)
    model = SpotModel(image_size=64, ae_depth=5)
    out = model(tf.zeros((1, 64, 64, 3)))
    assert out["mask_logits"].shape == (2, 4)


def test_given_mask_is_used_and_all_kept_repairs_nothing():
    model = SpotModel(image_size=32)
    x = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=3)
    out = model(x, mask=tf.ones((2, 2, 2, 1)), training=False)
    np.testing.assert_allclose(out["repaired"], out["reconstruction"], atol=1e-6)
    np.testing.assert_array_equal(out["mask"], np.ones((2, 2, 2, 1)))


def test_geometry_errors_name_the_sizes():
    with pytest.raises(ValueError, match="multiple of"):
        feature_grid(100, 4)
    with pytest.raises(ValueError, match="conv_5 grid"):
        SpotModel(image_size=96, ae_depth=4, disc_padding="valid")


def test_serialization_and_keras_file(tmp_path):
    model = SpotModel(image_size=32, keep_prob=0.5, repair_preactivation=True, dropout_rate=0.25)
    images = tf.random.stateless_uniform((2, 32, 32, 3), (1, 2), -1, 1)
    mask = tf.cast(tf.random.stateless_uniform((2, 2, 2, 1), (3, 4)) < 0.5, tf.float32)
    run_layer_test(model, images, tmp_path, call_kwargs={"mask": mask, "training": False})


def test_bf16_training_gradients_convolve_and_multiply_in_bf16_without_slow_kernels(native_bf16_cpu):
    """The bf16 spot step's convolutions and matmuls all run in bfloat16, and the kernels that made it slow
    are gone: ResizeBilinearGrad (float32 copy of the decoder's gradients) and oneDNN's weight gradient
    on the repair network's first block (2x2x512 here, 6x6x512 at 96 px), on a CPU with native bfloat16."""
    with precision("bf16"):
        model = SpotModel(image_size=32)
        model.build()
        variables = model.repair.trainable_variables + model.discriminator.trainable_variables

        @tf.function
        def gradients(images):
            with tf.GradientTape() as tape:
                out = model(images, training=True, seed=tf.constant([1, 2]))
                loss = sum(tf.reduce_sum(tf.cast(out[k], tf.float32)) for k in ("logits", "mask_logits", "repaired"))
            return tape.gradient(loss, variables)

        graph = gradients.get_concrete_function(tf.TensorSpec((2, 32, 32, 3), tf.float32)).graph
    ops = graph.get_operations()
    heavy = [op for op in ops if op.type.startswith("Conv2D") or op.type in ("MatMul", "DepthwiseConv2dNative")]
    assert heavy and all(op.get_attr("T") == tf.bfloat16 for op in heavy)
    assert not [op for op in ops if op.type == "ResizeBilinearGrad"]
    repair_0 = [op for op in ops if op.type == "Conv2DBackpropFilter" and op.inputs[0].shape[-1] == 512]
    assert not repair_0
