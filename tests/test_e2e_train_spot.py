"""End-to-end runs of train_scripts/train_spot.py on the embedded demo data."""
import json
import os
import shutil
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
    # The flagfile's mixed_precision=auto is resolved (and why is logged); each phase is timed.
    assert "mixed_precision=auto: " in result.stderr and "phase times: autoencoder " in result.stderr
    return model_dir


def test_all_phases_write_checkpoints_logs_export_and_results(demo_run):
    for phase in ("autoencoder", "spot"):
        assert (demo_run / phase / "ckpt-4.index").exists() and (demo_run / phase / "ckpt-2.index").exists()
    assert "train/loss" in summary_tags(demo_run / "autoencoder" / "logs")
    tags = summary_tags(demo_run / "spot" / "logs")
    assert "train/accuracy_repaired" in tags and "images/repaired" in tags and "weights/conv_1" in tags
    assert (demo_run / "spot" / "real_vs_repaired.png").stat().st_size > 0
    for evaluation in ("linear_eval", "linear_eval_random", "knn_eval", "knn_eval_random"):
        results = json.loads((demo_run / evaluation / "results.json").read_text())
        evaluated = results.pop("evaluated")
        assert sorted(results) == [f"conv_{i}" for i in range(1, 6)], evaluation
        assert evaluated["protocol"] == "splitbrain" and evaluated["image_size"] == 32, evaluation
        assert all(0.0 <= r["top1"] <= 100.0 for r in results.values())
        assert (demo_run / evaluation / "results.md").exists() and (demo_run / evaluation / "top1.png").exists()
    report = (demo_run / "report.md").read_text()
    assert "| linear | trained |" in report and "| k-NN | trained |" in report and "| | difference |" in report
    assert report.splitlines()[2].startswith("The test set has 512 images, so one image is 0.2 points; ")
    assert "| discriminator accuracy, real images |" in report and "(step 4) |" in report
    assert json.loads((demo_run / "config.json").read_text())["training"]["mixed_precision"] in ("none", "bf16")
    assert (demo_run / "report.png").stat().st_size > 0


def test_export_loads_with_plain_tensorflow(demo_run):
    loaded = tf.saved_model.load(str(demo_run / "export"))
    out = loaded.signatures["serving_default"](images=tf.zeros((2, 48, 48, 3)))
    assert sorted(out) == [f"conv_{i}" for i in range(1, 6)]
    assert out["conv_5"].shape == (2, 3, 3, 256)


def test_later_phases_need_only_the_model_dir(demo_run):
    saved = (demo_run / "config.json").read_text()
    assert json.loads(saved)["model"]["image_size"] == 32
    export = demo_run / "export" / "saved_model.pb"
    before = export.stat().st_mtime_ns
    result = run("--phase=export", f"--model_dir={demo_run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert export.stat().st_mtime_ns != before
    result = run("--phase=finetune", f"--model_dir={demo_run}", "--finetune_layers=1")
    assert result.returncode == 0, result.stderr[-3000:]
    finetuned = json.loads((demo_run / "finetune_conv1" / "results.json").read_text())
    assert sorted(finetuned) == ["conv_5", "evaluated"] and finetuned["evaluated"]["finetune_layers"] == 1
    # linear_eval/ holds probes of the spot checkpoint: they are not resumed on another source.
    result = run("--phase=linear_eval", f"--model_dir={demo_run}", f"--eval_source={demo_run / 'export'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: --eval_source={demo_run / 'export'}: {demo_run / 'linear_eval'} holds checkpoints trained with "
        f"source 'spot/ckpt-4'")  # Inside the run: recorded relative to it, so that a moved run matches.
    shutil.rmtree(demo_run / "linear_eval")
    result = run("--phase=linear_eval", f"--model_dir={demo_run}", f"--eval_source={demo_run / 'export'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval_source=" in result.stderr  # the override is logged
    evaluated = json.loads((demo_run / "linear_eval" / "results.json").read_text())["evaluated"]
    assert evaluated["source"] == "export"
    assert (demo_run / "config.json").read_text() == saved


@pytest.mark.parametrize("script", ["train_spot.py", "spot-tf"])
def test_a_flag_that_changes_the_checkpoints_is_refused_naming_both_values(demo_run, script):
    before = sorted(p.name for p in demo_run.rglob("*"))
    flags = ("--phase=spot", f"--model_dir={demo_run}", "--image_size=64")
    if script == "spot-tf":
        result = subprocess.run([shutil.which("spot-tf"), *flags], capture_output=True, text=True, cwd=ROOT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=300)
    else:
        result = run(*flags)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --image_size=64: the run in {demo_run} was made with image_size=32 ({demo_run}/config.json), "
        f"and image_size fixes what its checkpoints hold: use another model_dir for another image_size")
    assert sorted(p.name for p in demo_run.rglob("*")) == before


@pytest.mark.parametrize("flag,named", [("--image_size=100", "--image_size=100"),
                                        ("--strategy=tpu", "--strategy"),
                                        ("--generator_loss=gan", "--generator_loss"),
                                        ("--dataset=/nonexistent/train-*", "/nonexistent/train-*"),
                                        ("--dataset=tfds:no_such_dataset", "no_such_dataset")])
def test_bad_input_is_refused_by_name_and_touches_nothing(tmp_path, demo_cache, flag, named):
    (tmp_path / "autoencoder").mkdir()
    (tmp_path / "autoencoder" / "keep.txt").write_text("earlier phase")
    result = run(f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", *TINY, flag)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and named in last
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
                 "--summary_every=1", "--learning_rate=1e30")
    assert result.returncode == 1
    assert "training diverged at step 2" in result.stderr and "ckpt-1 is kept" in result.stderr
    # The command exits without finalizing the interpreter: the summaries of step 1 are on disk all the same.
    assert any(1 in steps for steps in summary_tags(tmp_path / "autoencoder").values())
    assert tf.train.latest_checkpoint(str(tmp_path / "autoencoder")).endswith("ckpt-1")
    assert np.isfinite(tf.train.load_checkpoint(str(tmp_path / "autoencoder" / "ckpt-1"))
                       .get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"))


def test_an_export_never_replaces_a_folder_it_did_not_write(demo_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = run("--phase=export", f"--model_dir={demo_run}", f"--export_dir={mine}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --export_dir={mine}: exists and is not an "
                                                             f"export of spot_tf")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("phase,flag,expected,found", [
    ("linear_eval", "--eval_source={run}/autoencoder", "spot", "autoencoder"),
    ("spot", "--ae_checkpoint={run}/spot/ckpt-4", "autoencoder", "spot")])
def test_a_checkpoint_of_the_wrong_kind_is_refused_in_one_line(demo_run, demo_cache, tmp_path, phase, flag, expected,
                                                              found):
    flag = flag.format(run=demo_run)
    result = run(f"--phase={phase}", f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--dataset=demo",
                 "--image_size=32", flag, *(["--spot_steps=2"] if phase == "spot" else []))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {flag}: expected a {expected}-phase checkpoint, found a {found}-phase"), last
