import json

import numpy as np
import tensorflow as tf

from conftest import tiny_settings
from spot_tf.phases import run_phases, transfer
from spot_tf.run.checkpoints import restore_spot_model


def test_all_in_bf16_exports_and_evaluates_in_float32(tmp_path, demo_cache, monkeypatch):
    from spot_tf.run import precision
    # auto on a CPU with native bfloat16: bf16, recorded as such in config.json.
    monkeypatch.setattr(precision, "read_cpuinfo", lambda: "flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    settings = tiny_settings(tmp_path, demo_cache, mixed_precision="auto", ae_steps=2, spot_steps=2, eval_steps=2,
                             eval_image_size=32, eval_batch_size=4)
    # The phases this needs, not "all": k-NN, the baselines and the report evaluate in float32 as linear_eval
    # does, and "all" runs them in tests/test_e2e_train_spot.py.
    for phase in ("autoencoder", "spot", "export", "linear_eval"):
        run_phases(settings, phase)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["training"]["mixed_precision"] == "bf16" and saved["evaluation"]["eval_precision"] == "none"
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    assert {v.dtype for v in loaded.variables if v.dtype.is_floating} == {tf.float32}
    images = tf.random.stateless_uniform((2, 32, 32, 3), seed=[1, 2], minval=-1.0, maxval=1.0)
    exported = loaded.signatures["serving_default"](images=images)
    model, _ = restore_spot_model(str(tmp_path), settings.model)
    expected = model.discriminator.features(images, training=False)
    for name in ("conv_1", "conv_5"):
        assert exported[name].dtype == tf.float32
        # bfloat16 compute would differ by about 1e-2 of the scale.
        scale = float(tf.reduce_max(tf.abs(expected[name])))
        np.testing.assert_allclose(exported[name].numpy(), expected[name].numpy(), atol=1e-5 * scale, err_msg=name)
    results = json.loads((tmp_path / "linear_eval" / "results.json").read_text())
    assert sorted(results) == [f"conv_{i}" for i in range(1, 6)] + ["evaluated"]
    assert results["evaluated"]["source"].endswith("spot/ckpt-2") and results["evaluated"]["steps"] == 2
    assert results["evaluated"]["test_images"] == 512  # the demo's test split


