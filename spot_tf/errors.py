"""Errors that name the setting at fault.

The library knows settings (`image_size`, `dataset`), not flags: it raises `SettingError` with the
setting's name, and the entry point turns that name into its flag (`--image_size`). Every module may
import this one; it imports nothing of spot_tf. The entry points end on an error with `fail`.
"""
import sys


class SettingError(ValueError):
    """A setting's value cannot be used.

    Args:
        setting: The setting's name, e.g. "image_size" (the flag of the same name at the entry point).
        value: The value at fault.
        reason: What is wrong with it, or what was expected.
    """

    def __init__(self, setting, value, reason):
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(f"{setting}={value!r}: {reason}")

    def as_flag(self):
        """The message as the command line spells it: `--setting=value: reason`."""
        return f"--{self.setting}={self.value}: {self.reason}"


class SettingPathError(SettingError, FileNotFoundError):
    """A path setting that names nothing there is (still a FileNotFoundError for callers that catch it)."""


def fail(message):
    """One line on stderr, exit code 1: how every error of a command line ends."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)
