import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.caffe_batch_norm import CaffeBatchNorm
from spot_tf.models.linear_probe import LinearProbe
from spot_tf.models.pooling import AdaptiveAveragePooling2D, BilinearResize2D
from spot_tf.run.precision import precision

# conv_1..conv_5 of the AlexNet discriminator at 227 px (VALID padding, the probes' size).
SHAPES_227 = {"conv_1": (55, 55, 96), "conv_2": (27, 27, 256), "conv_3": (13, 13, 384), "conv_4": (13, 13, 384),
              "conv_5": (13, 13, 256)}


@pytest.mark.parametrize("pooling,layer", [("average", AdaptiveAveragePooling2D), ("bilinear", BilinearResize2D)])
def test_grids_and_dense_sizes_at_227(pooling, layer):
    probe = LinearProbe(SHAPES_227, num_classes=10, pooling=pooling)
    assert probe.layer_names == tuple(SHAPES_227)
    assert probe.grids == {"conv_1": (10, 10), "conv_2": (6, 6), "conv_3": (5, 5), "conv_4": (5, 5),
                           "conv_5": (6, 6)}
    assert [type(head.layers[0]) for head in probe.heads] == [layer] * 5
    assert [tuple(head.layers[-1].kernel.shape) for head in probe.heads] == [
        (9600, 10), (9216, 10), (9600, 10), (9600, 10), (9216, 10)]
    # Nothing but the dense layers is trained; no batch norm unless asked.
    assert len(probe.trainable_weights) == 10 and not probe.non_trainable_weights
    features = {name: tf.zeros((2,) + shape) for name, shape in SHAPES_227.items()}
    assert {name: tuple(v.shape) for name, v in probe(features).items()} == {name: (2, 10) for name in SHAPES_227}


def _features(shapes, seed=0, batch=3):
    return {name: tf.random.stateless_normal((batch,) + shape, seed=(seed, i)) for i, (name, shape) in
            enumerate(shapes.items())}


@pytest.mark.parametrize("pooling", ["average", "bilinear"])
def test_each_head_is_a_linear_map_of_its_reduced_map(pooling):
    shapes = {"conv_1": (8, 8, 3), "conv_5": (5, 7, 2)}
    probe = LinearProbe(shapes, num_classes=4, target_features=12, pooling=pooling, seed=0)
    assert probe.grids == {"conv_1": (2, 2), "conv_5": (2, 2)}
    features = _features(shapes)
    logits = probe(features)
    for name, head in zip(probe.layer_names, probe.heads):
        x = features[name]
        if pooling == "average":
            reduced = AdaptiveAveragePooling2D((2, 2))(x)
        else:  # TF's bilinear resize: half-pixel centres, no antialiasing (Caffe's Resize samples).
            reduced = tf.image.resize(x, (2, 2), method="bilinear", antialias=False)
        dense = head.layers[-1]
        expected = reduced.numpy().reshape(3, -1) @ dense.kernel.numpy() + dense.bias.numpy()
        np.testing.assert_allclose(logits[name].numpy(), expected, rtol=1e-5, atol=1e-5)
    # Average pooling and resizing differ where a bin holds more than one sample.
    other = LinearProbe(shapes, 4, 12, pooling="bilinear" if pooling == "average" else "average", seed=0)
    assert not np.allclose(other(features)["conv_1"].numpy(), logits["conv_1"].numpy(), atol=1e-4)


def test_batch_norm_adds_a_parameter_free_caffe_batch_norm():
    shapes = {"conv_1": (6, 6, 3), "conv_2": (4, 4, 5)}
    probe = LinearProbe(shapes, num_classes=3, target_features=20, pooling="bilinear", batch_norm=True)
    for head in probe.heads:
        assert [type(layer).__name__ for layer in head.layers] == [
            "BilinearResize2D", "CaffeBatchNorm", "Flatten", "Dense"]
        bn = head.layers[1]
        assert isinstance(bn, CaffeBatchNorm) and not bn.trainable_weights and len(bn.non_trainable_weights) == 3
    # Only the dense kernels and biases train.
    assert [w.path.rsplit("/", 1)[1] for w in probe.trainable_weights] == ["kernel", "bias"] * 2
    # training=True reaches the batch norm: it accumulates the batch statistics.
    probe(_features(shapes), training=True)
    assert all(float(head.layers[1].weight_sum.numpy()) == 1.0 for head in probe.heads)
    probe(_features(shapes), training=False)
    assert all(float(head.layers[1].weight_sum.numpy()) == 1.0 for head in probe.heads)


def test_bad_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling.*'max'"):
        LinearProbe({"conv_1": (4, 4, 3)}, num_classes=2, pooling="max")


def test_seed_fixes_the_kernels():
    shapes = {"conv_1": (4, 4, 3)}
    a, b, c = (LinearProbe(shapes, 2, 12, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.heads[0].layers[-1].kernel.numpy(), b.heads[0].layers[-1].kernel.numpy())
    assert not np.array_equal(a.heads[0].layers[-1].kernel.numpy(), c.heads[0].layers[-1].kernel.numpy())


@pytest.mark.parametrize("pooling,batch_norm", [("average", False), ("bilinear", True)])
def test_serialization_and_keras_file(tmp_path, pooling, batch_norm):
    shapes = {"conv_1": (4, 4, 3), "conv_5": (2, 2, 5)}
    probe = LinearProbe(shapes, num_classes=3, target_features=20, pooling=pooling, batch_norm=batch_norm, seed=1)
    features = _features(shapes, batch=2)
    if batch_norm:  # accumulated statistics, which the saved file must keep
        probe(_features(shapes, seed=7, batch=4), training=True)
    run_layer_test(probe, features, tmp_path)


def test_split_brain_heads_run_under_bf16():
    shapes = {"conv_1": (6, 6, 3)}
    with precision("bf16"):
        probe = LinearProbe(shapes, num_classes=3, target_features=12, pooling="bilinear", batch_norm=True)
    features = _features(shapes)
    logits = probe(features, training=True)["conv_1"]
    assert logits.dtype == tf.bfloat16 and probe(features)["conv_1"].dtype == tf.bfloat16
    bn = probe.heads[0].layers[1]
    assert bn.mean_sum.dtype == "float32" and float(bn.weight_sum.numpy()) == 1.0


def test_a_checkpoint_holds_every_head(tmp_path):
    shapes = {"conv_1": (4, 4, 3), "conv_5": (2, 2, 5)}
    probe = LinearProbe(shapes, num_classes=3, target_features=20, batch_norm=True, seed=1)
    probe(_features(shapes, batch=4), training=True)
    assert len(probe.weights) == 2 * (2 + 3)  # no head counted twice
    path = tf.train.Checkpoint(probe=probe).save(str(tmp_path / "ckpt"))
    saved = [shape for name, shape in tf.train.list_variables(path) if name.startswith("probe/")]
    assert sorted(map(tuple, saved)) == sorted(tuple(w.shape) for w in probe.weights)
    fresh = LinearProbe(shapes, num_classes=3, target_features=20, batch_norm=True, seed=2)
    tf.train.Checkpoint(probe=fresh).restore(path).assert_consumed()
    for a, b in zip(fresh.weights, probe.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=b.path)
