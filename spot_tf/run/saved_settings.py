"""config.json: the settings a run was made with, and what a later invocation may change.

The first command on a run whose work starts for real writes every setting to model_dir/config.json
(one that fails first writes nothing). A later invocation on the same folder starts from those
settings; a setting it names explicitly replaces the saved one, unless the setting is locked (it
fixes what the checkpoints hold: the architecture, the damage, the losses, the learning rate, the
seeds), in which case a different value is refused.
"""
import json
import os

import spot_tf
from spot_tf.errors import SettingError
from spot_tf.run.checkpoint_files import checkpoint_steps
from spot_tf.run.folder import config_path
from spot_tf.safe_write import describe_os_error, write_json
from spot_tf.settings import RunSettings, setting_fields


def read(model_dir):
    """The RunSettings saved in model_dir/config.json, or None if the run has none yet."""
    path = config_path(model_dir)
    if not os.path.lexists(path):
        return None
    if not os.path.isfile(path):
        raise SettingError("model_dir", model_dir, f"{path} is not a file: move it away, or use another model_dir")
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        values = {name: value for section in RunSettings.__dataclass_fields__ if section != "model_dir"
                  for name, value in saved.get(section, {}).items()}
        return RunSettings.from_flat(model_dir, values)
    except (ValueError, TypeError, AttributeError) as err:
        raise SettingError("model_dir", model_dir, f"{path} is not a spot_tf settings file ({err})") from None
    except OSError as err:
        raise SettingError("model_dir", model_dir, f"cannot read {path}: {describe_os_error(err)}") from None


def resolve(model_dir, given):
    """The settings of this invocation: the saved ones (if any) with `given` applied.

    Args:
        model_dir: The run's folder.
        given: {setting name: value} of the settings named explicitly (e.g. on the command line).

    Returns:
        (RunSettings, {name: (saved value, given value)} of the saved settings that `given` replaced).
        Raises SettingError naming a locked setting whose given value differs from the saved one.
    """
    saved = read(model_dir)
    if saved is None:
        return RunSettings.from_flat(model_dir, given), {}
    saved_values = saved.flat()
    fields = setting_fields()
    changed = {name: (saved_values[name], value) for name, value in given.items()
               if name in saved_values and value != saved_values[name]}
    for name, (old, new) in changed.items():
        if fields[name][1].metadata["locked"]:
            held = "what its checkpoints hold" if _holds_checkpoints(model_dir) else "what its saved results mean"
            raise SettingError(name, new, f"the run in {model_dir} was made with {name}={old!r} "
                               f"({config_path(model_dir)}), and {name} fixes {held}: "
                               f"use another model_dir for another {name}")
    return saved.replace(**given), changed


def _holds_checkpoints(model_dir):
    """Whether a phase folder of the run holds a checkpoint (what a refusal may then name)."""
    return any(checkpoint_steps(os.path.join(model_dir, name)) for name in os.listdir(model_dir)
               if os.path.isdir(os.path.join(model_dir, name)))


def write(settings):
    """Writes model_dir/config.json once (atomically); an existing file is left as it is.

    Called when the work of a command starts for real (a phase trains, or has written its results),
    so that a command that fails first leaves no settings behind to refuse the corrected one.
    Returns whether the file was written.
    """
    path = config_path(settings.model_dir)
    if os.path.exists(path):
        return False
    write_json(path, {"spot_tf_version": spot_tf.__version__, **settings.sections()})
    return True
