"""End-to-end faults of train_scripts/train_spot.py: signals, a second run on the same folder, a run folder
named like a pattern, a full disk."""
import errno
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from e2e import ROOT, command, run


def test_a_signal_saves_the_current_step_and_a_second_run_is_refused_meanwhile(tmp_path, demo_cache):
    # SIGTERM, what schedulers send; SIGINT takes the same handler (tests/test_run_interruption.py).
    sig = signal.SIGTERM
    flags = [f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--phase=autoencoder", "--image_size=32",
             "--batch_size=4", "--checkpoint_every=3", "--summary_every=1000"]
    process = subprocess.Popen(command(*flags, "--ae_steps=100000"), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.time() + 300
    while not (tmp_path / "autoencoder" / "ckpt-3.index").exists() and time.time() < deadline:
        time.sleep(0.2)
    second = run(*flags, "--ae_steps=5")
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1].startswith(
        f"error: --model_dir={tmp_path}: another run is using this folder (pid {process.pid} ")
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(rf"error: stopped by {sig.name} at step (\d+): (\S+) saved; rerun the same command to "
                         rf"resume", last)
    assert match, last
    step = int(match.group(1))
    assert match.group(2) == f"{tmp_path}/autoencoder/ckpt-{step}" and os.path.exists(match.group(2) + ".index")
    assert not (tmp_path / ".spot_tf.lock").exists()
    rerun = run(*flags, f"--ae_steps={step + 1}")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from {tmp_path}/autoencoder/ckpt-{step}" in rerun.stderr
    assert (tmp_path / "autoencoder" / f"ckpt-{step + 1}.index").exists()


def test_deterministic_runs_write_bitwise_equal_checkpoints(tmp_path, demo_cache):
    runs = [tmp_path / "a", tmp_path / "b"]
    for model_dir in runs:
        for phase in ("autoencoder", "spot"):
            result = run(f"--model_dir={model_dir}", f"--data_cache_dir={demo_cache}", f"--phase={phase}",
                         "--deterministic", "--seed=7", "--image_size=32", "--batch_size=4", "--ae_steps=3",
                         "--spot_steps=3", "--checkpoint_every=3")
            assert result.returncode == 0, result.stderr[-3000:]
    for phase in ("autoencoder", "spot"):
        readers = [tf.train.load_checkpoint(str(model_dir / phase / "ckpt-3")) for model_dir in runs]
        names = readers[0].get_variable_to_shape_map()
        assert names == readers[1].get_variable_to_shape_map()
        for name in names:
            np.testing.assert_array_equal(readers[0].get_tensor(name), readers[1].get_tensor(name), err_msg=name)


def test_a_run_folder_named_like_a_pattern_trains_resumes_and_keeps_only_its_last_checkpoints(tmp_path, demo_cache):
    from conftest import tiny_settings
    from spot_tf.phases import run_phases
    model_dir = tmp_path / "run[1]*?{a,b}"
    (tmp_path / "run1").mkdir()  # What the name matches as a pattern: never read.
    settings = tiny_settings(model_dir, demo_cache, ae_steps=2, checkpoint_every=1, keep_checkpoints=2)
    run_phases(settings, "autoencoder")
    run_phases(settings.replace(ae_steps=3), "autoencoder")
    # Resumed from ckpt-2 (a fresh start would have written ckpt-1 again), and the oldest deleted.
    assert sorted(os.listdir(model_dir / "autoencoder")) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index", "ckpt-3.data-00000-of-00001", "ckpt-3.index",
        "logs"]
    assert os.listdir(tmp_path / "run1") == []


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB tmpfs: room for the settings and one checkpoint of a 32 px autoencoder (36 MB), not two."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk is made by mounting a small tmpfs, which this machine does not permit "
                    f"({mounted.stderr.strip() or mounted.returncode})")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_ends_in_one_line_keeps_what_was_saved_and_leaves_nothing_in_the_way(small_disk, demo_cache):
    from spot_tf.run.checkpoint_files import newest_readable
    from spot_tf.run.lock import acquire
    from spot_tf.safe_write import write_json
    model_dir = small_disk / "run"
    flags = [f"--model_dir={model_dir}", f"--data_cache_dir={demo_cache}", "--phase=autoencoder", "--image_size=32",
             "--batch_size=4", "--checkpoint_every=1", "--summary_every=1000"]
    result = run(*flags, "--ae_steps=2")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the disk is full: {model_dir}/autoencoder/ckpt-2_temp/"), last
    assert newest_readable(str(model_dir / "autoencoder")) == f"{model_dir}/autoencoder/ckpt-1"
    assert sorted(os.listdir(model_dir)) == ["autoencoder", "config.json"]  # No lock, no temporary file.
    assert sorted(os.listdir(model_dir / "autoencoder")) == ["checkpoint", "ckpt-1.data-00000-of-00001",
                                                             "ckpt-1.index", "logs"]
    rerun = run(*flags, "--ae_steps=1")
    assert rerun.returncode == 0 and "already at step 1" in rerun.stderr, rerun.stderr[-3000:]
    # The disk filled to the last byte: the settings and the lock fail whole, and leave nothing behind.
    with open(small_disk / "filler", "wb") as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
    before = sorted(os.listdir(model_dir))
    with pytest.raises(OSError) as err:
        write_json(model_dir / "results.json", {"conv_1": 1})
    assert err.value.errno == errno.ENOSPC
    with pytest.raises(OSError):
        acquire(str(model_dir))
    assert sorted(os.listdir(model_dir)) == before
