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

from absl import logging

from spot_tf.errors import SettingError

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
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def acquire(model_dir):
    """Creates model_dir's lock file; raises SettingError naming the owner if another run holds it."""
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, LOCK_FILE)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(path)
            stale = owner is not None and owner.get("host") == me["host"] and not _alive(int(owner.get("pid", 0)))
            if not stale:
                held = (f"pid {owner.get('pid')} on {owner.get('host')} since {owner.get('since')}" if owner
                        else "an unreadable lock")
                raise SettingError("model_dir", model_dir, f"another run is using this folder ({held}; "
                                   f"{path}): wait for it to end, or remove the lock file if it is gone") from None
            logging.warning("taking over the lock of pid %s, which is gone (%s)", owner.get("pid"), path)
            os.remove(path)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        return path
    raise SettingError("model_dir", model_dir, f"could not take the lock {path}")


def release(path):
    """Removes the lock file if it is still this process's."""
    owner = _owner(path)
    if owner is not None and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        os.remove(path)


@contextlib.contextmanager
def run_lock(model_dir):
    """Holds model_dir's lock for the block."""
    path = acquire(model_dir)
    try:
        yield path
    finally:
        release(path)
