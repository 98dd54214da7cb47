"""Where a run keeps what it writes: one folder per phase under `model_dir`.

    model_dir/config.json            the run's settings (spot_tf.run.saved_settings)
    model_dir/autoencoder/ckpt-N     phase 1 checkpoints, logs/ for TensorBoard
    model_dir/spot/ckpt-N            phase 2 checkpoints, logs/, real_vs_repaired.png
    model_dir/export/                the SavedModel (or --export_dir)
    model_dir/linear_eval/, finetune_convN/   results.json, .md, top1.png, logs/
"""
import os

CONFIG_FILE = "config.json"
CHECKPOINT_NAME = "ckpt"
LOGS = "logs"


def phase_dir(model_dir, phase):
    """The folder of one phase (`autoencoder`, `spot`, `linear_eval`, `finetune_conv1`, ...)."""
    return os.path.join(model_dir, phase)


def logs_dir(model_dir, phase):
    """TensorBoard event files of one phase."""
    return os.path.join(phase_dir(model_dir, phase), LOGS)


def config_path(model_dir):
    return os.path.join(model_dir, CONFIG_FILE)


def export_dir(settings):
    """Where the export phase writes the SavedModel: `export_dir`, else model_dir/export."""
    return settings.evaluation.export_dir or phase_dir(settings.model_dir, "export")


def eval_source(settings):
    """What the evaluators read: `eval_source`, else the run's spot phase."""
    return settings.evaluation.eval_source or phase_dir(settings.model_dir, "spot")


def autoencoder_source(settings):
    """What the spot phase starts from: `ae_checkpoint`, else the run's autoencoder phase."""
    return settings.training.ae_checkpoint or phase_dir(settings.model_dir, "autoencoder")
