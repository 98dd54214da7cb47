"""One run at a time per folder: a lock file in model_dir holding the owner's pid and host.

A second command on the same model_dir would train beside the first and mix their checkpoints and
event files, so it is refused. A lock whose process is gone (on this host) was left by a run that
was killed: it is taken over. Only the chief of a multi-worker run takes the lock; its other workers
write nothing to model_dir.
"""
import contextlib
import json
import os
import socket
import time
import uuid

from absl import logging

from spot_tf.errors import SettingError
from spot_tf.safe_write import TEMP_INFIX

LOCK_FILE = ".spot_tf.lock"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(path):
    """The lock's {"pid", "host", "since"}, or None if it is not a lock this tool wrote (edited, cut)."""
    try:
        with open(path, encoding="utf-8") as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return None
    if (not isinstance(owner, dict) or type(owner.get("pid")) is not int or not 0 < owner["pid"] < 2 ** 31
            or not isinstance(owner.get("host"), str)):
        return None
    return owner


def _create(path, content):
    """Creates `path` holding `content`, or raises FileExistsError. The file appears whole or not at all
    (written beside it, then linked into place), so a full disk never leaves an empty lock behind."""
    staging = f"{path}{TEMP_INFIX}{uuid.uuid4().hex[:8]}"
    try:
        with open(staging, "x", encoding="utf-8") as f:
            f.write(content)
        try:
            os.link(staging, path)
        except FileExistsError:
            raise
        except OSError:  # A file system without hard links: create, then fill (a cut write is removed).
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(content)
            except BaseException:
                os.remove(path)
                raise
    finally:
        try:
            os.remove(staging)
        except OSError:
            pass


def acquire(model_dir):
    """Creates model_dir's lock file; raises SettingError naming the owner if another run holds it."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise SettingError("model_dir", model_dir, "is a file, not a folder")
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, LOCK_FILE)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            _create(path, json.dumps(me))
        except FileExistsError:
            if not os.path.isfile(path):
                raise SettingError("model_dir", model_dir, f"{path} is in the way of the lock file and is not "
                                   f"one: move it away") from None
            owner = _owner(path)
            stale = owner is not None and owner["host"] == me["host"] and not _alive(owner["pid"])
            if not stale:
                held = (f"pid {owner.get('pid')} on {owner.get('host')} since {owner.get('since')}" if owner
                        else "a lock file this tool did not write, or one edited since")
                raise SettingError("model_dir", model_dir, f"another run is using this folder ({held}; "
                                   f"{path}): wait for it to end, or remove the lock file if it is gone") from None
            logging.warning("taking over the lock of pid %s, which is gone (%s)", owner.get("pid"), path)
            os.remove(path)
            continue
        return path
    raise SettingError("model_dir", model_dir, f"could not take the lock {path}")


def release(path):
    """Removes the lock file if it is still this process's."""
    owner = _owner(path)
    if owner is not None and owner["pid"] == os.getpid() and owner["host"] == socket.gethostname():
        os.remove(path)


@contextlib.contextmanager
def run_lock(model_dir):
    """Holds model_dir's lock for the block."""
    path = acquire(model_dir)
    try:
        yield path
    finally:
        release(path)
