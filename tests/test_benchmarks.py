"""The benchmark scripts run and print their table (tiny sizes: their figures are measured by hand)."""
import os
import subprocess
import sys

from e2e import ROOT


def test_bench_linear_eval_prints_both_rates_and_their_ratio():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_linear_eval.py"),
                             "--image_size=48", "--train_size=32", "--batch_size=4", "--num_classes=10", "--steps=1",
                             "--warmup=1", "--rounds=1"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("forward only |") for line in lines)
    assert any(line.strip().startswith("probe training |") for line in lines)
    assert 0.0 < float(lines[-1].split("=")[1]) < 10.0
