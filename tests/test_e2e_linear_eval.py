"""End to end: the linear probes resume after a crash, run under two workers, and refuse what they
cannot resume."""
import glob
import json
import os
import re

import tensorflow as tf

from conftest import summary_tags
from e2e import killed_after_checkpoint, run
from test_e2e_multi_worker import run_workers

PROBE = ["--phase=linear_eval", "--dataset=demo", "--eval_source=random", "--image_size=32", "--eval_image_size=32",
         "--eval_batch_size=8", "--checkpoint_every=5", "--summary_every=5"]


def _event_steps(log_dir, tag):
    """{event file: [steps of `tag`]}."""
    steps = {}
    for path in sorted(glob.glob(os.path.join(str(log_dir), "events.out.tfevents.*"))):
        steps[path] = [event.step for event in tf.compat.v1.train.summary_iterator(path)
                       for value in event.summary.value if value.tag == tag]
    return steps


def test_sigkill_loses_at_most_checkpoint_every_steps_and_the_rerun_continues(tmp_path, demo_cache):
    flags = [f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", *PROBE, "--eval_steps=60"]
    folder = tmp_path / "linear_eval_random"
    saved = killed_after_checkpoint([*flags], folder, 10)
    assert 10 <= saved < 60 and not (folder / "results.json").exists()
    written = max(step for steps in _event_steps(folder / "logs", "train/conv_1_loss").values() for step in steps)
    # The logs reach no further than a checkpoint_every past the last checkpoint.
    assert written < saved + 5

    rerun = run(*flags)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from {folder}/ckpt-{saved}" in rerun.stderr
    assert (folder / "ckpt-60.index").exists()
    results = json.loads((folder / "results.json").read_text())
    assert results["evaluated"]["steps"] == 60 and results["evaluated"]["source"] == "random (seed 0)"
    # The rerun's curves continue from the resumed step.
    newest = _event_steps(folder / "logs", "train/conv_1_loss")
    rerun_steps = [steps for steps in newest.values() if steps and min(steps) > saved]
    assert rerun_steps and rerun_steps[-1] == list(range(saved + 5, 61, 5))
    assert summary_tags(folder / "logs")["test/conv_5/top1"] == [60]

    # Checkpoints of other probes are not resumed: a changed protocol is refused in one line.
    before = sorted(p.name for p in folder.iterdir())
    other = run(*flags, "--probe_protocol=deepcluster")
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert other.stderr.strip().splitlines()[-1].startswith(
        f"error: --probe_protocol=deepcluster: {folder} holds checkpoints trained with protocol 'splitbrain'")
    assert sorted(p.name for p in folder.iterdir()) == before


def test_an_image_size_the_discriminator_cannot_take_is_refused(tmp_path, demo_cache):
    result = run(f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", *PROBE, "--disc_padding=valid",
                 "--image_size=64", "--ae_depth=5", "--eval_image_size=34")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --eval_image_size=34: the discriminator (valid padding) needs images of at least 35 px")


def test_two_workers_train_the_probes_together_and_only_the_chief_writes(tmp_path, demo_cache):
    outputs = run_workers([f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", *PROBE, "--eval_steps=6",
                           "--strategy=multi_worker"])
    checksums = [re.findall(r"linear_eval_random: step 6, weights checksum (\S+)", err) for err in outputs]
    assert all(len(c) == 1 for c in checksums), [err[-2000:] for err in outputs]
    assert float(checksums[0][0]) == float(checksums[1][0])
    folder = tmp_path / "linear_eval_random"
    assert sorted(p.name for p in folder.glob("ckpt-*.index")) == ["ckpt-5.index", "ckpt-6.index"]
    # Event files are named <time>.<host>.<pid>...: one process wrote them all.
    assert len({p.name.split(".")[4] for p in (folder / "logs").glob("events.out.tfevents.*")}) == 1
    results = json.loads((folder / "results.json").read_text())
    assert results["evaluated"]["steps"] == 6 and all(0 <= results[f"conv_{i}"]["top1"] <= 100 for i in range(1, 6))
    # Each worker tests its shard of the demo's 512 test images; every image counts once.
    assert results["evaluated"]["test_images"] == 512


def test_probes_and_finetuning_under_two_local_devices(tmp_path, demo_cache):
    flags = [f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--strategy=mirrored", "--cpu_devices=2"]
    result = run(*flags, *PROBE, "--eval_steps=4", "--ten_crop")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "linear_eval_random" / "results.json").read_text())
    assert results["evaluated"]["ten_crop"] is True and results["evaluated"]["steps"] == 4
    assert results["evaluated"]["test_images"] == 512  # ten crops of an image count as one
    result = run(*flags, "--phase=finetune", "--eval_steps=4", "--checkpoint_every=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "finetune_conv0_random").glob("ckpt-*.index")) == [
        "ckpt-2.index", "ckpt-4.index"]
