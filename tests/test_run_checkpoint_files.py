import os

import pytest
import tensorflow as tf

from spot_tf.run.checkpoint_files import (NoReadableCheckpointError, checkpoint_steps, newest_readable,
                                          remove_temp_leftovers, unreadable_reason)


def _save_steps(directory, steps):
    value = tf.Variable(tf.zeros([256, 64]))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=value), str(directory), max_to_keep=10,
                                         checkpoint_name="ckpt")
    for step in steps:
        value.assign(tf.fill([256, 64], float(step)))
        manager.save(checkpoint_number=step)
    return {step: str(directory / f"ckpt-{step}") for step in steps}


def test_a_lost_index_file_still_finds_the_newest_checkpoint(tmp_path):
    prefixes = _save_steps(tmp_path, [2, 4])
    os.remove(tmp_path / "checkpoint")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert checkpoint_steps(str(tmp_path)) == prefixes
    assert newest_readable(str(tmp_path)) == prefixes[4]


def test_a_truncated_newest_checkpoint_is_named_and_the_previous_one_used(tmp_path, caplog):
    prefixes = _save_steps(tmp_path, [2, 4])
    data = tmp_path / "ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    assert "Read less bytes" in unreadable_reason(prefixes[4])
    assert unreadable_reason(prefixes[2]) is None
    assert newest_readable(str(tmp_path)) == prefixes[2]
    assert "ckpt-4" in caplog.text and "cannot be read" in caplog.text


def test_a_missing_data_shard_is_unreadable_and_no_readable_checkpoint_refuses_to_start_over(tmp_path):
    prefixes = _save_steps(tmp_path, [2])
    os.remove(tmp_path / "ckpt-2.data-00000-of-00001")
    assert "missing" in unreadable_reason(prefixes[2])
    with pytest.raises(NoReadableCheckpointError, match="ckpt-2"):
        newest_readable(str(tmp_path))
    assert newest_readable(str(tmp_path / "nothing-here")) is None


def test_only_the_temp_folders_of_cut_saves_are_removed(tmp_path):
    (tmp_path / "ckpt-6_temp").mkdir()
    (tmp_path / "ckpt-6_temp" / "part-00000-of-00001.index").write_text("x")
    (tmp_path / "mine_temp").mkdir()
    (tmp_path / "ckpt-x_temp").mkdir()
    (tmp_path / "ckpt-7_temp").write_text("a file, not a save's folder")
    assert remove_temp_leftovers(str(tmp_path)) == [str(tmp_path / "ckpt-6_temp")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-7_temp", "ckpt-x_temp", "mine_temp"]
