"""Tests of spot_tf/transfer/voc_report.py."""
import json

import numpy as np

from spot_tf.transfer.voc_report import (ap_result, evaluated_entry, read_voc_results, results_text, score_result,
                                         write_voc_results)

CLASSES = ("cat", "dog", "sheep")


def test_the_protocols_metric_is_map_and_every_other_is_named():
    result = ap_result({"sklearn": [50.0, 100.0, None], "vocap": [60.0, 100.0, None], "11point": [55.0, 90.0, None]},
                       CLASSES, "sklearn")
    assert result["mAP"] == 75.0 and result["AP"] == {"cat": 50.0, "dog": 100.0, "sheep": None}
    assert result["mAP_vocap"] == 80.0 and result["mAP_11point"] == 72.5
    assert set(result) == {"mAP", "AP", "mAP_vocap", "AP_vocap", "mAP_11point", "AP_11point"}
    entry = evaluated_entry({"protocol": "x"}, "sklearn", result)
    assert entry["metric"] == "sklearn" and entry["classes_without_positive"] == ["sheep"]
    assert "Krähenbühl" in entry["metric_name"]


def test_scores_under_every_metric():
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, -1, 0], [0, 1, 0]])
    scores = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.1], [0.1, 0.9, 0.4], [0.8, 0.3, 0.2]])
    result = score_result(labels, scores, CLASSES, "vocap")
    # cat: ranked 0.9 (+), 0.8 (-), 0.2 (-), 0.1 (+): precisions 1 and 1/2 at recalls 1/2 and 1.
    assert abs(result["AP"]["cat"] - 75.0) < 1e-9 and result["AP"]["dog"] == 100.0 and result["AP"]["sheep"] is None
    assert abs(result["mAP"] - 87.5) < 1e-9  # the class without a positive is left out
    assert set(result) == {"mAP", "AP", "mAP_sklearn", "AP_sklearn", "mAP_11point", "AP_11point"}


def test_written_and_read_back(tmp_path):
    result = ap_result({"vocap": [60.0, None, 20.0]}, CLASSES, "vocap")
    paths = write_voc_results({"conv_1": result, "conv_2": result}, str(tmp_path), "SVMs",
                              {"protocol": "voc07_svm"}, layered=True)
    content = json.loads((tmp_path / "results.json").read_text())
    assert content["conv_1"]["AP"]["dog"] is None and content["evaluated"] == {"protocol": "voc07_svm"}
    assert read_voc_results(paths["results.json"]) == ({"conv_1": result, "conv_2": result}, {"protocol": "voc07_svm"})
    table = (tmp_path / "results.md").read_text()
    assert "| dog | n/a | n/a |" in table and "| **mAP** | 40.00 | 40.00 |" in table
    assert results_text(result, layered=False) == "VOC07: mAP 40.00"
