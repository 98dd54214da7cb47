import json

import pytest

from spot_tf.transfer.report import read_results, results_markdown, write_report

RESULTS = {"conv_1": {"top1": 19.5, "top5": 40.0}, "conv_5": {"top1": 34.875, "top5": 60.25}}


def test_writes_json_markdown_and_png(tmp_path):
    paths = write_report(RESULTS, tmp_path / "out", title="probe")
    with open(paths["results.json"]) as f:
        assert json.load(f) == {**RESULTS, "evaluated": {}}
    assert read_results(paths["results.json"]) == (RESULTS, {})
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| conv_5 | 34.88 | 60.25 |" in markdown and markdown.startswith("# probe")
    assert (tmp_path / "out" / "top1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_keeps_layer_order():
    lines = results_markdown({"conv_5": {"top1": 1, "top5": 2}, "conv_1": {"top1": 3, "top5": 4}}, "t").splitlines()
    assert [line.split("|")[1].strip() for line in lines[4:]] == ["conv_5", "conv_1"]


@pytest.mark.parametrize("bad", [{}, {"conv_1": {"top1": 1.0}}, {"conv_1": {"top1": 1.0, "top5": 2.0, "x": 0}}])
def test_rejects_malformed_results(tmp_path, bad):
    with pytest.raises(ValueError, match="results"):
        write_report(bad, tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_results_say_what_was_evaluated(tmp_path):
    evaluated = {"source": "random (seed 0)", "protocol": "splitbrain", "image_size": 227, "steps": 140000}
    paths = write_report(RESULTS, tmp_path, title="probe", evaluated=evaluated)
    assert read_results(paths["results.json"]) == (RESULTS, evaluated)
    assert "- protocol: splitbrain" in (tmp_path / "results.md").read_text()


def test_results_of_another_evaluation_are_never_written_over(tmp_path):
    from spot_tf.transfer.report import ResultsConflictError
    evaluated = {"source": "spot/ckpt-4", "image_size": 32, "steps": 2}
    paths = write_report(RESULTS, tmp_path, evaluated=evaluated)
    saved = open(paths["results.json"]).read()
    with pytest.raises(ResultsConflictError, match=f"{paths['results.json']} holds the results of an evaluation "
                                                   "with image_size 32, not 64; they are kept"):
        write_report({"conv_1": {"top1": 1.0, "top5": 2.0}}, tmp_path, evaluated={**evaluated, "image_size": 64})
    assert open(paths["results.json"]).read() == saved
    # The same evaluation, resumed to more steps, replaces them.
    write_report(RESULTS, tmp_path, evaluated={**evaluated, "steps": 4})
    assert read_results(paths["results.json"])[1]["steps"] == 4


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"conv_1": {"top1": "high", "top5": 1}}'])
def test_a_malformed_results_file_is_named_by_its_path(tmp_path, content):
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"^{path} is not a results file of spot_tf"):
        read_results(str(path))
