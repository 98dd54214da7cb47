import logging
import math
import os
import re

import pytest
import tensorflow as tf

from conftest import summary_tags, tiny_settings
from spot_tf.models import Autoencoder
from spot_tf.optim.optimization import make_adam
from spot_tf.phases import pretrain
from spot_tf.training.autoencoder_trainer import AutoencoderTrainer
from spot_tf.training.fit_loop import fit_phase, unsupervised_batches
from spot_tf.training.image_summaries import autoencoder_images, sample_images, weight_histograms
from spot_tf.training.skipped_updates import UpdatesSkippedError


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


def test_an_fp16_phase_applies_all_its_steps_and_shows_the_updates_it_skipped(tmp_path, demo_cache, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    # The loss scale starts too high for fp16: the first updates are skipped, and the phase trains on.
    assert pretrain.autoencoder(tiny_settings(tmp_path, demo_cache, ae_steps=2, mixed_precision="fp16")) == 2
    assert _steps(tmp_path / "autoencoder")[-1] == 2
    shown = re.search(r"autoencoder: step 2, (\d+) updates? skipped \(fp16 loss scale now (\d+)\)", caplog.text)
    assert shown and int(shown.group(1)) > 0 and int(shown.group(2)) == 2 ** 15 // 2 ** int(shown.group(1))
    tags = summary_tags(tmp_path / "autoencoder" / "logs")
    assert tags["train/skipped_updates"] == [2] and tags["train/loss_scale"] == [2] and tags["train/loss"] == [2]
    assert "step 0:" not in caplog.text


def test_updates_skipped_without_end_stop_the_phase_with_an_error(tmp_path, demo_cache):
    settings = tiny_settings(tmp_path, demo_cache, ae_steps=4)
    trainer = AutoencoderTrainer(Autoencoder(settings.model.ae_depth))
    trainer.build_for(settings.model.image_size)
    trainer.compile(make_adam(1e-3, loss_scale=True), jit_compile=False)
    trainer.optimizer.dynamic_scale.assign(math.inf)  # non-finite gradients, however often it is halved
    summaries = dict(sample_images=sample_images(settings), image_fn=autoencoder_images(trainer.model),
                     histogram_variables=weight_histograms(trainer.model))
    with pytest.raises(UpdatesSkippedError, match="30 updates in a row skipped at step 0: .* no checkpoint was "):
        fit_phase(settings, tf.distribute.get_strategy(), trainer, "autoencoder", 4, unsupervised_batches(settings, "autoencoder"),
                  summaries)
    assert _steps(tmp_path / "autoencoder") == []


def test_the_data_settings_reach_the_training_pipeline(tmp_path, monkeypatch):
    from spot_tf.settings import RunSettings
    from spot_tf.training import fit_loop
    seen = {}
    monkeypatch.setattr(fit_loop.spot_data, "make_dataset", lambda *args, **kwargs: seen.update(kwargs) or args)
    settings = RunSettings.from_flat(str(tmp_path), {"fused_decode": True, "strict_decode": True, "seed": 3})
    fit_loop.unsupervised_batches(settings, "autoencoder")(None, 5, None)
    assert seen["fused_decode"] is True and seen["strict_decode"] is True and seen["seed"] == 8
