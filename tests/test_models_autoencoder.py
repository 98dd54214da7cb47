import numpy as np
import pytest
import tensorflow as tf
from layer_checks import run_layer_test

from spot_tf.models.autoencoder import Autoencoder, Decoder, Encoder, UpStep, decoder_step_names, decoder_widths


def _count(net):
    return sum(int(np.prod(v.shape)) for v in net.trainable_weights)


@pytest.mark.parametrize("size,depth", [(32, 4), (64, 4), (64, 5)])
def test_shapes(size, depth):
    ae = Autoencoder(depth)
    x = tf.random.uniform((2, size, size, 3), -1, 1)
    features = ae.encoder(x)
    assert features.shape == (2, size // 2 ** depth, size // 2 ** depth, (64, 128, 256, 512, 1024)[depth - 1])
    rec = ae(x)
    assert rec.shape == x.shape
    assert float(tf.reduce_max(tf.abs(rec))) <= 1.0


def test_parameter_counts_match_the_original():
    enc, dec = Encoder(4), Decoder(4)
    dec(enc(tf.zeros((1, 96, 96, 3))))
    assert _count(enc) == 699_168
    assert _count(dec) == 1_568_547


def test_original_layer_names():
    assert decoder_widths(4) == (256, 128, 64, 32)
    assert decoder_step_names(4) == ("deconv_0", "deconv_1", "deconv_2", "deconv_4")
    ae = Autoencoder(5)
    ae(tf.zeros((1, 64, 64, 3)))
    names = ae.tf1_variables()
    assert "encoder/conv_5/weights" in names and "decoder/deconv_6/biases" in names
    assert "decoder/deconv_4/weights" not in names  # depth 5 skips deconv_4, not deconv_3


def test_l2_is_slim_convention_on_weights_and_the_rgb_bias():
    ae = Autoencoder(1)
    ae(tf.zeros((1, 8, 8, 3)))
    expected = sum(float(tf.reduce_sum(tf.square(v))) for v in ae.tf1_variables().values()
                   if v.trainable and len(v.shape) == 4) * 5e-5 / 2
    expected += float(tf.reduce_sum(tf.square(ae.decoder.to_rgb.conv.bias))) * 5e-5 / 2
    assert float(tf.add_n(ae.losses)) == pytest.approx(expected, rel=1e-5)


def test_bad_depth_is_refused():
    with pytest.raises(ValueError, match="ae_depth"):
        Encoder(6)


@pytest.mark.parametrize("make,shape", [(lambda: Encoder(2), (2, 8, 8, 3)), (lambda: UpStep(8), (2, 3, 3, 4)),
                                        (lambda: Decoder(2), (2, 2, 2, 128)), (lambda: Autoencoder(1), (2, 8, 8, 3))],
                         ids=["Encoder", "UpStep", "Decoder", "Autoencoder"])
def test_serialization_and_keras_file(make, shape, tmp_path):
    x = tf.random.stateless_uniform(shape, (1, 2), -1, 1)
    run_layer_test(make(), x, tmp_path, call_kwargs={"training": False})
