"""The loss of each network, as per-replica contributions whose sum over replicas is the loss.

Every function returns a dict of named terms. Each term is this replica's share: per-example terms
are divided by the GLOBAL example count (`tf.nn.compute_average_loss`), L2 terms by the number of
replicas, and the masked MSE (a mean over this replica's kept pixels, as each of the original's
towers computed it) by the number of replicas, so that the SUM all-reduce of gradients under a
tf.distribute strategy is the original's average of tower gradients. With one replica the terms are
the original's values. No term needs a collective of its own.
"""
import tensorflow as tf

from spot_tf.models.resize import upsample_nearest
from spot_tf.training.distribution import num_replicas

RECONSTRUCTION_WEIGHT = 30.0
MASK_PREDICTION_WEIGHT = 0.1
GENERATOR_LOSSES = ("code", "paper")


def _mean(per_example, global_size):
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_size)


def l2_term(network):
    """The network's slim-convention L2 penalty, scaled for the replicas."""
    if not network.losses:
        return tf.constant(0.0)
    return tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in network.losses]))


def real_labels(batch):
    """Labels of concat[real, repaired]: 1 (real) for the first half, 0 for the repaired half."""
    return tf.concat([tf.ones([batch], tf.int32), tf.zeros([batch], tf.int32)], axis=0)


def autoencoder_loss(images, reconstruction, global_batch):
    """Phase 1: 30 x mean squared error over all pixels (tf.losses.mean_squared_error, weights=30)."""
    per_example = tf.reduce_mean(tf.square(tf.cast(reconstruction, tf.float32) - images), axis=[1, 2, 3])
    return {"reconstruction_mse_x30": RECONSTRUCTION_WEIGHT * _mean(per_example, global_batch)}


def discriminator_terms(logits, mask_logits, keep_mask, global_batch):
    """The discriminator's real/fake CE (real = 1) and 0.1 x sigmoid CE of the mask prediction.

    Args:
        logits: [2B, 2] for concat[real, repaired].
        mask_logits: [2B, cells].
        keep_mask: [B, h, w, 1], 1 = kept; the real half's labels are all ones.
        global_batch: B summed over replicas.
    """
    batch = tf.shape(keep_mask)[0]
    keep_mask = tf.cast(keep_mask, tf.float32)
    logits = tf.cast(logits, tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=real_labels(batch), logits=logits)
    mask_labels = tf.concat([tf.ones_like(keep_mask), keep_mask], axis=0)
    mask_labels = tf.reshape(mask_labels, tf.shape(mask_logits))
    mask_ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=mask_labels, logits=tf.cast(mask_logits, tf.float32))
    return {"real_fake_ce": _mean(ce, 2 * global_batch),
            "mask_ce_x0.1": MASK_PREDICTION_WEIGHT * _mean(tf.reduce_mean(mask_ce, axis=1), 2 * global_batch)}


def repair_terms(images, repaired, logits, keep_mask, global_batch):
    """The repair network's own terms: the swapped-label CE and 30 x MSE on the kept pixels.

    The MSE is averaged over this replica's non-zero weights, as tf.losses.mean_squared_error does
    with the mask (resized nearest to the image) as weights.
    """
    batch = tf.shape(keep_mask)[0]
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=1 - real_labels(batch),
                                                        logits=tf.cast(logits, tf.float32))
    keep_mask = tf.cast(keep_mask, tf.float32)
    factor = images.shape[1] // keep_mask.shape[1]
    weights = tf.broadcast_to(upsample_nearest(keep_mask, factor), tf.shape(images))
    squared = weights * tf.square(tf.cast(repaired, tf.float32) - images)
    replicas = num_replicas()
    mse = tf.math.divide_no_nan(tf.reduce_sum(squared), tf.reduce_sum(weights)) / replicas
    return {"swapped_ce": _mean(ce, 2 * global_batch), "masked_mse_x30": RECONSTRUCTION_WEIGHT * mse}


def spot_losses(images, outputs, repair_l2, discriminator_l2, global_batch, generator_loss="code"):
    """All terms of one spot step and the two networks' totals.

    `generator_loss="code"` is the reference code's repair total: the sum of every loss created in
    the tower (its own terms plus the discriminator's real/fake and mask terms; quirk 1 of the
    spec). "paper" is the plain adversarial loss: swapped CE + masked MSE.

    Returns:
        (terms dict, discriminator total, repair total), all per-replica contributions.
    """
    if generator_loss not in GENERATOR_LOSSES:
        raise ValueError(f"--generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
    d_terms = discriminator_terms(outputs["logits"], outputs["mask_logits"], outputs["mask"], global_batch)
    r_terms = repair_terms(images, outputs["repaired"], outputs["logits"], outputs["mask"], global_batch)
    d_total = d_terms["real_fake_ce"] + d_terms["mask_ce_x0.1"] + discriminator_l2
    r_total = r_terms["swapped_ce"] + r_terms["masked_mse_x30"] + repair_l2
    if generator_loss == "code":
        r_total += d_terms["real_fake_ce"] + d_terms["mask_ce_x0.1"]
    terms = {**d_terms, **r_terms, "l2_repair": repair_l2, "l2_discriminator": discriminator_l2}
    return terms, d_total, r_total
