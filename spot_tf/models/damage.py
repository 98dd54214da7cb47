"""The feature damage between the frozen encoder and the repair network."""
import keras
import tensorflow as tf
from keras import ops

from spot_tf.models.resize import upsample_nearest


def draw_keep_mask(batch_shape, keep_prob, seed):
    """Draws the damage mask: 1 (kept) with probability `keep_prob` per spatial entry.

    Args:
        batch_shape: (batch, height, width) of the feature map.
        keep_prob: Probability that an entry is kept.
        seed: A stateless seed, shape [2] integer tensor. The trainer derives it from the step and the
            replica id, so every replica draws its own mask and a resumed run draws the same masks.

    Returns:
        A float32 tensor [batch, height, width, 1]; the mask is shared by all channels.
    """
    shape = tf.stack([batch_shape[0], batch_shape[1], batch_shape[2], 1])
    # The original's dropout: floor(keep_prob + U[0, 1)) is 1 with probability keep_prob.
    return tf.floor(keep_prob + tf.random.stateless_uniform(shape, seed=tf.cast(seed, tf.int64)))


def mask_labels(keep_mask):
    """The mask head's labels for concat[real, repaired]: all cells kept for the real half, then the mask.

    Args:
        keep_mask: [B, h, w, 1], 1 = kept.

    Returns:
        float32 [2B, h * w], row for row and cell for cell the discriminator's `mask_logits`.
    """
    keep_mask = tf.cast(keep_mask, tf.float32)
    labels = tf.concat([tf.ones_like(keep_mask), keep_mask], axis=0)
    return tf.reshape(labels, [tf.shape(labels)[0], -1])


def mask_to_image(keep_mask, image_size):
    """The mask on the image grid (nearest): each cell's value over the image_size / h square of pixels it covers.

    Args:
        keep_mask: [B, h, w, 1], 1 = kept, with a static h.
        image_size: Side of the images, a multiple of h.

    Returns:
        float32 [B, image_size, image_size, 1].
    """
    grid = keep_mask.shape[1]
    if image_size % grid:
        raise ValueError(f"image_size {image_size} is not a multiple of the mask's grid {grid}")
    return upsample_nearest(tf.cast(keep_mask, tf.float32), image_size // grid)


@keras.saving.register_keras_serializable(package="spot_tf")
class FeatureDamage(keras.layers.Layer):
    """Drops feature entries and fills them with the 3x3 average of the undamaged features.

    `damaged = m * phi + (1 - m) * avgpool3x3(phi)`, with no 1/keep rescaling. The 3x3 average is
    stride 1, SAME, and averages only in-image neighbours.

    Args:
        keep_prob: Probability that an entry is kept (the original code keeps 0.3, i.e. drops 70%).
        seed: Seed of the layer's own generator, used when neither a mask nor a seed is passed.
    """

    def __init__(self, keep_prob=0.3, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
        self.keep_prob = keep_prob
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.average = keras.layers.AveragePooling2D(3, strides=1, padding="same")

    def call(self, features, keep_mask=None, seed=None):
        """Returns (damaged features, mask). `keep_mask` [B, h, w, 1] (1 = kept) or `seed` fix the draw."""
        mask = keep_mask
        if mask is None:
            if seed is None:
                seed = self.seed_generator.next()
            shape = ops.shape(features)
            mask = draw_keep_mask(shape[:3], self.keep_prob, seed)
        mask = ops.cast(mask, features.dtype)
        filled = self.average(features)
        return mask * features + (1.0 - mask) * filled, mask

    def compute_output_shape(self, input_shape):
        return input_shape, tuple(input_shape[:3]) + (1,)

    def get_config(self):
        return {**super().get_config(), "keep_prob": self.keep_prob, "seed": self.seed}
