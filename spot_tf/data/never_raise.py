"""``Dataset.map`` with a function that may raise, without the error ending the stream.

One corrupt image must not stop a week-long run, and ``ignore_errors()`` on the whole pipeline
would hide what it dropped. So the function runs in a nested dataset whose errors are dropped, and
an element it fails on gets zeros and ``ok=False`` (the pipeline drops and counts those, see
skips.py). Building and running a nested dataset costs about a quarter of an ImageNet JPEG's
decode, so one serves a block of elements: what it dropped is told by position.
"""

import tensorflow as tf

BLOCK_SIZE = 16


def _batch_shape(spec, count):
    if not spec.shape.is_fully_defined():
        raise ValueError(f"map_never_raising needs outputs of static shape; got {spec}.")
    return tf.concat([[count], tf.constant(spec.shape.as_list(), tf.int32)], axis=0)


def _run_block(block, fn):
    """``(fn's outputs, ok)`` for a batch of elements: zeros and False where ``fn`` raised."""
    count = tf.shape(tf.nest.flatten(block)[0])[0]
    tried = tf.data.Dataset.from_tensor_slices((tf.range(count), block)).map(
        lambda position, element: (position, fn(element))).ignore_errors()
    specs = tried.element_spec[1]
    # A block of which nothing maps still yields one (empty) batch.
    nothing = tf.data.Dataset.from_tensors((tf.zeros([0], tf.int32), tf.nest.map_structure(
        lambda spec: tf.zeros(_batch_shape(spec, 0), spec.dtype), specs)))
    positions, outputs = tried.batch(BLOCK_SIZE).concatenate(nothing).take(1).get_single_element()
    kept = tf.size(positions)

    def spread():  # Each output back to its element's position, zeros elsewhere.
        where = positions[:, tf.newaxis]
        return tf.nest.map_structure(
            lambda output, spec: tf.scatter_nd(where, output, _batch_shape(spec, count)),
            outputs, specs)

    # Nearly always nothing failed, and the outputs are in place already.
    outputs = tf.cond(kept == count, lambda: outputs, spread)
    ok = tf.scatter_nd(positions[:, tf.newaxis], tf.ones_like(positions), [count]) > 0
    return block, outputs, ok


def map_never_raising(dataset, fn, num_parallel_calls=None, deterministic=None):
    """``(element, fn(element), True)`` per element, or ``(element, zeros, False)`` if ``fn`` raises.

    Args:
      dataset: a ``tf.data.Dataset``.
      fn: function of one element (a tuple element is passed whole, not unpacked) to tensors of
        static shape.
      num_parallel_calls, deterministic: as for ``Dataset.map``; blocks of ``BLOCK_SIZE`` elements
        are mapped in parallel, each in order.

    Returns:
      A dataset of ``(element, outputs, ok)`` in the order of ``dataset`` (within what
      ``deterministic`` allows).
    """
    def run_block(*parts):  # Dataset.map unpacks a tuple element.
        return _run_block(parts if len(parts) > 1 else parts[0], fn)

    return dataset.batch(BLOCK_SIZE).map(
        run_block, num_parallel_calls=num_parallel_calls, deterministic=deterministic).unbatch()
