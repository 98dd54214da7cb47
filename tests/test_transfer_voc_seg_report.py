import json

import numpy as np
import pytest

from spot_tf.transfer.run_report import write_run_report
from spot_tf.transfer.voc_report import read_voc_results
from spot_tf.transfer.voc_seg_report import (collect_segmentation, results_text, segmentation_markdown,
                                             segmentation_result, write_segmentation_results)

CLASSES = ("background", "cat", "dog")
# Truth rows, prediction columns: dog never appears.
CONFUSION = np.array([[6, 2, 0],
                      [1, 3, 0],
                      [0, 0, 0]])


def test_result_in_percent_with_absent_classes_null():
    result = segmentation_result(CONFUSION, CLASSES)
    assert result["IoU"]["background"] == pytest.approx(100 * 6 / 9)
    assert result["IoU"]["cat"] == pytest.approx(100 * 3 / 6)
    assert result["IoU"]["dog"] is None
    assert result["mIoU"] == pytest.approx(100 * (6 / 9 + 3 / 6) / 2)
    assert result["pixel_accuracy"] == pytest.approx(100 * 9 / 12)
    assert results_text(result) == "VOC segmentation: mean IU 58.33, pixel accuracy 75.00"


def test_results_json_round_trip_and_markdown(tmp_path):
    result = segmentation_result(CONFUSION, CLASSES)
    paths = write_segmentation_results(result, str(tmp_path), "title", {"test_set": "val", "steps": 3})
    results, evaluated = read_voc_results(paths["results.json"])
    assert results == json.loads(json.dumps(result)) and evaluated == {"test_set": "val", "steps": 3}
    markdown = (tmp_path / "results.md").read_text()
    assert "| dog | n/a |" in markdown and "| **mean IU** | 58.33 |" in markdown


def _write(model_dir, folder, confusion, evaluated):
    write_segmentation_results(segmentation_result(confusion, CLASSES), str(model_dir / folder), "t", evaluated)


def test_the_report_row_and_the_papers_only_after_the_full_protocol(tmp_path):
    assert collect_segmentation(str(tmp_path)) is None
    _write(tmp_path, "voc_seg", CONFUSION, {"test_set": "seg11valid", "full_protocol": False})
    assert write_run_report(str(tmp_path)) is None  # no random baseline yet
    _write(tmp_path, "voc_seg_random", np.array([[5, 3, 0], [3, 1, 0], [0, 0, 0]]), {})
    paths = write_run_report(str(tmp_path))
    markdown = open(paths["report.md"]).read()
    # Random: IoU 5/11 and 1/7.
    random = 100 * (5 / 11 + 1 / 7) / 2
    assert f"| mean IU, seg11valid (%) | 58.3 | {random:.1f} | {58.333 - random:+.1f} |" in markdown
    assert "| paper" not in markdown and (tmp_path / "report.png").exists()
    trained, random_results, evaluated = collect_segmentation(str(tmp_path))
    full = segmentation_markdown(trained, random_results, {**evaluated, "full_protocol": True})
    assert "| paper (Jenni & Favaro 2018), mean IU | 38.1 | 19.8 | +18.3 |" in full
