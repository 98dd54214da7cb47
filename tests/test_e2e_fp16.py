"""End to end with fp16 mixed precision: dynamic loss scaling skips the first updates of each
training phase, and every phase still trains all its steps."""
import re

from conftest import summary_tags
from e2e import TINY, run


def test_training_phases_in_fp16_train_every_step_and_show_the_skipped_updates(tmp_path, demo_cache):
    # The training phases only: export and evaluation run in eval_precision (float32), whatever the training's
    # precision (tests/test_phases_transfer.py checks that after a mixed-precision run).
    for phase in ("autoencoder", "spot"):
        result = run(f"--phase={phase}", f"--model_dir={tmp_path}", "--dataset=demo", f"--data_cache_dir={demo_cache}",
                     "--mixed_precision=fp16", *TINY)
        assert result.returncode == 0, result.stderr[-3000:]
        assert (tmp_path / phase / "ckpt-4.index").exists()
        shown = re.search(rf"\] {phase}: step 4, (\d+) updates? skipped \(fp16 loss scale now \d+\)", result.stderr)
        assert shown, result.stderr[-3000:]
        if phase == "autoencoder":
            assert int(shown.group(1)) > 0
        tags = summary_tags(tmp_path / phase / "logs")
        assert tags["train/loss_scale"] == [2, 4] and tags["train/skipped_updates"] == [2, 4]
