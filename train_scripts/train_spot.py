"""Trains and evaluates "Learning to Spot Artifacts" (Jenni & Favaro, CVPR 2018).

    python train_scripts/train_spot.py --flagfile=train_scripts/configs/demo.flags [--flag=value ...]

Phases (--phase): autoencoder (phase 1), spot (phase 2), export (SavedModel of the discriminator's
conv layers), linear_eval (linear probes on frozen conv_1..conv_5), finetune (the original STL-10
protocol), all (autoencoder, spot, export, linear_eval). One --model_dir holds a run; re-running a
command resumes from its latest checkpoint.
"""
import os
import sys

from absl import app, flags

F = flags.FLAGS
flags.DEFINE_enum("phase", "all", ["autoencoder", "spot", "export", "linear_eval", "finetune", "all"],
                  "What to run.")
flags.DEFINE_string("model_dir", None, "Directory of the run (checkpoints, logs, export, results).")
flags.DEFINE_string("dataset", "demo", "A TFRecord pattern or directory (ImageNet schema), tfds:NAME, a folder "
                    "of class subfolders, or 'demo' (embedded sample photos).")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data_dir for --dataset=tfds:NAME.")
flags.DEFINE_string("data_cache_dir", None, "Where the demo data is written once (default ~/.cache/spot_tf).")
flags.DEFINE_integer("image_size", 96, "Training image size (a multiple of 2**ae_depth).", lower_bound=16)
flags.DEFINE_integer("ae_depth", 4, "Encoder depth: 4 (STL-10) or 5 (ImageNet).", lower_bound=1, upper_bound=5)
flags.DEFINE_integer("batch_size", 128, "GLOBAL batch size (split over replicas).", lower_bound=1)
flags.DEFINE_integer("ae_steps", 1000, "Autoencoder training steps.", lower_bound=0)
flags.DEFINE_integer("spot_steps", 1000, "Spot training steps.", lower_bound=0)
flags.DEFINE_integer("eval_steps", 1000, "Training steps of the linear probes / fine-tuning.", lower_bound=0)
flags.DEFINE_float("learning_rate", 3e-4, "Initial learning rate of the unsupervised phases ('linear' policy).")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices (to try --strategy=mirrored "
                     "without GPUs).", lower_bound=0)
flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints.", lower_bound=1)
flags.DEFINE_integer("summary_every", 100, "Steps between TensorBoard summaries.", lower_bound=1)
flags.DEFINE_integer("keep_checkpoints", 5, "Checkpoints kept per phase.", lower_bound=1)
flags.DEFINE_enum("generator_loss", "code", ["code", "paper"],
                  "Repair-network loss: 'code' (the reference code: sum of all tower losses) or 'paper'.")
flags.DEFINE_float("keep_prob", 0.3, "Probability that a feature entry survives the damage (code: 0.3).")
flags.DEFINE_enum("disc_padding", "same", ["same", "valid"], "Discriminator padding.")
flags.DEFINE_bool("repair_preactivation", False, "The paper's BN + activation at the start of each repair block.")
flags.DEFINE_bool("sync_batch_norm", False, "Batch-norm statistics over all replicas (original: per replica).")
flags.DEFINE_enum("mixed_precision", "none", ["none", "bf16", "fp16"], "Mixed precision policy.")
flags.DEFINE_bool("xla", False, "jit_compile the train steps.")
flags.DEFINE_integer("seed", 0, "Seed of data order, augmentation, damage masks and dropout.")
flags.DEFINE_bool("strict_decode", False, "Fail on an image that does not decode instead of skipping it.")
flags.DEFINE_string("ae_checkpoint", None, "Autoencoder for the spot phase (this port's or an original TF1 "
                    "checkpoint); default: model_dir/autoencoder.")
flags.DEFINE_string("export_dir", None, "SavedModel directory (default model_dir/export).")
flags.DEFINE_bool("export_ema", False, "Export / evaluate the moving-average weights.")
flags.DEFINE_string("eval_source", None, "What linear_eval / finetune evaluate: a spot checkpoint, an original "
                    "TF1 checkpoint or an exported SavedModel (default: model_dir/spot).")
flags.DEFINE_integer("finetune_layers", 0, "finetune: number of top conv layers trained (0 = linear).",
                     lower_bound=0, upper_bound=5)
flags.DEFINE_integer("eval_image_size", 0, "Image size of linear_eval / finetune (0 = --image_size).",
                     lower_bound=0)
flags.DEFINE_integer("eval_batch_size", 0, "Batch size of linear_eval / finetune (0 = --batch_size).", lower_bound=0)
flags.mark_flag_as_required("model_dir")


def _split_cpu(count):
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if F.cpu_devices:
        _split_cpu(F.cpu_devices)
    from spot_tf.config import RunConfig
    from spot_tf.phases import EXPECTED_ERRORS, run_phases

    fields = RunConfig.__dataclass_fields__
    cfg = RunConfig(**{name: F[name].value for name in fields if name in F})
    try:
        cfg.validate()
        run_phases(cfg, F.phase)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
