"""spot-tf: "Self-Supervised Feature Learning by Learning to Spot Artifacts" in TF2 / Keras 3."""

__version__ = "0.1.0"
