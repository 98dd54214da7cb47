import os

import tensorflow as tf

from spot_tf import paths

ODD = "run[1]*?{a,b}"


def test_a_folder_named_like_a_pattern_is_globbed_literally(tmp_path):
    folder = tmp_path / ODD
    folder.mkdir()
    (folder / "ckpt-1.index").write_text("")
    (tmp_path / "run1").mkdir()  # What the unescaped pattern would match instead.
    (tmp_path / "run1" / "ckpt-2.index").write_text("")
    assert paths.literal_glob(str(folder), "ckpt-*.index") == [str(folder / "ckpt-1.index")]
    assert tf.io.gfile.glob(paths.as_pattern(str(folder))) == [str(folder)]
    # A pattern's folder is literal, its file name a pattern.
    assert tf.io.gfile.glob(paths.as_pattern(str(folder / "ckpt-*.index"))) == [str(folder / "ckpt-1.index")]


def test_tensorflow_reads_a_checkpoint_in_such_a_folder_through_tf_path(tmp_path):
    folder = tmp_path / ODD
    folder.mkdir()
    prefix = tf.train.Checkpoint(v=tf.Variable(3.0)).write(str(folder / "ckpt-1"))
    assert not tf.io.gfile.glob(prefix + ".index")  # TensorFlow reads the name as a pattern...
    alias = paths.tf_path(prefix)
    assert paths.is_literal(alias) and paths.real_path(alias) == prefix
    assert paths.real_path(None) is None  # no checkpoint written yet: messages say so, not a TypeError
    assert tf.train.load_checkpoint(alias).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE") == 3.0  # ...not the alias.
    assert paths.tf_path(str(folder)) == os.path.dirname(alias)
    assert paths.tf_path(str(tmp_path / "plain")) == str(tmp_path / "plain")


def test_in_run_makes_paths_inside_the_run_relative():
    assert paths.in_run("/runs/a", "/runs/a/spot/ckpt-4") == os.path.join("spot", "ckpt-4")
    assert paths.in_run("/runs/a", "/runs/b/spot/ckpt-4") == "/runs/b/spot/ckpt-4"
    assert paths.in_run("/runs/a", "random (seed 0)") == "random (seed 0)"
    assert paths.in_run("/runs/a", "gs://bucket/x") == "gs://bucket/x"
