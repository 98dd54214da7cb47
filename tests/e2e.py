"""Runs train_scripts/train_spot.py in a subprocess, as users do."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "train_scripts", "train_spot.py")
TINY = ["--image_size=32", "--batch_size=8", "--ae_steps=4", "--spot_steps=4", "--eval_steps=4",
        "--checkpoint_every=2", "--summary_every=2", "--eval_image_size=32", "--eval_batch_size=8"]


def command(*flags):
    return [sys.executable, SCRIPT, *flags]


def run(*flags, env=None, timeout=600):
    """Runs the script to completion; returns the CompletedProcess (stdout and stderr as text)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(command(*flags), capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)
