"""Keras models of the spot architecture: autoencoder, damage, repair network, discriminator."""
from spot_tf.models.autoencoder import Autoencoder, Decoder, Encoder, UpStep
from spot_tf.models.conv_unit import ConvUnit, GroupedConvUnit, slim_l2
from spot_tf.models.damage import FeatureDamage, draw_keep_mask, mask_labels, mask_to_image
from spot_tf.models.discriminator import CONV_LAYERS, Discriminator, LocalResponseNormalization
from spot_tf.models.repair import RepairBlock, RepairNetwork
from spot_tf.models.spot_model import SpotModel, feature_grid, needs_pool5
from spot_tf.models.tf1_checkpoint import CheckpointMismatchError, load_tf1_variables

__all__ = [
    "Autoencoder", "CONV_LAYERS", "CheckpointMismatchError", "ConvUnit", "Decoder", "Discriminator", "Encoder",
    "FeatureDamage", "GroupedConvUnit", "LocalResponseNormalization", "RepairBlock", "RepairNetwork",
    "SpotModel", "UpStep", "draw_keep_mask", "feature_grid", "load_tf1_variables", "mask_labels", "mask_to_image",
    "needs_pool5", "slim_l2",
]
