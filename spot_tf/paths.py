"""A user's path is data, never a pattern.

A model_dir, dataset, export or cache path may hold any character a file system allows: `[`, `]`,
`*`, `?`, `{}`. Globbing functions read those as patterns, so a path passes through `literal_glob`
(escaped) before one, and TensorFlow's checkpoint reader, which globs the prefix it is given to find
the index file, reads a checkpoint through `tf_path`. Every module may import this one; it imports
nothing of spot_tf.
"""
import atexit
import glob
import os
import shutil
import tempfile

import tensorflow as tf

# What Python's glob, TensorFlow's GetMatchingPaths or a shell would read as a pattern.
MAGIC = set("*?[]{}\\")
_aliases = {}


def is_literal(path):
    """Whether `path` holds no character a glob reads as a pattern."""
    return not MAGIC & set(os.fspath(path))


def literal_glob(directory, pattern):
    """The paths in `directory` (taken literally) that match `pattern` (ours, e.g. "ckpt-*.index")."""
    return tf.io.gfile.glob(os.path.join(glob.escape(os.fspath(directory)), pattern))


def as_pattern(path):
    """A pattern that matches `path` itself when it names a file or folder, else `path` as a pattern whose
    existing folder is taken literally (only the file name's wildcards are wildcards)."""
    path = os.fspath(path)
    if tf.io.gfile.exists(path):
        return glob.escape(path)
    directory, name = os.path.split(path)
    return os.path.join(glob.escape(directory), name) if directory and tf.io.gfile.isdir(directory) else path


def tf_path(path):
    """`path`, or one free of glob characters that names the same file, for TensorFlow's readers.

    A local folder with such characters is reached through a symbolic link, made once per folder in
    a private temporary folder that lives as long as the process (a resumed restore reads later).
    """
    path = os.fspath(path)
    if is_literal(path) or "://" in path:
        return path
    full = os.path.abspath(path)
    directory, name = (full, "") if os.path.isdir(full) else os.path.split(full)
    if not is_literal(name):
        return path
    if directory not in _aliases:
        if not _aliases:
            root = tempfile.mkdtemp(prefix="spot_tf_paths_")
            atexit.register(shutil.rmtree, root, True)
            _aliases[None] = root
        link = os.path.join(_aliases[None], str(len(_aliases)))
        os.symlink(directory, link)
        _aliases[directory] = link
    return os.path.join(_aliases[directory], name) if name else _aliases[directory]


def real_path(path):
    """The user's path of a `tf_path` (for messages); any other path as it is, None (no checkpoint yet) too."""
    if path is None:
        return None
    path = os.fspath(path)
    for directory, link in _aliases.items():
        if directory is not None and (path == link or path.startswith(link + os.sep)):
            return directory + path[len(link):]
    return path


def in_run(model_dir, path):
    """`path` relative to `model_dir` when it lies inside it (so that a moved run still matches what it
    saved), else `path` as it is."""
    if not path or "://" in str(path):
        return path
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(model_dir))
    return path if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
