"""Round trips through TF1-style checkpoints written with tf.compat.v1 variables of the original names."""
import numpy as np
import pytest
import tensorflow as tf

from spot_tf.models import CheckpointMismatchError, SpotModel

V1 = tf.compat.v1


def _write_tf1_checkpoint(path, tensors):
    with tf.Graph().as_default():
        variables = [V1.get_variable(name, initializer=value) for name, value in tensors.items()]
        saver = V1.train.Saver(variables)
        with V1.Session() as sess:
            sess.run(V1.global_variables_initializer())
            return saver.save(sess, str(path))


def _random_tensors(model, seed=0):
    rng = np.random.RandomState(seed)
    return {name: rng.uniform(0.5, 1.5, var.shape).astype(np.float32)
            for name, var in model.tf1_variables().items()}


def test_round_trip_with_optimizer_slots_and_ema(tmp_path):
    model = SpotModel(image_size=32)
    tensors = _random_tensors(model)
    extra = {"discriminator/conv_1/weights/Adam": np.zeros([11, 11, 3, 96], np.float32),
             "global_step": np.int64(7), "fully_connected/fc1/weights": np.zeros([2, 2], np.float32),
             "generator/repair_0/conv2/biases/ExponentialMovingAverage": np.full([512], 7.0, np.float32)}
    prefix = _write_tf1_checkpoint(tmp_path / "model.ckpt", {**tensors, **extra})
    loaded = model.load_tf1_checkpoint(prefix)
    assert len(loaded) == len(tensors)
    for name, var in model.tf1_variables().items():
        np.testing.assert_array_equal(var.numpy(), tensors[name])
    # A directory works too; the EMA variant takes the averages where the original kept them.
    model.load_tf1_checkpoint(str(tmp_path), use_ema=True)
    np.testing.assert_array_equal(model.repair.blocks[0].conv2.conv.bias.numpy(), 7.0)
    np.testing.assert_array_equal(model.repair.blocks[0].conv2.conv.kernel.numpy(),
                                  tensors["generator/repair_0/conv2/weights"])


def test_partial_load_of_the_autoencoder(tmp_path):
    model = SpotModel(image_size=32)
    tensors = {k: v for k, v in _random_tensors(model, 1).items() if k.split("/")[0] in ("encoder", "decoder")}
    prefix = _write_tf1_checkpoint(tmp_path / "ae.ckpt", tensors)
    model.load_tf1_checkpoint(prefix, include=("encoder", "decoder"))
    np.testing.assert_array_equal(model.encoder.stem.conv.kernel.numpy(), tensors["encoder/conv_0/weights"])


def test_missing_misshaped_and_unexpected_variables_are_all_named(tmp_path):
    model = SpotModel(image_size=32)
    tensors = _random_tensors(model)
    before = model.discriminator.conv_1.conv.kernel.numpy().copy()
    del tensors["generator/repair_2/conv1/BatchNorm/gamma"]
    tensors["discriminator/conv_3/weights"] = np.zeros([3, 3, 256, 100], np.float32)
    tensors["encoder/conv_5/weights"] = np.zeros([2, 2, 512, 1024], np.float32)
    prefix = _write_tf1_checkpoint(tmp_path / "bad.ckpt", tensors)
    with pytest.raises(CheckpointMismatchError) as err:
        model.load_tf1_checkpoint(prefix)
    message = str(err.value)
    assert "missing from checkpoint: generator/repair_2/conv1/BatchNorm/gamma" in message
    assert "wrong shape: discriminator/conv_3/weights is [3, 3, 256, 100] in the checkpoint, [3, 3, 256, 384]" \
        in message
    assert "not in the model: encoder/conv_5/weights" in message
    # Nothing was assigned.
    np.testing.assert_array_equal(model.discriminator.conv_1.conv.kernel.numpy(), before)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        SpotModel(image_size=32).load_tf1_checkpoint(str(tmp_path / "nowhere"))
