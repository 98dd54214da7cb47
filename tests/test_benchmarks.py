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


def _bench_train_step(*flags):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_train_step.py"),
                             "--phase=autoencoder", "--image_size=32", "--batch_size=2", "--steps=1", "--warmup=1",
                             "--matmul_peak=false", *flags], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def test_bench_train_step_credits_bf16_with_the_float32_step_flops_and_times_its_gemm_shapes():
    # The bf16 step computes some gradients as other ops (per-tap matmuls, a depthwise convolution):
    # the FLOPs credited to it are those of the float32 formulation, the same in both precisions.
    flops = {}
    for precision in ("none", "bf16"):
        lines = _bench_train_step(f"--mixed_precision={precision}")
        flops[precision] = next(line for line in lines if line.startswith("step FLOPs")).split(": ")[1].split(",")[0]
        assert any(line.startswith("shape-matched matmul rate") for line in lines)
        header, row = [line.split("|") for line in lines[-3:-1]]
        shape_pk = dict(zip((h.strip() for h in header), (c.strip() for c in row)))["% shape pk"]
        assert float(shape_pk) > 0
        assert float(lines[-1].split("=")[1]) > 0
    assert flops["none"] == flops["bf16"]


def test_bench_voc07_svm_compares_the_sweep_with_sklearn_and_ends_with_its_summary():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_voc07_svm.py"),
                             "--train_size=60", "--test_size=60", "--dim=50", "--classes=2", "--latent=16"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert sum(line.split(" (class")[0] in ("0.01", "1000") for line in lines) == 2  # a row per cost
    summary = dict(item.split("=") for item in lines[-1].split())
    assert sorted(summary) == ["ap_max_diff", "sklearn_ratio", "sweep_s"]
    assert float(summary["sweep_s"]) > 0 and float(summary["sklearn_ratio"]) > 0
    assert 0 <= float(summary["ap_max_diff"]) < 5


def test_bench_voc_seg_prints_the_step_time_flops_and_the_protocols_projection():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_voc_seg.py"), "--height=20",
                             "--width=24", "--fc_channels=16", "--iter_size=1", "--steps=1", "--warmup=1",
                             "--device_tflops=100"], capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("| 24x20 | 16 |")).split("|")
    assert float(row[4]) > 0 and row[6].strip().endswith("days")
    assert any(line.startswith("at 100.0 TFLOP/s achieved:") for line in lines)
    assert float(lines[-1].split("=")[1]) > 0


def _accelerator_check(*flags):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "accelerator_check.py"),
                             "--image_size=32", "--ae_depth=4", "--batch_size=4", "--steps=1", "--warmup=0",
                             "--input_batches=1", "--phases=autoencoder", "--xla=false", *flags],
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("row |"))
    rows = {}
    for line in lines[header + 1:]:
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 2:
            rows[(cells[0], cells[1])] = cells
    return lines, rows


def test_accelerator_check_times_one_and_all_devices_and_the_input():
    lines, rows = _accelerator_check("--precisions=none", "--cpu_devices=2", "--service_workers=1",
                                     "--count_flops=false")
    assert lines[0].startswith("devices: 2 CPU")
    local = float(rows[("input local", "host")][3])
    assert local > 0 and ("input tf.data service (1 w)", "host") in rows
    one, both = rows[("autoencoder float32 no XLA", "1")], rows[("autoencoder float32 no XLA", "2")]
    assert both[2] == "8" and float(one[3]) > 0 and float(both[3]) > 0
    # Scaling: the two-device rate over twice the one-device rate; input share: the step's rate over the input's.
    # (The table rounds rates to 4 significant digits, scaling to 1%, shares to 3 digits.)
    scaling = 100 * float(both[3]) / (2 * float(one[3]))
    assert abs(float(both[5].rstrip("%")) - scaling) <= 0.5 + 0.002 * scaling
    share = 100 * float(one[3]) / local
    assert abs(float(one[6].rstrip("%")) - share) <= 0.01 * share
    assert lines[-1] == "rows=2 failed=0"


def test_accelerator_check_reports_a_failing_row_and_goes_on():
    # 34 px is no multiple of 2**4: every step row fails, the input rows do not.
    lines, rows = _accelerator_check("--image_size=34", "--precisions=fp16", "--service_workers=0")
    assert rows[("autoencoder fp16 no XLA", "1")][3].startswith("failed: SettingError")
    assert float(rows[("input local", "host")][3]) > 0
    assert lines[-1] == "rows=0 failed=1"
