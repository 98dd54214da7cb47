import numpy as np
import tensorflow as tf
from layer_checks import run_layer_test, run_serialization_test

from spot_tf.models.autoencoder import Decoder
from spot_tf.models.repair import RepairBlock, RepairNetwork


def test_block_leaves_kept_entries_unchanged():
    block = RepairBlock(8)
    x = tf.random.stateless_normal((2, 6, 6, 8), seed=(1, 2))
    mask = tf.cast(tf.random.stateless_uniform((2, 6, 6, 1), seed=(3, 4)) < 0.5, tf.float32)
    y = block(x, mask, training=True).numpy()
    kept = np.broadcast_to(mask.numpy() > 0, x.shape)
    np.testing.assert_array_equal(y[kept], x.numpy()[kept])
    assert np.max(np.abs(y[~kept] - x.numpy()[~kept])) > 1e-4


def test_preactivation_is_optional_and_named_as_the_original():
    block = RepairBlock(4, preactivation=True)
    block(tf.zeros((1, 3, 3, 4)), tf.zeros((1, 3, 3, 1)))
    assert "r/preact/gamma" in block.tf1_variables("r")
    plain = RepairBlock(4)
    plain(tf.zeros((1, 3, 3, 4)), tf.zeros((1, 3, 3, 1)))
    assert not any("preact" in n for n in plain.tf1_variables("r"))


def test_network_parameter_count_and_frozen_decoder():
    decoder = Decoder(4)
    net = RepairNetwork((512, 256, 128, 64, 32))
    phi = tf.random.stateless_normal((2, 6, 6, 512), seed=(5, 6))
    out = net(phi, tf.ones((2, 6, 6, 1)), decoder=decoder, training=True)
    assert out.shape == (2, 96, 96, 3)
    assert sum(int(np.prod(v.shape)) for v in net.trainable_weights) == 6_297_216
    # Decoder weights belong to the autoencoder, not to the repair network.
    assert not {id(v) for v in decoder.weights} & {id(v) for v in net.weights}
    # With nothing dropped the repair network is exactly the decoder.
    np.testing.assert_allclose(out, decoder(phi, training=False), atol=1e-6)


def test_block_serialization_and_keras_file(tmp_path):
    x = tf.random.stateless_normal((2, 3, 3, 4), seed=(7, 8))
    mask = tf.cast(tf.random.stateless_uniform((2, 3, 3, 1), seed=(9, 10)) < 0.5, tf.float32)
    run_layer_test(RepairBlock(4, preactivation=True, name="r"), (x, mask), tmp_path, call_kwargs={"training": False})


def test_network_serialization():
    # The decoder is a call argument (its weights are the autoencoder's): a RepairNetwork is saved
    # within a SpotModel, so only its config is checked alone.
    phi = tf.random.stateless_normal((2, 2, 2, 64), seed=(11, 12))
    mask = tf.cast(tf.random.stateless_uniform((2, 2, 2, 1), seed=(13, 14)) < 0.5, tf.float32)
    run_serialization_test(RepairNetwork((64, 32), preactivation=True), (phi, mask),
                           call_kwargs={"decoder": Decoder(1), "training": False})
