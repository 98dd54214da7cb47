"""End to end with fp16 mixed precision: dynamic loss scaling skips the first updates of each
training phase, and every phase still trains all its steps."""
import re

from conftest import summary_tags
from e2e import TINY, run


def test_all_phases_in_fp16_train_every_step_and_show_the_skipped_updates(tmp_path, demo_cache):
    result = run("--phase=all", f"--model_dir={tmp_path}", "--dataset=demo", f"--data_cache_dir={demo_cache}",
                 "--mixed_precision=fp16", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    for phase in ("autoencoder", "spot"):
        assert (tmp_path / phase / "ckpt-4.index").exists()
        shown = re.search(rf"\] {phase}: step 4, (\d+) updates? skipped \(fp16 loss scale now \d+\)", result.stderr)
        assert shown, result.stderr[-3000:]
        tags = summary_tags(tmp_path / phase / "logs")
        assert tags["train/loss_scale"] == [2, 4] and tags["train/skipped_updates"] == [2, 4]
    assert int(re.search(r"\] autoencoder: step 4, (\d+)", result.stderr).group(1)) > 0
    assert (tmp_path / "export" / "saved_model.pb").exists()
    assert (tmp_path / "linear_eval" / "results.json").exists()
