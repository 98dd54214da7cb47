import os

import numpy as np
import pytest
import keras
import tensorflow as tf

from conftest import summary_tags, tiny_settings
from spot_tf.errors import SettingError
from spot_tf.optim.optimization import current_learning_rate
from spot_tf.phases import pretrain
from spot_tf.run.checkpoints import build_spot_model, restore_spot_model
from spot_tf.training.builders import build_autoencoder_trainer, build_spot_trainer
from spot_tf.training.callbacks import TrainingDivergedError


def _latest(directory):
    return os.path.basename(tf.train.latest_checkpoint(directory))


def test_spot_phase_writes_step_checkpoints_and_summaries(tmp_path, demo_cache, tiny_autoencoder):
    cfg = tiny_settings(tmp_path, demo_cache, ae_checkpoint=tiny_autoencoder)
    assert pretrain.spot(cfg) == 4
    spot = tmp_path / "spot"
    assert {p.name for p in spot.glob("ckpt-*.index")} == {"ckpt-2.index", "ckpt-4.index"}
    # Transfer reads the model (and its average) out of the full training checkpoint.
    trainer = build_spot_trainer(cfg)
    trainer.checkpoint().read(str(spot / "ckpt-4")).assert_existing_objects_matched()
    model, prefix = restore_spot_model(str(tmp_path), cfg.model)
    assert prefix.endswith("ckpt-4")
    for a, b in zip(trainer.model.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    tags = summary_tags(spot / "logs")
    for tag in ("train/discriminator_loss", "train/real_fake_ce", "train/mask_ce_x0.1", "train/swapped_ce",
                "train/masked_mse_x30", "train/accuracy_real", "train/accuracy_repaired", "train/mask_accuracy",
                "train/lr_repair", "train/lr_discriminator", "images/inputs", "images/reconstructions",
                "images/repaired", "images/masks", "weights/conv_1"):
        assert tags.get(tag) == [2, 4], tag


def test_resume_restores_weights_slots_average_and_schedule(tmp_path, demo_cache, tiny_autoencoder):
    cfg = tiny_settings(tmp_path, demo_cache, ae_checkpoint=tiny_autoencoder, spot_steps=2)
    pretrain.spot(cfg)
    saved = build_spot_trainer(cfg)
    tf.train.Checkpoint(model=saved.model, ema=saved.ema, repair_optimizer=saved.repair_optimizer,
                        discriminator_optimizer=saved.discriminator_optimizer).read(
        str(tmp_path / "spot" / "ckpt-2")).assert_existing_objects_matched()
    resumed_cfg = tiny_settings(tmp_path, demo_cache, ae_checkpoint=tiny_autoencoder, spot_steps=2)
    fresh = build_spot_trainer(resumed_cfg)
    fresh.checkpoint().restore(tf.train.latest_checkpoint(str(tmp_path / "spot")))
    assert int(fresh.step) == 2 and int(fresh.discriminator_optimizer.iterations) == 2
    for a, b in zip(saved.model.weights, fresh.model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(saved.ema.averages, fresh.ema.averages):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(saved.repair_optimizer.variables, fresh.repair_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(current_learning_rate(fresh.repair_optimizer)) == pytest.approx(
        float(current_learning_rate(saved.repair_optimizer)))
    # Running the same command with more steps continues from step 2.
    pretrain.spot(tiny_settings(tmp_path, demo_cache, ae_checkpoint=tiny_autoencoder, spot_steps=4))
    assert _latest(str(tmp_path / "spot")) == "ckpt-4"
    # And with the steps already done, nothing runs.
    assert pretrain.spot(tiny_settings(tmp_path, demo_cache, ae_checkpoint=tiny_autoencoder, spot_steps=4)) == 4


def test_spot_phase_needs_an_autoencoder(tmp_path, demo_cache):
    with pytest.raises(FileNotFoundError, match="run the autoencoder phase first"):
        pretrain.spot(tiny_settings(tmp_path, demo_cache))
    assert not (tmp_path / "spot").exists() or not any((tmp_path / "spot").glob("ckpt-*"))


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, demo_cache):
    cfg = tiny_settings(tmp_path, demo_cache, ae_steps=6, checkpoint_every=1, learning_rate=1e30)
    with pytest.raises(TrainingDivergedError, match="ckpt-1 is kept"):
        pretrain.autoencoder(cfg)
    assert _latest(str(tmp_path / "autoencoder")) == "ckpt-1"


def test_autoencoder_checkpoint_holds_every_weight(tmp_path, demo_cache, tiny_autoencoder):
    prefix = tf.train.latest_checkpoint(tiny_autoencoder)
    restored = []
    for seed in (1, 2):  # different random initial weights: only a restore makes them equal
        keras.utils.set_random_seed(seed)
        trainer = build_autoencoder_trainer(tiny_settings(tmp_path, demo_cache))
        trainer.checkpoint().read(prefix).assert_existing_objects_matched()
        assert int(trainer.step) == 2
        restored.append(trainer)
    for a, b in zip(restored[0].model.weights, restored[1].model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for a, b in zip(restored[0].ema.averages, restored[1].ema.averages):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_spot_phase_starts_from_an_original_tf1_autoencoder(tmp_path, demo_cache):
    from test_models_tf1_checkpoint import _random_tensors, _write_tf1_checkpoint
    model = build_spot_model(tiny_settings(tmp_path, demo_cache).model)
    tensors = {k: v for k, v in _random_tensors(model, 4).items() if k.split("/")[0] in ("encoder", "decoder")}
    prefix = _write_tf1_checkpoint(tmp_path / "ae" / "model.ckpt-7", tensors)
    pretrain.restore_autoencoder(model, tiny_settings(tmp_path, demo_cache, ae_checkpoint=prefix))
    np.testing.assert_array_equal(model.decoder.to_rgb.conv.kernel.numpy(), tensors["decoder/deconv_5/weights"])


def test_skipped_images_are_summarised_per_file_at_the_end_of_a_phase(tmp_path, caplog):
    import logging
    from PIL import Image
    caplog.set_level(logging.INFO, logger="absl")
    root = tmp_path / "images"
    rng = np.random.RandomState(0)
    for split in ("train", "test"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.randint(0, 255, (40, 40, 3), np.uint8)).save(root / split / label / f"{i}.png")
    (root / "train" / "a" / "broken.png").write_bytes(b"not an image")
    settings = tiny_settings(tmp_path / "run", None, dataset=str(root), data_cache_dir=None, ae_steps=4)
    pretrain.autoencoder(settings)
    assert f"1 image skipped that do not decode, in 1 file ({root}/train/a/broken.png: 1)" in caplog.text
    tags = summary_tags(tmp_path / "run" / "autoencoder" / "logs")
    assert tags["data/skipped_images"] == [4] and tags["data/truncated_shards"] == [4]


def test_a_test_split_with_no_image_that_decodes_is_refused_naming_it(tmp_path):
    from PIL import Image
    root = tmp_path / "images"
    for split in ("train", "test"):
        (root / split / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "train" / "a" / "0.png")
    (root / "test" / "a" / "0.png").write_bytes(b"not an image")
    settings = tiny_settings(tmp_path / "run", None, dataset=str(root), data_cache_dir=None)
    with pytest.raises(SettingError, match="split 'test' has no image that decodes") as err:
        pretrain.autoencoder(settings)
    assert err.value.setting == "dataset"
