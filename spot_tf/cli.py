"""Trains and evaluates "Learning to Spot Artifacts" (Jenni & Favaro, CVPR 2018).

    spot-tf --flagfile=demo.flags [--flag=value ...]
    python train_scripts/train_spot.py --flagfile=train_scripts/configs/demo.flags [--flag=value ...]

Phases (--phase): autoencoder (phase 1), spot (phase 2), export (SavedModel of the discriminator's
conv layers), linear_eval (linear probes on frozen conv_1..conv_5), knn_eval (weighted k-NN on the
same features), finetune (the original STL-10 protocol), voc07_finetune and voc07_svm (PASCAL VOC
2007 classification of --voc_dataset: Krähenbühl et al.'s fine-tuning, Goyal et al.'s linear SVMs),
report (trained against random), all (autoencoder, spot, export, linear_eval, knn_eval, the VOC
phases when --voc_dataset is given, the random baselines of them all, report). One
--model_dir holds a run: its first phase writes every setting to model_dir/config.json, and a later
command on the same folder starts from them (`--phase=export --model_dir=M` needs no other flag).
voc_seg (FCN-32s segmentation of --voc_seg_dataset, with --sbd_dir) joins
"all" when --voc_seg_dataset is given. Re-running a command resumes from its latest checkpoint. --flagfile takes a path or the name of a packaged flagfile (demo, stl10, imagenet).

This module is the entry point: it defines one flag per setting of spot_tf.settings and maps the
library's setting errors to their flags. Nothing in the library imports it.
"""
import os
import sys

from absl import app, flags, logging

from spot_tf import settings as settings_lib
from spot_tf.errors import SettingError, fail

PHASE_CHOICES = ("autoencoder", "spot", "export", "linear_eval", "knn_eval", "finetune", "voc07_finetune", "voc07_svm",
                 "voc_seg", "report", "all")
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """--phase, --model_dir and one flag per setting (name, default, help, choices and bounds)."""
    flags.DEFINE_enum("phase", "all", PHASE_CHOICES, "What to run.", flag_values=flag_values)
    flags.DEFINE_string("model_dir", None, "Directory of the run (settings, checkpoints, logs, export, results).",
                        flag_values=flag_values)
    for name, (section, field) in settings_lib.setting_fields().items():
        meta, kind = field.metadata, settings_lib.value_type(field)
        help_text = f"{meta['help']} [{section}{'; fixed for a run' if meta['locked'] else ''}]"
        common = dict(name=name, default=field.default, help=help_text, flag_values=flag_values)
        if kind is bool:
            flags.DEFINE_bool(**common)
        elif meta["choices"] is not None:
            flags.DEFINE_enum(enum_values=list(meta["choices"]), **common)
        elif kind is int:
            flags.DEFINE_integer(lower_bound=meta["lower"], upper_bound=meta["upper"], **common)
        elif kind is float:
            flags.DEFINE_float(lower_bound=meta["lower"], upper_bound=meta["upper"], **common)
        else:
            flags.DEFINE_string(**common)
    flags.mark_flag_as_required("model_dir", flag_values=flag_values)


def packaged_flagfiles(argv):
    """argv with `--flagfile=NAME` pointing at the packaged flagfile NAME(.flags) when NAME is no file."""
    def resolve(value):
        if os.path.exists(value):
            return value
        for candidate in (os.path.join(CONFIGS_DIR, value), os.path.join(CONFIGS_DIR, f"{value}.flags")):
            if os.path.isfile(candidate):
                return candidate
        return value

    out, args = [], iter(argv)
    for arg in args:
        if arg.startswith("--flagfile="):
            arg = "--flagfile=" + resolve(arg.split("=", 1)[1])
        elif arg == "--flagfile":
            arg = "--flagfile=" + resolve(next(args, ""))
        out.append(arg)
    return out


def check_flagfile(path, seen=()):
    """Fails naming the file (and the byte) unless `path`, and every flagfile it names, reads as UTF-8 text."""
    if path in seen or not os.path.lexists(path):
        return  # absl names a missing flagfile itself.
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        from spot_tf.safe_write import describe_os_error
        fail(f"--flagfile={path}: {describe_os_error(err)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        fail(f"--flagfile={path}: not UTF-8 text: byte 0x{data[err.start]:02x} at line {line} (offset {err.start}); "
             f"save it as UTF-8")
    for line in text.splitlines():
        if line.strip().startswith("--flagfile="):
            check_flagfile(line.strip().split("=", 1)[1], (*seen, path))


def parse_flags(argv):
    """absl's parse, with a bad flag (or flagfile) reported as one `error:` line."""
    for arg in argv[1:]:
        if arg.startswith("--flagfile="):
            check_flagfile(arg.split("=", 1)[1])
    try:
        return FLAGS(argv)
    except flags.Error as err:
        fail(str(err))


def given_settings(flag_values=FLAGS):
    """{setting: value} of the settings named on the command line (or in a flagfile)."""
    return {name: flag_values[name].value for name in settings_lib.setting_fields() if flag_values[name].present}


def _split_cpu(count):
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        _run_command()
    except KeyboardInterrupt:
        # Before the handlers are in place (or after they are gone): nothing was training.
        fail("interrupted")


def _run_command():
    from spot_tf.run import saved_settings
    try:
        settings, changed = saved_settings.resolve(FLAGS.model_dir, given_settings())
        settings.validate()
    except SettingError as err:
        fail(err.as_flag())
    for name, (old, new) in changed.items():
        logging.info("%s=%r for this command (the run's config.json has %r)", name, new, old)
    if settings.training.cpu_devices:
        _split_cpu(settings.training.cpu_devices)
    import tensorflow as tf
    from spot_tf.phases import EXPECTED_ERRORS, run_phases
    from spot_tf.run.interruption import handle_signals
    from spot_tf.safe_write import describe_error_text, describe_os_error
    try:
        with handle_signals():
            run_phases(settings, FLAGS.phase)
    except SettingError as err:
        fail(err.as_flag())
    except EXPECTED_ERRORS as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        fail(describe_error_text(err) or first)
    except OSError as err:
        # A full disk, a read-only folder, a path through a file: what it means, and where.
        fail(describe_os_error(err))
    except tf.errors.OpError as err:
        # TensorFlow reports the same in words (a checkpoint or summary write on a full disk).
        line = describe_error_text(err.message)
        if line is None:
            raise
        fail(line)


def run():
    """The console script `spot-tf` (and train_scripts/train_spot.py)."""
    # `--help` lists the key flags of the main module, which is whichever script calls this.
    for name in ("phase", "model_dir", *settings_lib.setting_fields()):
        FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[name])
    try:
        app.run(main, argv=packaged_flagfiles(sys.argv), flags_parser=parse_flags)
    except SystemExit as done:
        if done.code in (0, None):
            raise
        exit_now(done.code)


def exit_now(code):
    """Ends a failed command with `code` once its output is flushed, without finalizing the interpreter.

    The error may have stopped an input pipeline while its threads were inside a numpy_function; the
    interpreter's finalization can then wait on a thread that waits for the GIL, and never end. What the
    command saved is on disk already: checkpoints are written whole, summaries flushed as they are written.
    """
    if not isinstance(code, int):  # sys.exit("message"): Python would print it.
        print(code, file=sys.stderr)
        code = 1
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


define_flags()
