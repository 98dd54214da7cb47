"""End to end: both PASCAL VOC 2007 phases on a VOCdevkit folder and on TFDS voc/2007 (built from it),
the fine-tuning resumed after SIGKILL, the random baselines' folders, and a VOC folder without its test
set refused in one line. (`all` with voc_dataset: test_phases_voc.py; the report rows:
test_transfer_run_report.py.)"""
import json
import os

from conftest import summary_tags
from e2e import killed_after_checkpoint, run
from voc_data import TRAINVAL_ONLY, prepare_tfds_voc, write_vocdevkit

TINY = ["--dataset=demo", "--image_size=32", "--eval_image_size=32", "--eval_batch_size=4", "--batch_size=4",
        "--checkpoint_every=2", "--summary_every=2"]


def _results(folder):
    with open(os.path.join(folder, "results.json")) as f:
        return json.load(f)


def test_a_vocdevkit_fine_tuning_resumes_after_sigkill_and_the_svms_run(tmp_path, demo_cache):
    write_vocdevkit(str(tmp_path / "data"), trainval=16, test=8)
    voc = str(tmp_path / "data" / "VOCdevkit" / "VOC2007")
    flags = [f"--model_dir={tmp_path / 'run'}", f"--data_cache_dir={demo_cache}", f"--voc_dataset={voc}",
             "--eval_source=random", *TINY]
    folder = tmp_path / "run" / "voc07_finetune_random"
    saved = killed_after_checkpoint([*flags, "--phase=voc07_finetune", "--eval_steps=30"], folder, 4)
    assert 4 <= saved < 30 and not (folder / "results.json").exists()

    rerun = run(*flags, "--phase=voc07_finetune", "--eval_steps=30")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from {folder}/ckpt-{saved}" in rerun.stderr
    results = _results(folder)
    evaluated = results["evaluated"]
    assert evaluated["steps"] == 30 and evaluated["full_protocol"] is False and evaluated["train_from"] == "all"
    assert evaluated["metric"] == "sklearn" and evaluated["dataset"] == voc and evaluated["test_crops"] == 10
    assert len(results["AP"]) == 20 and results["AP"]["bicycle"] is None and results["AP"][TRAINVAL_ONLY] is None
    assert TRAINVAL_ONLY in evaluated["classes_without_positive"]
    assert 0 <= results["mAP"] <= 100 and 0 <= results["mAP_11point"] <= 100 and 0 <= results["mAP_vocap"] <= 100
    assert summary_tags(folder / "logs")["test/mAP"] == [30]

    svm = run(*flags, "--phase=voc07_svm")
    assert svm.returncode == 0, svm.stderr[-3000:]
    results = _results(tmp_path / "run" / "voc07_svm_random")
    assert results["evaluated"]["metric"] == "vocap" and results["evaluated"]["solver"] == "tf"
    assert all(0 <= results[f"conv_{i}"]["mAP"] <= 100 and results[f"conv_{i}"]["AP"]["bicycle"] is None
               for i in range(1, 6))
    # Another image size cannot reuse the cached features: refused in one line, nothing lost.
    before = sorted(os.listdir(tmp_path / "run" / "voc07_svm_random"))
    other = run(*flags, "--phase=voc07_svm", "--eval_image_size=36")
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert other.stderr.strip().splitlines()[-1].startswith("error: --eval_image_size=36: ")
    assert sorted(os.listdir(tmp_path / "run" / "voc07_svm_random")) == before


def test_both_phases_run_on_tfds_voc_2007(tmp_path, demo_cache):
    write_vocdevkit(str(tmp_path / "data"), trainval=12, test=8)
    prepare_tfds_voc(str(tmp_path / "data"), str(tmp_path / "tfds"))
    model_dir = tmp_path / "run"
    flags = [f"--model_dir={model_dir}", f"--data_cache_dir={demo_cache}", "--voc_dataset=tfds:voc/2007",
             f"--tfds_data_dir={tmp_path / 'tfds'}", "--eval_source=random", "--eval_steps=2", *TINY]
    for phase in ("voc07_finetune", "voc07_svm"):
        result = run(*flags, f"--phase={phase}")
        assert result.returncode == 0, result.stderr[-3000:]
        results = _results(model_dir / f"{phase}_random")
        assert results["evaluated"]["dataset"] == "tfds:voc/2007" and results["evaluated"]["num_classes"] == 20
        scores = results if phase == "voc07_finetune" else results["conv_5"]
        assert scores["AP"][TRAINVAL_ONLY] is None and 0 <= scores["mAP"] <= 100


def test_a_voc_folder_without_its_test_set_is_refused_in_one_line(tmp_path, demo_cache):
    write_vocdevkit(str(tmp_path / "data"), trainval=4, test=2)
    voc = tmp_path / "data" / "VOCdevkit" / "VOC2007"
    os.remove(voc / "ImageSets" / "Main" / "test.txt")
    result = run(f"--model_dir={tmp_path / 'run'}", f"--data_cache_dir={demo_cache}", f"--voc_dataset={voc}",
                 "--eval_source=random", "--phase=voc07_svm", *TINY)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: --voc_dataset={voc}: has no {voc}/ImageSets/Main/test.txt: the test split is missing")
    assert not (tmp_path / "run" / "voc07_svm_random").exists()
