"""Tests of spot_tf/data/never_raise.py: a map whose errors become ``ok=False`` in place."""

import numpy as np
import pytest
import tensorflow as tf

from spot_tf.data import never_raise


def _square_or_raise(element):
    """x -> [x, x^2]; raises (as a bad image would) for negative x."""
    index, value = element
    tf.debugging.assert_non_negative(value)
    return {"pair": tf.stack([value, value * value]), "index": index}


def _run(values):
    dataset = tf.data.Dataset.from_tensor_slices(values).enumerate()
    return list(never_raise.map_never_raising(dataset, _square_or_raise).as_numpy_iterator())


@pytest.mark.parametrize("bad", [[], [0], [5, 17, 18], list(range(16, 32)), list(range(40))])
def test_failures_stay_in_place_with_zeros(bad):
    """Whatever fails (none, the first, some, a whole block of 16, everything), every element comes
    out once, in order, with fn's outputs or zeros."""
    values = np.array([-1.0 if i in bad else float(i) for i in range(40)], np.float32)
    out = _run(values)
    assert [int(index) for (index, _), _, _ in out] == list(range(40))
    for (index, value), outputs, ok in out:
        assert value == values[index] and bool(ok) == (index not in bad)
        expected = [value, value * value] if ok else [0.0, 0.0]
        np.testing.assert_array_equal(outputs["pair"], expected)
        assert outputs["index"] == (index if ok else 0)


def test_parallel_blocks_keep_the_order():
    dataset = tf.data.Dataset.range(100).map(
        lambda i: tf.where(i % 7 == 0, -1.0, tf.cast(i, tf.float32))).enumerate()
    out = list(never_raise.map_never_raising(dataset, _square_or_raise,
                                             num_parallel_calls=4, deterministic=True))
    assert [int(ok) for _, _, ok in out] == [int(i % 7 != 0) for i in range(100)]


def test_outputs_of_unknown_shape_are_refused():
    dataset = tf.data.Dataset.range(3)
    with pytest.raises(ValueError, match="static shape"):
        never_raise.map_never_raising(dataset, lambda i: tf.range(i))