def test_the_random_baseline_is_the_spot_phases_initial_discriminator(tmp_path, demo_cache):
    from spot_tf.training.builders import build_spot_trainer
    from spot_tf.transfer import load_feature_extractor
    settings = tiny_settings(tmp_path, demo_cache, seed=3)
    initial = build_spot_trainer(settings).model.discriminator
    random = load_feature_extractor("random", settings.model, seed=3)
    assert random.source == "random (seed 3)"
    for a, b in zip(initial.weights, random.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    other = load_feature_extractor("random", settings.model, seed=4).discriminator
    assert not np.array_equal(other.conv_1.conv.kernel.numpy(), initial.conv_1.conv.kernel.numpy())


def _captured(monkeypatch):
    calls = {}

    def fake(settings, strategy, phase, build, steps, train, test, evaluated, title):
        batch = next(iter(train(None, 0, None)))[0]
        calls.update(evaluated, phase=phase, steps=steps, batch=int(batch.shape[0]), size=int(batch.shape[1]))
        return {}
    monkeypatch.setattr(transfer, "train_and_test", fake)
    return calls


def test_evaluation_lengths_follow_the_protocols_unless_eval_steps_is_given(tmp_path, demo_cache, monkeypatch):
    from spot_tf import data as spot_data
    from spot_tf.training.probe_protocols import PROTOCOLS
    settings = tiny_settings(tmp_path, demo_cache, eval_steps=0, eval_source="random", batch_size=8)
    info = spot_data.describe_dataset("demo", cache_dir=demo_cache)
    calls = _captured(monkeypatch)
    transfer.finetune(settings, info)
    # The original's 15,600 steps of 128 images at the training size, on the random baseline's own folder.
    assert calls["steps"] == 15600 and calls["batch"] == 128 and calls["size"] == 32
    assert calls["phase"] == "finetune_conv0_random"
    transfer.finetune(settings.replace(eval_steps=7, eval_batch_size=4), info)
    assert calls["steps"] == 7 and calls["batch"] == 4
    transfer.linear_eval(settings, info)
    # The paper's protocol: 227 px crops, batch 256, 140,000 * 256 / 1,281,167 epochs of the split.
    train_images = info.num_examples["train"]
    assert calls["steps"] == round(140000 * 256 / 1281167 * train_images / 256) == PROTOCOLS["splitbrain"].steps(
        train_images)
    assert (calls["batch"], calls["size"], calls["protocol"]) == (256, 227, "splitbrain") and calls["full_protocol"]
    assert calls["phase"] == "linear_eval_random"
    transfer.linear_eval(settings.replace(probe_protocol="deepcluster", eval_steps=5, eval_batch_size=4), info)
    assert (calls["steps"], calls["batch"], calls["size"], calls["protocol"]) == (5, 4, 224, "deepcluster")
    assert not calls["full_protocol"]


def test_knn_eval_of_the_random_baseline_under_two_replicas(tmp_path, demo_cache, two_replicas):
    from spot_tf import data as spot_data
    settings = tiny_settings(tmp_path, demo_cache, eval_source="random", batch_size=64, eval_image_size=32)
    info = spot_data.describe_dataset("demo", cache_dir=demo_cache)
    transfer.knn_eval(settings, info, two_replicas)
    results = json.loads((tmp_path / "knn_eval_random" / "results.json").read_text())
    assert results.pop("evaluated")["protocol"] == "splitbrain"
    assert sorted(results) == [f"conv_{i}" for i in range(1, 6)]
    # Eight classes: a random network's pooled colours are still far better than chance (12.5%).
    assert all(results[layer]["top1"] > 12.5 and results[layer]["top5"] >= results[layer]["top1"]
               for layer in results)
    assert json.loads((tmp_path / "knn_eval_random" / "knn_settings.json").read_text())["k"] == 20


def test_a_claim_without_checkpoints_or_results_behind_it_is_replaced(tmp_path, demo_cache):
    import pytest
    from spot_tf.errors import SettingError
    settings = tiny_settings(tmp_path, demo_cache)
    folder = tmp_path / "linear_eval"
    first = {"source": "spot/ckpt-4", "protocol": "splitbrain", "image_size": 48, "batch_size": 8, "num_classes": 8}
    transfer.claim_phase(settings, "linear_eval", first)
    # The command that wrote it failed before training: the corrected one replaces it.
    corrected = {**first, "image_size": 32}
    transfer.claim_phase(settings, "linear_eval", corrected)
    assert json.loads((folder / "evaluation.json").read_text())["image_size"] == 32
    # Once checkpoints stand behind it, another image size is refused, and the refusal says so.
    (folder / "ckpt-2.index").write_text("")
    with pytest.raises(SettingError, match="holds checkpoints trained with image_size 32, not 48") as err:
        transfer.claim_phase(settings, "linear_eval", first)
    assert err.value.setting == "eval_image_size"
    # A source inside the run matches however it was recorded: an earlier version's absolute path.
    (folder / "evaluation.json").write_text(json.dumps({**corrected, "source": str(tmp_path / "spot" / "ckpt-4")}))
    transfer.claim_phase(settings, "linear_eval", corrected)


def test_a_knn_rerun_with_another_image_size_keeps_the_results(tmp_path, demo_cache):
    import pytest
    from spot_tf import data as spot_data
    from spot_tf.errors import SettingError
    settings = tiny_settings(tmp_path, demo_cache, eval_source="random", batch_size=64, eval_image_size=32)
    info = spot_data.describe_dataset("demo", cache_dir=demo_cache)
    transfer.knn_eval(settings, info)
    path = tmp_path / "knn_eval_random" / "results.json"
    saved = path.read_text()
    with pytest.raises(SettingError, match=f"{path} holds the results of an evaluation with image_size 32, not 40; "
                                           "they are kept") as err:
        transfer.knn_eval(settings.replace(eval_image_size=40), info)
    assert err.value.setting == "eval_image_size" and path.read_text() == saved
    transfer.knn_eval(settings, info)  # The same settings may write the same results again.
    assert json.loads(path.read_text()) == json.loads(saved)


def test_a_moved_run_resumes_its_probes(tmp_path, demo_cache):
    import shutil
    from spot_tf import data as spot_data
    from spot_tf.run.checkpoint_files import checkpoint_steps
    from spot_tf.run.checkpoints import build_spot_model, spot_ema
    old, new = tmp_path / "old", tmp_path / "elsewhere" / "new"
    settings = tiny_settings(old, demo_cache, eval_image_size=32, eval_batch_size=4, eval_steps=2)
    model = build_spot_model(settings.model, seed=0)
    tf.train.Checkpoint(model=model, ema=spot_ema(model)).write(str(old / "spot" / "ckpt-4"))
    info = spot_data.describe_dataset("demo", cache_dir=demo_cache)
    transfer.linear_eval(settings, info)
    evaluated = json.loads((old / "linear_eval" / "results.json").read_text())["evaluated"]
    assert evaluated["source"] == "spot/ckpt-4"
    assert json.loads((old / "linear_eval" / "evaluation.json").read_text())["source"] == "spot/ckpt-4"
    new.parent.mkdir()
    shutil.move(str(old), str(new))
    moved = tiny_settings(new, demo_cache, eval_image_size=32, eval_batch_size=4, eval_steps=3)
    transfer.linear_eval(moved, info)
    assert sorted(checkpoint_steps(str(new / "linear_eval"))) == [2, 3]
    assert json.loads((new / "linear_eval" / "results.json").read_text())["evaluated"]["steps"] == 3
