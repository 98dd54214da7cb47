"""Runs train_scripts/train_spot.py in a subprocess, as users do."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "train_scripts", "train_spot.py")
TINY = ["--image_size=32", "--batch_size=8", "--ae_steps=4", "--spot_steps=4", "--eval_steps=4",
        "--checkpoint_every=2", "--summary_every=2", "--eval_image_size=32", "--eval_batch_size=32"]


def command(*flags):
    return [sys.executable, SCRIPT, *flags]


def run(*flags, env=None, timeout=600):
    """Runs the script to completion; returns the CompletedProcess (stdout and stderr as text)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(command(*flags), capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)


def killed_after_checkpoint(flags, folder, step):
    """Runs the script until `folder` holds ckpt-`step` (5 min at most), kills it with SIGKILL and returns the
    newest checkpoint step left in `folder`."""
    import glob
    import re
    import signal
    import time
    process = subprocess.Popen(command(*flags), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.time() + 300
    while not (folder / f"ckpt-{step}.index").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return max(int(re.search(r"ckpt-(\d+)\.index", p).group(1)) for p in glob.glob(str(folder / "ckpt-*.index")))
