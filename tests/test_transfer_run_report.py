from spot_tf.models import CONV_LAYERS
from spot_tf.transfer.report import write_report
from spot_tf.transfer.run_report import collect, write_run_report


def _results(base):
    return {layer: {"top1": base + i, "top5": base + 10 + i} for i, layer in enumerate(CONV_LAYERS)}


def test_trained_against_random_per_layer_with_the_difference(tmp_path):
    assert write_run_report(str(tmp_path)) is None
    write_report(_results(50.0), tmp_path / "linear_eval")
    write_report(_results(20.0), tmp_path / "linear_eval_random")
    write_report(_results(40.0), tmp_path / "knn_eval")  # no random k-NN: not in the report
    pairs, paper_protocol = collect(str(tmp_path))
    assert list(pairs) == ["linear"] and not paper_protocol
    paths = write_run_report(str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "| linear | trained | 50.0 | 51.0 | 52.0 | 53.0 | 54.0 |" in table
    assert "| | random | 20.0 | 21.0 | 22.0 | 23.0 | 24.0 |" in table
    assert "| | difference | +30.0 | +30.0 | +30.0 | +30.0 | +30.0 |" in table
    assert "k-NN" not in table.split("\n\n")[1]
    assert (tmp_path / "report.png").stat().st_size > 0 and set(paths) == {"report.md", "report.png"}
    write_report(_results(10.0), tmp_path / "knn_eval_random")
    write_run_report(str(tmp_path))
    assert "| k-NN | trained | 40.0" in (tmp_path / "report.md").read_text()
    assert "paper (Jenni" not in (tmp_path / "report.md").read_text()


def test_the_papers_rows_stand_beside_probes_that_ran_its_protocol_in_full(tmp_path):
    full = {"protocol": "splitbrain", "full_protocol": True, "num_classes": 1000}
    write_report(_results(20.0), tmp_path / "linear_eval_random", evaluated=full)
    for evaluated, shown in (({**full, "full_protocol": False}, False), ({**full, "protocol": "deepcluster"}, False),
                             ({**full, "num_classes": 10}, False), (full, True)):
        write_report(_results(50.0), tmp_path / "linear_eval", evaluated=evaluated)
        write_run_report(str(tmp_path))
        table = (tmp_path / "report.md").read_text()
        assert ("| paper (Jenni & Favaro 2018) | trained | 19.5 | 33.3 | 37.9 | 38.9 | 34.9 |" in table) == shown
        assert ("| paper (Jenni & Favaro 2018) | random | 11.6 | 17.1 | 16.9 | 16.3 | 14.1 |" in table) == shown


def _voc(base, layered=False):
    from spot_tf.transfer.voc_report import ap_result
    result = ap_result({"sklearn": [base, base + 10.0, None]}, ("cat", "dog", "sheep"), "sklearn")
    return {layer: result for layer in CONV_LAYERS} if layered else result


def test_voc_rows_trained_against_random_and_the_papers_row_only_beside_a_full_fine_tuning(tmp_path):
    from spot_tf.transfer.voc_report import write_voc_results
    full = {"train_from": "all", "full_protocol": True}
    write_voc_results(_voc(60.0), tmp_path / "voc07_finetune", "ft", {**full, "full_protocol": False})
    assert write_run_report(str(tmp_path)) is None  # no random baseline yet
    write_voc_results(_voc(40.0), tmp_path / "voc07_finetune_random", "ft", full)
    write_voc_results(_voc(30.0, True), tmp_path / "voc07_svm", "svm", {}, layered=True)
    write_voc_results(_voc(10.0, True), tmp_path / "voc07_svm_random", "svm", {}, layered=True)
    paths = write_run_report(str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "| VOC07 fine-tuning | from all | 65.0 | 45.0 | +20.0 |" in table
    assert "| VOC07 SVM | conv_3 | 35.0 | 15.0 | +20.0 |" in table
    assert "paper (Jenni" not in table and "is not shown beside these" in table
    assert "| linear |" not in table and (tmp_path / "report.png").stat().st_size > 0 and paths
    write_voc_results(_voc(60.0), tmp_path / "voc07_finetune", "ft", full)
    write_run_report(str(tmp_path))
    assert "| paper (Jenni & Favaro 2018) | fine-tuned, all | 69.8 | 53.3 | +16.5 |" in (tmp_path / "report.md").read_text()
    write_voc_results(_voc(60.0), tmp_path / "voc07_finetune", "ft", {**full, "train_from": "fc8"})
    write_run_report(str(tmp_path))
    assert "paper (Jenni" not in (tmp_path / "report.md").read_text()
