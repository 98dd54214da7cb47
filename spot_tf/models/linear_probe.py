"""The linear probes of the paper's ImageNet table: one linear softmax classifier per frozen conv layer.

Each layer's map is reduced to a grid of about 9,000 features (`probe_grid`; averaged or resized
bilinearly, see pooling.py), optionally normalised by a parameter-free batch norm (split-brain's),
flattened and fed to its own dense layer. The heads share nothing, so one summed loss trains each on
its own.
"""
import keras

from spot_tf.models.caffe_batch_norm import CaffeBatchNorm
from spot_tf.models.pooling import POOLING, PROBE_FEATURES, probe_grid
from spot_tf.models.tracking import track_by_name


@keras.saving.register_keras_serializable(package="spot_tf")
class LinearProbe(keras.Model):
    """One linear classifier per layer: `probe(features)` -> {layer: logits [B, num_classes]}.

    Args:
        feature_shapes: {layer: (height, width, channels)} of the frozen maps at the training size.
        num_classes: Number of classes.
        target_features: Features per layer after the reduction (the protocols' ~9,000).
        pooling: "average" (deepcluster) or "bilinear" (split-brain's Caffe Resize).
        batch_norm: Normalise the reduced map with a parameter-free CaffeBatchNorm (split-brain).
        seed: Seed of the dense kernels' initializer.
    """

    def __init__(self, feature_shapes, num_classes, target_features=PROBE_FEATURES, pooling="average",
                 batch_norm=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLING:
            raise ValueError(f"pooling must be one of {sorted(POOLING)}, got {pooling!r}")
        self.feature_shapes = {name: tuple(shape) for name, shape in feature_shapes.items()}
        self.num_classes = num_classes
        self.target_features = target_features
        self.pooling = pooling
        self.batch_norm = batch_norm
        self.seed = seed
        self.layer_names = tuple(feature_shapes)
        self.grids = {name: probe_grid(*shape, target_features) for name, shape in self.feature_shapes.items()}
        self.heads = []
        for name in self.layer_names:
            layers = [POOLING[pooling](self.grids[name])]
            if batch_norm:
                layers.append(CaffeBatchNorm())
            layers += [keras.layers.Flatten(),
                       keras.layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed))]
            head = keras.Sequential(layers, name=f"probe_{name}")
            head.build((None,) + self.feature_shapes[name])
            self.heads.append(head)
        # A list's layers are not checkpoint children: attached by name, the heads are in trainer.checkpoint().
        track_by_name(self, self.heads)
        # Every head is built from its shape: so is the probe (fit() under a strategy relies on it).
        self.built = True

    def call(self, features, training=False):
        return {name: head(features[name], training=training) for name, head in zip(self.layer_names, self.heads)}

    def get_config(self):
        return {**super().get_config(), "feature_shapes": self.feature_shapes, "num_classes": self.num_classes,
                "target_features": self.target_features, "pooling": self.pooling, "batch_norm": self.batch_norm,
                "seed": self.seed}
