"""The loss of each network, as per-replica contributions whose sum over replicas is the loss.

Every function returns a dict of named terms. Each term is this replica's share: per-example terms
are divided by the GLOBAL example count (`tf.nn.compute_average_loss`), L2 terms by the number of
replicas, and the masked MSE (a mean over this replica's kept pixels, as each of the original's
towers computed it) by the number of replicas, so that the SUM all-reduce of gradients under a
tf.distribute strategy is the original's average of tower gradients. With one replica the terms are
the original's values. No term needs a collective of its own.
"""
import tensorflow as tf

from spot_tf.errors import SettingError
from spot_tf.models import mask_labels, mask_to_image
from spot_tf.run.distribution import num_replicas
from spot_tf.settings import GENERATOR_LOSSES

RECONSTRUCTION_WEIGHT = 30.0
MASK_PREDICTION_WEIGHT = 0.1


def check_generator_loss(generator_loss):
    """Raises SettingError unless `generator_loss` is one of GENERATOR_LOSSES."""
    if generator_loss not in GENERATOR_LOSSES:
        raise SettingError("generator_loss", generator_loss, f"must be one of {', '.join(GENERATOR_LOSSES)}")


def _mean(per_example, global_size):
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_size)


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
    logits = tf.cast(logits, tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=real_labels(batch), logits=logits)
    mask_ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=mask_labels(keep_mask),
                                                      logits=tf.cast(mask_logits, tf.float32))
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
    weights = tf.broadcast_to(mask_to_image(keep_mask, images.shape[1]), tf.shape(images))
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
    check_generator_loss(generator_loss)
    d_terms = discriminator_terms(outputs["logits"], outputs["mask_logits"], outputs["mask"], global_batch)
    r_terms = repair_terms(images, outputs["repaired"], outputs["logits"], outputs["mask"], global_batch)
    d_total = d_terms["real_fake_ce"] + d_terms["mask_ce_x0.1"] + discriminator_l2
    r_total = r_terms["swapped_ce"] + r_terms["masked_mse_x30"] + repair_l2
    if generator_loss == "code":
        r_total += d_terms["real_fake_ce"] + d_terms["mask_ce_x0.1"]
    terms = {**d_terms, **r_terms, "l2_repair": repair_l2, "l2_discriminator": discriminator_l2}
    return terms, d_total, r_total
