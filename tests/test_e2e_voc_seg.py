"""End to end: voc_seg trains FCN-32s on a tiny VOC2012 + SBD folder, resumes after SIGKILL, writes its
random baseline's folder and the report row, and refuses bad masks in one line."""
import json
import os

import numpy as np
from PIL import Image
from voc_seg_data import write_sbd, write_voc2012

from conftest import summary_tags
from e2e import killed_after_checkpoint, run

from spot_tf.data.voc_segmentation import SEGMENTATION_CLASSES


def _flags(tmp_path, demo_cache, *extra):
    return [f"--model_dir={tmp_path / 'run'}", f"--data_cache_dir={demo_cache}", "--phase=voc_seg", "--dataset=demo",
            "--eval_source=random", "--image_size=32", f"--voc_seg_dataset={tmp_path / 'VOCdevkit'}",
            "--voc_seg_fc_channels=32", "--eval_batch_size=2", "--checkpoint_every=2", "--summary_every=2", *extra]


def test_voc_seg_resumes_after_sigkill_and_writes_the_random_baseline(tmp_path, demo_cache):
    write_voc2012(tmp_path)
    write_sbd(tmp_path, ["2008_000001", "2008_000007"])
    flags = _flags(tmp_path, demo_cache, f"--sbd_dir={tmp_path / 'benchmark_RELEASE'}", "--eval_steps=16")
    folder = tmp_path / "run" / "voc_seg_random"
    saved = killed_after_checkpoint([*flags], folder, 4)
    assert 4 <= saved < 16 and not (folder / "results.json").exists()

    rerun = run(*flags)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from {folder}/ckpt-{saved}" in rerun.stderr
    assert (folder / "ckpt-16.index").exists()
    results = json.loads((folder / "results.json").read_text())
    assert list(results["IoU"]) == list(SEGMENTATION_CLASSES)
    assert 0.0 <= results["mIoU"] <= 100.0 and 0.0 <= results["pixel_accuracy"] <= 100.0
    evaluated = results["evaluated"]
    # VOC train + SBD train without the val image SBD also lists; tested on VOC val (no seg11valid here).
    assert (evaluated["test_set"], evaluated["test_images"], evaluated["train_images"]) == ("val", 4, 9)
    assert evaluated["steps"] == 16 and evaluated["source"] == "random (seed 0)"
    assert evaluated["full_protocol"] is False and evaluated["batch_size"] == 2
    tags = summary_tags(folder / "logs")
    assert tags["test/mIoU"] == [16] and 16 in tags["train/loss"]
    assert tags["images/image_truth_prediction"]

    # The report shows the row once the trained side is there too (here: the random run's results copied).
    os.makedirs(tmp_path / "run" / "voc_seg")
    (tmp_path / "run" / "voc_seg" / "results.json").write_text((folder / "results.json").read_text())
    report = run(f"--model_dir={tmp_path / 'run'}", "--phase=report")
    assert report.returncode == 0, report.stderr[-3000:]
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "## PASCAL VOC segmentation (FCN-32s)" in markdown and "| mean IU, val (%) |" in markdown
    assert "38.1" in markdown and "| paper" not in markdown


def test_bad_masks_are_refused_in_one_line(tmp_path, demo_cache):
    write_voc2012(tmp_path, train=2, val=2)
    mask = tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2008_000000.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(mask)
    result = run(*_flags(tmp_path, demo_cache, "--eval_steps=2"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --voc_seg_dataset={mask}: is a RGB image, not class indices: a VOC mask is a palette (P) PNG "
        "whose pixel values are the classes (a mask saved as colours cannot be read)")
