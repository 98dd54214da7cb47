"""End-to-end runs of train_scripts/train_spot.py on the embedded demo data."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import summary_tags
from e2e import ROOT, TINY, command, run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_cache):
    model_dir = tmp_path_factory.mktemp("demo_run")
    result = run("--flagfile=train_scripts/configs/demo.flags", f"--model_dir={model_dir}",
                 f"--data_cache_dir={demo_cache}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return model_dir


def test_all_phases_write_checkpoints_logs_export_and_results(demo_run):
    for phase in ("autoencoder", "spot"):
        assert (demo_run / phase / "ckpt-4.index").exists() and (demo_run / phase / "ckpt-2.index").exists()
    assert "train/loss" in summary_tags(demo_run / "autoencoder" / "logs")
    tags = summary_tags(demo_run / "spot" / "logs")
    assert "train/accuracy_repaired" in tags and "images/repaired" in tags and "weights/conv_1" in tags
    assert (demo_run / "spot" / "real_vs_repaired.png").stat().st_size > 0
    results = json.loads((demo_run / "linear_eval" / "results.json").read_text())
    assert sorted(results) == [f"conv_{i}" for i in range(1, 6)]
    assert all(0.0 <= r["top1"] <= 100.0 for r in results.values())
    assert (demo_run / "linear_eval" / "results.md").exists() and (demo_run / "linear_eval" / "top1.png").exists()


def test_export_loads_with_plain_tensorflow(demo_run):
    loaded = tf.saved_model.load(str(demo_run / "export"))
    out = loaded.signatures["serving_default"](images=tf.zeros((2, 48, 48, 3)))
    assert sorted(out) == [f"conv_{i}" for i in range(1, 6)]
    assert out["conv_5"].shape == (2, 3, 3, 256)


def test_finetune_and_linear_eval_from_the_export(demo_run, demo_cache):
    result = run("--phase=finetune", f"--model_dir={demo_run}", "--finetune_layers=1", *TINY,
                 f"--data_cache_dir={demo_cache}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(json.loads((demo_run / "finetune_conv1" / "results.json").read_text())) == ["conv_5"]
    result = run("--phase=linear_eval", f"--model_dir={demo_run}", f"--eval_source={demo_run / 'export'}", *TINY,
                 f"--data_cache_dir={demo_cache}")
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("flag,named", [("--image_size=100", "--image_size=100"),
                                        ("--strategy=tpu", "--strategy"),
                                        ("--generator_loss=gan", "--generator_loss"),
                                        ("--dataset=/nonexistent/train-*", "/nonexistent/train-*"),
                                        ("--dataset=tfds:no_such_dataset", "no_such_dataset")])
def test_bad_input_is_refused_by_name_and_touches_nothing(tmp_path, demo_cache, flag, named):
    (tmp_path / "autoencoder").mkdir()
    (tmp_path / "autoencoder" / "keep.txt").write_text("earlier phase")
    result = run(f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", *TINY, flag)
    assert result.returncode != 0
    assert named in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["autoencoder", "keep.txt"]


def test_sigkill_loses_at_most_checkpoint_every_steps(tmp_path, demo_cache, tiny_autoencoder):
    flags = [f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--phase=spot",
             f"--ae_checkpoint={tiny_autoencoder}", "--image_size=32", "--batch_size=4", "--checkpoint_every=2",
             "--summary_every=1000"]
    process = subprocess.Popen(command(*flags, "--spot_steps=100000"), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.time() + 300
    while not list(tmp_path.glob("spot/ckpt-4.index")) and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = max(int(p.name.split("-")[1].split(".")[0]) for p in tmp_path.glob("spot/ckpt-*.index"))
    assert saved >= 4
    result = run(*flags, f"--spot_steps={saved + 2}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from {tmp_path}/spot/ckpt-{saved}" in result.stderr
    assert (tmp_path / "spot" / f"ckpt-{saved + 2}.index").exists()


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, demo_cache):
    result = run(f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--phase=autoencoder",
                 "--image_size=32", "--batch_size=4", "--ae_steps=6", "--checkpoint_every=1",
                 "--learning_rate=1e30")
    assert result.returncode == 1
    assert "training diverged at step 2" in result.stderr and "ckpt-1 is kept" in result.stderr
    assert tf.train.latest_checkpoint(str(tmp_path / "autoencoder")).endswith("ckpt-1")
    assert np.isfinite(tf.train.load_checkpoint(str(tmp_path / "autoencoder" / "ckpt-1"))
                       .get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"))
