"""Exports the discriminator as a SavedModel that plain TensorFlow can load (no spot_tf, no Keras).

Endpoints (signatures), all taking a float32 batch `images` in [-1, 1]:
- `serving_default`: images [None, None, None, 3] -> `conv_1`..`conv_5` activations (float32). Any
  size works whose conv_5 map is non-empty: `min_input_size(padding)` (1 px with the default "same"
  padding, 35 px with "valid"); AlexNet's standard 227 px gives conv_5 15x15 ("same").
- `spot_logits`: images [None, image_size, image_size, 3] -> `logits` [B, 2] (index 1 = real) and
  `mask_logits` [B, cells]. The heads only exist at the training size (fc_1's kernel spans the whole
  head map), and a signature has one fixed output structure, so they get their own endpoint rather
  than a size-dependent branch of serving_default.

The discriminator runs in inference mode (batch-norm moving statistics, no dropout). Whatever
weights it holds are exported: pass a model restored with `use_ema=True` to export the averages.

Every export holds a marker file, `spot_tf_export.json`: an export replaces only a folder that holds
one (an earlier export of this tool) or an empty one, never anything else.
"""
import json
import os
import shutil
import uuid

import keras
import tensorflow as tf

import spot_tf
from spot_tf.errors import SettingError
from spot_tf.models import CONV_LAYERS
from spot_tf.models.discriminator import conv5_grid
from spot_tf.paths import tf_path

FEATURES_ENDPOINT = "serving_default"
MARKER = "spot_tf_export.json"
LOGITS_ENDPOINT = "spot_logits"
HEAD_OUTPUTS = ("logits", "mask_logits")


def min_input_size(padding="same"):
    """The smallest square input the serving_default endpoint accepts (conv_5 at least 1x1)."""
    size = 1
    while conv5_grid(size, padding) < 1:
        size += 1
    return size


def _as_float32(outputs, names):
    return {name: tf.cast(outputs[name], tf.float32) for name in names}


def build_export_archive(discriminator, image_size=None):
    """An ExportArchive with the `serving_default` (features) and `spot_logits` endpoints."""
    image_size = image_size or discriminator.image_size
    if image_size != discriminator.image_size:
        raise ValueError(f"image_size {image_size} differs from the discriminator's {discriminator.image_size}: "
                         f"its heads (fc_1) only accept that size")
    if not discriminator.built:
        discriminator(tf.zeros((1, image_size, image_size, 3)), training=False)

    def features(images):
        return _as_float32(discriminator.features(images, training=False), CONV_LAYERS)

    def heads(images):
        return _as_float32(discriminator(images, training=False), HEAD_OUTPUTS)

    archive = keras.export.ExportArchive()
    archive.track(discriminator)
    archive.add_endpoint(FEATURES_ENDPOINT, features,
                         input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    archive.add_endpoint(LOGITS_ENDPOINT, heads,
                         input_signature=[tf.TensorSpec([None, image_size, image_size, 3], tf.float32,
                                                        name="images")])
    return archive


def check_replaceable(export_dir):
    """Raises SettingError naming `export_dir` unless it is absent, empty or an export of this tool."""
    if not os.path.lexists(export_dir):
        return
    if not os.path.isdir(export_dir) or os.path.islink(export_dir):
        raise SettingError("export_dir", export_dir, "exists and is not a folder: refusing to replace it")
    if os.listdir(export_dir) and not os.path.isfile(os.path.join(export_dir, MARKER)):
        raise SettingError("export_dir", export_dir, f"exists and is not an export of spot_tf (it has no {MARKER}): "
                           f"refusing to replace it; choose another export_dir")


def export_saved_model(discriminator, export_dir, image_size=None):
    """Writes the discriminator's SavedModel to `export_dir`, atomically.

    The model is written to a temporary sibling directory and renamed into place only once it is
    complete, so a failed export leaves an existing `export_dir` untouched (local filesystems).

    Args:
        discriminator: A built (or buildable) `Discriminator`, e.g. `restore_spot_model(...)[0].discriminator`.
        export_dir: Target directory; replaced if it holds an earlier export (or nothing), refused
            (SettingError) if it holds anything else.
        image_size: Input size of the `spot_logits` endpoint; must be the discriminator's (the default).

    Returns:
        export_dir.
    """
    export_dir = os.path.abspath(os.fspath(export_dir))
    check_replaceable(export_dir)
    archive = build_export_archive(discriminator, image_size)
    os.makedirs(os.path.dirname(export_dir), exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    staging, retired = f"{export_dir}.tmp-{tag}", f"{export_dir}.old-{tag}"
    try:
        # Through tf_path: saving the variables globs the folder's path.
        archive.write_out(tf_path(staging), verbose=False)
        with open(os.path.join(staging, MARKER), "w", encoding="utf-8") as f:
            json.dump({"spot_tf_version": spot_tf.__version__, "image_size": discriminator.image_size,
                       "endpoints": [FEATURES_ENDPOINT, LOGITS_ENDPOINT]}, f)
        if os.path.exists(export_dir):
            os.rename(export_dir, retired)
        os.rename(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(retired) and not os.path.exists(export_dir):
            os.rename(retired, export_dir)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return export_dir
