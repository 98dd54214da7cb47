import logging
import os

import tensorflow as tf

from conftest import tiny_settings
from spot_tf.phases import pretrain


def _steps(directory):
    return sorted(int(p.name[len("ckpt-"):-len(".index")]) for p in directory.glob("ckpt-*.index"))


def test_a_lost_index_file_resumes_from_the_newest_checkpoint_and_overwrites_none(tmp_path, demo_cache):
    ae = tmp_path / "autoencoder"
    assert pretrain.autoencoder(tiny_settings(tmp_path, demo_cache, ae_steps=4)) == 4
    os.remove(ae / "checkpoint")
    written = {p.name: p.stat().st_mtime_ns for p in ae.glob("ckpt-*")}
    (ae / "ckpt-6_temp").mkdir()  # a save cut short
    assert pretrain.autoencoder(tiny_settings(tmp_path, demo_cache, ae_steps=6)) == 6
    assert _steps(ae) == [2, 4, 6]
    assert {p.name: p.stat().st_mtime_ns for p in ae.glob("ckpt-*") if p.name in written} == written
    assert not (ae / "ckpt-6_temp").exists()


def test_a_truncated_newest_checkpoint_resumes_from_the_one_before(tmp_path, demo_cache, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    ae = tmp_path / "autoencoder"
    pretrain.autoencoder(tiny_settings(tmp_path, demo_cache, ae_steps=4))
    data = next(ae.glob("ckpt-4.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    assert pretrain.autoencoder(tiny_settings(tmp_path, demo_cache, ae_steps=6)) == 6
    assert f"checkpoint {ae}/ckpt-4 cannot be read" in caplog.text
    assert f"resuming from {ae}/ckpt-2" in caplog.text
    # The rerun trained steps 3..6 again: ckpt-4 is whole now.
    reader = tf.train.load_checkpoint(str(ae / "ckpt-4"))
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
