import time

import numpy as np
import tensorflow as tf

from spot_tf.transfer.pretext_curves import CURVES, curves_markdown, read_curves


def write_scalars(logs_dir, values_by_step, tags=tuple(CURVES)):
    """An event file in `logs_dir` with each of `tags` at {step: value}, as TensorBoardSummaries writes them."""
    writer = tf.summary.create_file_writer(str(logs_dir))
    with writer.as_default():
        for step, value in values_by_step.items():
            for offset, tag in enumerate(tags):
                tf.summary.scalar(tag, value + offset / 100, step=step)
            tf.summary.scalar("train/lr_repair", 3e-4, step=step)
    writer.close()


def test_the_curves_are_read_by_step_and_a_newer_file_wins_a_repeated_step(tmp_path):
    assert read_curves(str(tmp_path / "absent")) == {}
    write_scalars(tmp_path, {50: 0.5, 100: 0.6, 150: 0.7})
    time.sleep(1.1)  # Event file names carry the second they were made in.
    write_scalars(tmp_path, {100: 0.65, 150: 0.75, 200: 0.8})  # resumed from step 50
    curves = read_curves(str(tmp_path))
    assert list(curves) == list(CURVES)
    steps, values = curves["train/mask_accuracy"]
    assert steps.tolist() == [50, 100, 150, 200]
    np.testing.assert_allclose(values, [0.52, 0.67, 0.77, 0.82], rtol=1e-6)
    table = curves_markdown(curves)
    assert "| mask accuracy (dropped entries found) | 52.0 (step 50) | 82.0 (step 200) |" in table
    assert "| discriminator accuracy, real images | 50.0 (step 50) | 80.0 (step 200) |" in table
    assert read_curves(str(tmp_path), tags=("train/absent",)) == {}
    # A run killed while writing: the file's last record is cut short.
    newest = sorted(tmp_path.glob("events.out.tfevents.*"))[-1]
    newest.write_bytes(newest.read_bytes()[:-7])
    assert read_curves(str(tmp_path))["train/mask_accuracy"][0].tolist() == [50, 100, 150, 200]
