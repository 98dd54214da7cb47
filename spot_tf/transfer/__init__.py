"""Transfer (phase 3): SavedModel export, frozen feature sources, k-NN and the reports.

The linear probes and the fine-tuning are trainers (spot_tf.training.probe_trainer,
finetune_trainer) on models of spot_tf.models (LinearProbe, Conv5Classifier).
"""
from spot_tf.transfer.export import export_saved_model, min_input_size
from spot_tf.transfer.feature_source import FeatureExtractor, features_of, is_saved_model, load_feature_extractor
from spot_tf.transfer.knn import run_knn_eval
from spot_tf.transfer.report import read_results, write_report

__all__ = [
    "FeatureExtractor", "export_saved_model", "features_of", "is_saved_model", "load_feature_extractor",
    "min_input_size", "read_results", "run_knn_eval", "write_report",
]
