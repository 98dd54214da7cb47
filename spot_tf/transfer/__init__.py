"""Transfer (phase 3): SavedModel export, frozen feature sources, linear probes, k-NN and conv_5 fine-tuning."""
from spot_tf.transfer.export import export_saved_model, min_input_size
from spot_tf.transfer.feature_source import FeatureExtractor, features_of, is_saved_model, load_feature_extractor
from spot_tf.transfer.finetune import run_finetune
from spot_tf.transfer.knn import run_knn_eval
from spot_tf.transfer.linear_probe import LinearProbe, run_linear_eval
from spot_tf.transfer.pooling import AdaptiveAveragePooling2D, probe_grid
from spot_tf.transfer.report import write_report

__all__ = [
    "AdaptiveAveragePooling2D", "FeatureExtractor", "LinearProbe", "export_saved_model", "features_of",
    "is_saved_model", "load_feature_extractor", "min_input_size", "probe_grid", "run_finetune", "run_knn_eval",
    "run_linear_eval", "write_report",
]
