"""Writes that a full disk or a kill cannot leave half done, and the OS errors of a write as one line.

`replacing` (and `write_text`, `write_json` through it) writes a temporary file beside the target,
flushes it to disk and renames it into place: the target is either the old file or the new one,
whole, and a failed write removes its temporary file. `describe_os_error` says what an OSError means
for the user (the disk is full, the folder is read-only...) and where. Every module may import this
one; it imports nothing of spot_tf.
"""
import contextlib
import errno
import json
import os
import re
import uuid

# Temporary files are `<target>.tmp-<tag>`: named so that no reader takes them for the target.
TEMP_INFIX = ".tmp-"

_MEANINGS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (an immutable or protected file?)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.EEXIST: "something else already exists there",
    errno.ENAMETOOLONG: "the name is too long for the file system",
}


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path beside `path` to write; renames it onto `path` when the block ends well,
    removes it when it does not. Creates the parent folder."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    root, extension = os.path.splitext(path)
    # The extension kept last: writers that pick a format by it (a PNG) still do.
    staging = f"{root}{TEMP_INFIX}{uuid.uuid4().hex[:8]}{extension}"
    try:
        yield staging
        with open(staging, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(staging, path)
    except BaseException:
        try:
            os.remove(staging)
        except OSError:
            pass
        raise


def write_text(path, text):
    """Replaces `path` with `text` (UTF-8) atomically."""
    with replacing(path) as staging, open(staging, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path, content):
    """`write_text` of `content` as indented JSON with a final newline."""
    write_text(path, json.dumps(content, indent=2) + "\n")


def describe_os_error(err):
    """One line for an OSError: what it means and the path it concerns."""
    where = err.filename if err.filename is not None else None
    if getattr(err, "filename2", None):
        where = f"{where} -> {err.filename2}"
    meaning = _MEANINGS.get(err.errno, err.strerror or type(err).__name__)
    return f"{meaning}: {where} ({err.strerror})" if where else f"{meaning} ({err.strerror or err})"


def describe_error_text(text):
    """One line for an error message that reports an OS error in words (TensorFlow's do: "...
    /run/spot/ckpt-3_temp/part-0.data; No space left on device"), naming the first path in it; or None."""
    text = str(text)
    for code, meaning in _MEANINGS.items():
        if os.strerror(code) in text:
            # A path starts a word (a device name such as `..._device_/job:localhost/...` does not).
            where = re.search(r"(?:^|\s)(/[^\s;,'\"]+)", text)
            reason = os.strerror(code)
            return f"{meaning}: {where.group(1)} ({reason})" if where else f"{meaning} ({reason})"
    return None
