import glob

import numpy as np
import pytest
import tensorflow as tf

from spot_tf.transfer.loop import check_num_classes, evaluate_top_k, train_loop


def _dataset(n, batch=4):
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    return tf.data.Dataset.from_tensor_slices((images, np.arange(n) % 6)).batch(batch)


def test_top1_and_top5_in_percent():
    # 6 classes; the true class is ranked first, third, or last, depending on the example.
    labels = np.array([0, 1, 2, 3, 4, 5, 0, 1])
    rank = np.array([0, 0, 2, 2, 5, 5, 0, 5])
    logits = np.zeros((8, 6), np.float32)
    for i, (label, r) in enumerate(zip(labels, rank)):
        order = [c for c in range(6) if c != label]
        order.insert(r, label)
        logits[i, order] = np.arange(6, 0, -1)
    ds = tf.data.Dataset.from_tensor_slices((logits, labels)).batch(3)
    results = evaluate_top_k(lambda x: {"a": x, "b": -x}, ds)
    assert results["a"] == {"top1": 100.0 * 3 / 8, "top5": 100.0 * 5 / 8}
    assert results["b"] == {"top1": 100.0 * 3 / 8, "top5": 100.0 * 5 / 8}


def test_top5_is_capped_at_the_number_of_classes():
    ds = tf.data.Dataset.from_tensor_slices((np.eye(3, dtype=np.float32), [2, 2, 2])).batch(2)
    assert evaluate_top_k(lambda x: {"a": x}, ds) == {"a": {"top1": 100.0 / 3, "top5": 100.0}}


def test_epochs_steps_and_tensorboard(tmp_path):
    seen = []

    def step(images, labels):
        seen.append(int(images[0, 0, 0, 0]))
        return {"x/loss": tf.constant(1.0)}

    writer = tf.summary.create_file_writer(str(tmp_path))
    assert train_loop(step, _dataset(12), epochs=2, writer=writer, log_every=2, verbose=0) == 6
    assert seen == [0, 4, 8] * 2
    # steps_per_epoch draws on from the repeated data: the next epoch continues where this one stopped.
    seen.clear()
    epochs = []
    assert train_loop(step, _dataset(12), 2, steps_per_epoch=2, verbose=1,
                      on_epoch_end=lambda e, s: epochs.append((e, s))) == 4
    assert seen == [0, 4, 8, 0] and epochs == [(0, 2), (1, 4)]
    writer.close()
    assert glob.glob(str(tmp_path / "events.out.tfevents.*"))


def test_empty_data_and_bad_arguments():
    empty = _dataset(4).take(0)
    with pytest.raises(ValueError, match="no batches"):
        train_loop(lambda x, y: {}, empty, 1, verbose=0)
    with pytest.raises(ValueError, match="no examples"):
        evaluate_top_k(lambda x: {"a": x}, empty)
    with pytest.raises(ValueError, match="epochs"):
        train_loop(lambda x, y: {}, _dataset(4), 0)
    for bad in (1, 0, 2.0, None):
        with pytest.raises(ValueError, match="num_classes"):
            check_num_classes(bad)
