"""slim's L2 weight decay, as one loss term per network."""
import tensorflow as tf


def l2_term(network):
    """The network's slim-convention L2 penalty, scaled for the replicas."""
    if not network.losses:
        return tf.constant(0.0)
    return tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in network.losses]))
