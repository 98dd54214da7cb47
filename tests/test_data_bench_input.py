"""Tests of benchmarks/bench_input.py: the ImageNet-like JPEGs it writes and its table."""

import os
import subprocess
import sys

from PIL import Image

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                     "bench_input.py")
# libjpeg's luminance DC quantizer, 16, scaled for quality 90.
QUALITY_90_DC = 3


def _bench(*flags):
    # A process of its own: the benchmark defines absl flags that the library's may collide with.
    return subprocess.run([sys.executable, BENCH, *flags], capture_output=True, text=True,
                          timeout=600)


def test_make_imagenet_like_writes_the_jpegs_then_measures_both_decodes(tmp_path):
    folder = str(tmp_path / "imagenet_like")
    flags = [f"--dataset={folder}", "--make_imagenet_like=6", "--split=train", "--image_size=32",
             "--batch_size=2", "--steps=1", "--warmup=0"]
    run = _bench(*flags)
    assert run.returncode == 0, run.stderr
    paths = [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]
    assert len(paths) == 6 and all(path.endswith(".JPEG") for path in paths)
    assert len({os.path.basename(os.path.dirname(path)) for path in paths}) == 6  # Classes.
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert sorted(image.size) == [375, 500]
            assert image.quantization[0][0] == QUALITY_90_DC
    row = [line for line in run.stdout.splitlines() if line.split("|")[0].strip() == "32"]
    assert len(row) == 1
    fused, full, ratio = (float(cell) for cell in row[0].split("|")[2:5])
    # The table rounds the rates to whole images per second and the ratio to hundredths.
    assert fused > 0 and full > 0
    assert abs(ratio - fused / full) <= 0.005 + ratio * (0.5 / fused + 0.5 / full)
    assert "0 images skipped" in run.stdout
    # The folder is no longer empty: it is not written again.
    again = _bench(*flags)
    assert again.returncode != 0 and "is not empty" in again.stderr


def test_data_service_workers_compares_the_service_with_the_local_pipeline(demo_cache):
    run = _bench("--dataset=demo", f"--cache_dir={demo_cache}", "--data_service_workers=1", "--image_size=32",
                 "--batch_size=2", "--steps=2", "--warmup=1")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {int(cells[2]): [float(cell) for cell in cells[3:]] for cells in
            (line.split("|") for line in run.stdout.splitlines()) if cells[0].strip() == "32"}
    assert sorted(rows) == [0, 1]  # The local pipeline is always measured.
    (local_rate, _, local_ratio), (rate, _, ratio) = rows[0], rows[1]
    assert local_ratio == 1.0 and abs(ratio - rate / local_rate) <= 0.005 + ratio * (0.5 / rate + 0.5 / local_rate)
    last = run.stdout.strip().splitlines()[-1]
    assert last == f"service_ratio={ratio:.2f}"


def test_input_cores_runs_the_workers_as_processes_on_the_input_cores(demo_cache):
    run = _bench("--dataset=demo", f"--cache_dir={demo_cache}", "--data_service_workers=1", "--input_cores=1",
                 "--image_size=32", "--batch_size=8", "--steps=20", "--warmup=1")
    assert run.returncode == 0, run.stderr[-3000:]
    header = next(line for line in run.stdout.splitlines() if line.split("|")[0].strip() == "size")
    assert [cell.strip() for cell in header.split("|")][3:] == ["img/s", "CPU ms", "worker CPU ms", "/ local"]
    rows = {int(cells[2]): [cell.strip() for cell in cells[3:]] for cells in
            (line.split("|") for line in run.stdout.splitlines()) if cells[0].strip() == "32"}
    # The local pipeline has no worker; the worker process decoded the 160 images it served (at
    # about a millisecond each: more than the 10 ms that /proc counts in).
    assert rows[0][2] == "-" and float(rows[1][2]) > 0
    assert run.stdout.strip().splitlines()[-1] == f"service_ratio={float(rows[1][3]):.2f}"


def test_input_cores_must_leave_the_trainer_a_core():
    run = _bench("--dataset=demo", "--data_service_workers=1", f"--input_cores={len(os.sched_getaffinity(0))}")
    assert run.returncode != 0 and "leaves no core" in run.stderr


def test_resize_shorter_compares_stored_sizes_and_their_pixels(tmp_path):
    folder = str(tmp_path / "imagenet_like")
    run = _bench(f"--dataset={folder}", "--make_imagenet_like=4", "--split=train", "--image_size=32",
                 "--batch_size=2", "--steps=1", "--warmup=0", "--resize_shorter=0,256", "--pixel_images=2")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    stored = {line.split(":")[0]: line for line in lines if line.startswith("stored shorter side")}
    sizes = {key: [float(v) for v in line.split(", ")[1].split(" and")[0].split("x")] for key, line in stored.items()}
    # 500x375 and 375x500 JPEGs: their shorter side comes down to 256, the longer to scale.
    assert min(sizes["stored shorter side as is"]) >= 375 and max(sizes["stored shorter side 256"]) <= 341
    pixels = [line for line in lines if line.startswith("  resized to 256") or line.startswith("  re-encoded")]
    assert len(pixels) == 6 and all(float(line.split("|")[2]) > 20 for line in pixels)  # PSNR dB.
    assert lines[-1].startswith("stored_size_ratio=") and float(lines[-1].split("=")[1]) > 0


def test_resize_shorter_needs_an_image_folder():
    run = _bench("--dataset=demo", "--resize_shorter=0,256")
    assert run.returncode != 0 and "--resize_shorter needs --dataset=<an image folder>" in run.stderr
