import math

from spot_tf.models import CONV_LAYERS
from spot_tf.transfer.report import write_report
from spot_tf.transfer.run_report import collect, difference_noise, noise_sentence, write_run_report
from tests.test_transfer_pretext_curves import write_scalars


def _results(base):
    return {layer: {"top1": base + i, "top5": base + 10 + i} for i, layer in enumerate(CONV_LAYERS)}


def test_trained_against_random_per_layer_with_the_difference(tmp_path):
    assert write_run_report(str(tmp_path)) is None
    write_report(_results(50.0), tmp_path / "linear_eval")
    write_report(_results(20.0), tmp_path / "linear_eval_random")
    write_report(_results(40.0), tmp_path / "knn_eval")  # no random k-NN: not in the report
    pairs, evaluated = collect(str(tmp_path))
    assert list(pairs) == ["linear"] and evaluated == {"linear": ({}, {})}
    paths = write_run_report(str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "| linear | trained | 50.0 | 51.0 | 52.0 | 53.0 | 54.0 |" in table
    assert "| | random | 20.0 | 21.0 | 22.0 | 23.0 | 24.0 |" in table
    assert "| | difference | +30.0 | +30.0 | +30.0 | +30.0 | +30.0 |" in table
    assert "k-NN" not in table.split("\n\n")[1]
    # Without the test set's size (older results.json) there is no sentence on it, and no curves without logs.
    assert table.split("\n\n")[1].startswith("| evaluation") and "pretext" not in table
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
        # Results of another evaluation are never written over: each case is a fresh folder's.
        (tmp_path / "linear_eval" / "results.json").unlink(missing_ok=True)
        write_report(_results(50.0), tmp_path / "linear_eval", evaluated=evaluated)
        write_run_report(str(tmp_path))
        table = (tmp_path / "report.md").read_text()
        assert ("| paper (Jenni & Favaro 2018) | trained | 19.5 | 33.3 | 37.9 | 38.9 | 34.9 |" in table) == shown
        assert ("| paper (Jenni & Favaro 2018) | random | 11.6 | 17.1 | 16.9 | 16.3 | 14.1 |" in table) == shown


def _top1(values):
    return {layer: {"top1": value, "top5": 100.0} for layer, value in zip(CONV_LAYERS, values)}


def test_the_report_says_when_the_test_set_cannot_tell_trained_from_random(tmp_path):
    # The demo's figures: 512 test images.
    test = {"test_images": 512}
    write_report(_top1((98.4, 98.8, 97.0, 97.9, 97.3)), tmp_path / "linear_eval", evaluated=test)
    write_report(_top1((97.7, 98.8, 98.6, 98.2, 97.9)), tmp_path / "linear_eval_random", evaluated=test)
    pairs, evaluated = collect(str(tmp_path))
    rows = difference_noise(pairs, evaluated)
    name, layer, difference, two_se, images = rows[2]
    assert (name, layer, images) == ("linear", "conv_3", 512) and math.isclose(difference, -1.6, abs_tol=1e-9)
    assert math.isclose(two_se, 200 * math.sqrt((0.97 * 0.03 + 0.986 * 0.014) / 512))  # 1.83 points
    write_run_report(str(tmp_path))
    lines = (tmp_path / "report.md").read_text().splitlines()
    assert lines[2] == ("The test set has 512 images, so one image is 0.2 points; trained and random differ by at "
                        "most 1.6 points (8 images), within two standard errors of each difference (1.4-1.9 "
                        "points): this data cannot tell them apart.")
    # conv_3 four points behind: 20 images, beyond two standard errors (2.3 points).
    write_report(_top1((98.4, 98.8, 94.6, 97.9, 97.3)), tmp_path / "linear_eval", evaluated=test)
    write_report(_top1((90.0,) * 5), tmp_path / "knn_eval", evaluated={"test_images": 500})
    write_report(_top1((90.0,) * 5), tmp_path / "knn_eval_random", evaluated={"test_images": 500})
    write_run_report(str(tmp_path))
    sentence = (tmp_path / "report.md").read_text().splitlines()[2]
    assert sentence.startswith("The test sets have 500 and 512 images, so one image is up to 0.2 points; 1 of 10 "
                               "differences between trained and random exceed two standard errors (linear conv_3: "
                               "random ahead by 4.0 points (20 images; two standard errors 2.3)); the others")
    assert noise_sentence([]) is None


def test_the_spot_phases_learning_curves_stand_beside_the_transfer_results(tmp_path):
    write_report(_top1((50.0,) * 5), tmp_path / "linear_eval")
    write_report(_top1((40.0,) * 5), tmp_path / "linear_eval_random")
    write_scalars(tmp_path / "spot" / "logs", {50: 0.55, 100: 0.7, 150: 0.9})
    write_run_report(str(tmp_path))
    report = (tmp_path / "report.md").read_text()
    assert "## The pretext task (spot phase)" in report
    assert "| discriminator accuracy, repaired images | 56.0 (step 50) | 91.0 (step 150) |" in report
    assert (tmp_path / "report.png").stat().st_size > 0


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
    # Results of another evaluation are kept: the fc8 fine-tuning writes into a folder of its own.
    (tmp_path / "voc07_finetune" / "results.json").unlink()
    write_voc_results(_voc(60.0), tmp_path / "voc07_finetune", "ft", {**full, "train_from": "fc8"})
    write_run_report(str(tmp_path))
    assert "paper (Jenni" not in (tmp_path / "report.md").read_text()
