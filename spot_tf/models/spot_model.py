"""SpotModel: frozen autoencoder, feature damage, repair network and discriminator in one model."""
import keras
from keras import ops

from spot_tf.models.autoencoder import ENCODER_WIDTHS, Autoencoder, decoder_widths
from spot_tf.models.damage import FeatureDamage
from spot_tf.models.discriminator import Discriminator, conv5_grid, head_grid
from spot_tf.models.repair import RepairNetwork
from spot_tf.models.tf1_checkpoint import load_tf1_variables


def feature_grid(image_size, ae_depth):
    """The encoder's feature grid, image_size / 2**ae_depth (one mask entry per cell)."""
    if image_size % (2 ** ae_depth):
        raise ValueError(f"image_size {image_size} must be a multiple of 2**ae_depth = {2 ** ae_depth}")
    return image_size // 2 ** ae_depth


def needs_pool5(image_size, ae_depth, padding="same"):
    """Whether the discriminator pools conv_5 so that its head grid equals the encoder's grid.

    The original STL-10 model (depth 4) has pool_5 off: conv_5 is image_size / 16. With depth 5 the
    encoder grid is image_size / 32 and the heads sit after pool_5. Raises if neither fits.
    """
    grid = feature_grid(image_size, ae_depth)
    if head_grid(image_size, padding, pool5=False) == grid:
        return False
    if head_grid(image_size, padding, pool5=True) == grid:
        return True
    raise ValueError(
        f"image_size {image_size} with ae_depth {ae_depth} gives an encoder grid of {grid}x{grid}, but the "
        f"discriminator's conv_5 grid is {conv5_grid(image_size, padding)} (padding {padding!r}): the mask "
        f"head predicts one logit per feature entry, so they must agree (use padding 'same', an image_size "
        f"that is a multiple of 16, and ae_depth 4 or 5)")


@keras.saving.register_keras_serializable(package="spot_tf")
class SpotModel(keras.Model):
    """The spot architecture of Jenni & Favaro (CVPR 2018), number for number the original graph.

    `call(images, mask=None, training=False)` takes images in [-1, 1] and returns a dict:
    `reconstruction` (autoencoder output of the undamaged features), `repaired` (the damaged
    features through repair network + frozen decoder), `logits` [2B, 2] (real/fake of
    concat[reconstruction, repaired]; index 1 = real), `mask_logits` [2B, h*w], `mask` [B, h, w, 1]
    (1 = kept) and the discriminator's `conv_1`..`conv_5`. The encoder and decoder always run in
    inference mode (frozen in the spot phase); the repair network and discriminator follow
    `training`.

    Args:
        image_size: Square input size, a multiple of 2**ae_depth (96 for STL-10).
        ae_depth: Encoder depth, 4 (STL-10) or 5 (ImageNet).
        keep_prob: Probability that a feature entry survives the damage (the code's 0.3).
        disc_padding: The discriminator's padding, "same" (default) or "valid".
        repair_preactivation: The paper's batch norm + activation at the start of every repair
            block (the code skips it: quirk 0).
        dropout_rate: Dropout after the discriminator's fc_1.
        sync_batch_norm: Batch statistics over all replicas (the original uses per-tower statistics).
    """

    def __init__(self, image_size=96, ae_depth=4, keep_prob=0.3, disc_padding="same", repair_preactivation=False,
                 dropout_rate=0.5, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.ae_depth = ae_depth
        self.keep_prob = keep_prob
        self.disc_padding = disc_padding
        self.repair_preactivation = repair_preactivation
        self.dropout_rate = dropout_rate
        self.sync_batch_norm = sync_batch_norm
        self.grid = feature_grid(image_size, ae_depth)
        # `mask` in call() is the damage mask, not a Keras padding mask: accept it and propagate none.
        self.supports_masking = True
        pool5 = needs_pool5(image_size, ae_depth, disc_padding)
        self.autoencoder = Autoencoder(ae_depth, name="autoencoder")
        self.damage = FeatureDamage(keep_prob, name="damage")
        self.repair = RepairNetwork((ENCODER_WIDTHS[ae_depth - 1],) + decoder_widths(ae_depth),
                                    preactivation=repair_preactivation, sync_batch_norm=sync_batch_norm,
                                    name="generator")
        self.discriminator = Discriminator(image_size, disc_padding, pool5=pool5, dropout_rate=dropout_rate,
                                           sync_batch_norm=sync_batch_norm, name="discriminator")

    @property
    def encoder(self):
        return self.autoencoder.encoder

    @property
    def decoder(self):
        return self.autoencoder.decoder

    def build(self, input_shape=None):
        """Creates every variable (needed before restoring checkpoints or building optimizers)."""
        if self.built:
            return
        # Marked built first so that the trace below only builds the sub-layers.
        self.built = True
        self(ops.zeros((2, self.image_size, self.image_size, 3)), training=False)

    def call(self, images, mask=None, training=False, seed=None, dropout_mask=None, dropout_seed=None):
        features = self.encoder(images, training=False)
        reconstruction = self.decoder(features, training=False)
        damaged, mask = self.damage(features, keep_mask=mask, seed=seed)
        repaired = self.repair(damaged, mask, decoder=self.decoder, training=training)
        out = self.discriminator((reconstruction, repaired), training=training,
                                 dropout_mask=dropout_mask, dropout_seed=dropout_seed)
        out.update(reconstruction=reconstruction, repaired=repaired, mask=mask)
        return out

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def tf1_variables(self, include=("encoder", "decoder", "generator", "discriminator")):
        """{original TF1 variable name: variable} for the named top-level scopes."""
        parts = {"encoder": lambda: self.encoder.tf1_variables("encoder"),
                 "decoder": lambda: self.decoder.tf1_variables("decoder"),
                 "generator": lambda: self.repair.tf1_variables("generator"),
                 "discriminator": lambda: self.discriminator.tf1_variables("discriminator")}
        unknown = set(include) - set(parts)
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}; choose from {sorted(parts)}")
        self.build()
        names = {}
        for scope in include:
            names.update(parts[scope]())
        return names

    def load_tf1_checkpoint(self, path, include=("encoder", "decoder", "generator", "discriminator"),
                            use_ema=False):
        """Loads a checkpoint of the original TF1 code (see `load_tf1_variables`)."""
        return load_tf1_variables(path, self.tf1_variables(include), use_ema=use_ema)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "ae_depth": self.ae_depth,
                "keep_prob": self.keep_prob, "disc_padding": self.disc_padding,
                "repair_preactivation": self.repair_preactivation, "dropout_rate": self.dropout_rate,
                "sync_batch_norm": self.sync_batch_norm}
