"""End-to-end faults of train_scripts/train_spot.py: signals, a second run on the same folder."""
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from e2e import ROOT, command, run


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_the_current_step_and_a_second_run_is_refused_meanwhile(tmp_path, demo_cache, sig):
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
