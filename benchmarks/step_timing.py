"""Timing and FLOP counting of the real train_step, shared by bench_train_step.py and accelerator_check.py.

The trainer is built exactly as `spot_tf.training.builders` builds it for training, and the timed
function is Keras' own `make_train_function()` (what `fit` runs) fed one fixed in-memory batch; FLOPs
are counted analytically from the static shapes of the traced step (see bench_train_step.py).
"""
import tempfile
import time

import numpy as np


def build_trainer(settings, phase):
    """The trainer as the phase runner builds it (call under the run's precision)."""
    from spot_tf.training.builders import build_autoencoder_trainer, build_spot_trainer
    return build_spot_trainer(settings) if phase == "spot" else build_autoencoder_trainer(settings)


def op_flops(op):
    """Multiply-add FLOPs (x2) of a convolution, its backprops or a matmul; 0 for other ops."""
    def dims(tensor):
        shape = tensor.shape
        return None if shape.rank is None or None in shape.as_list() else shape.as_list()
    if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative"):
        # Every one is out_elements x kh x kw x (in channels per group) multiply-adds of the forward conv.
        if op.type == "Conv2D":
            out, kernel = dims(op.outputs[0]), dims(op.inputs[1])
        elif op.type == "Conv2DBackpropInput":
            out, kernel = dims(op.inputs[2]), dims(op.inputs[1])
        elif op.type == "Conv2DBackpropFilter":
            out, kernel = dims(op.inputs[2]), dims(op.outputs[0])
        else:
            out, kernel = dims(op.outputs[0]), dims(op.inputs[1])
            return 2 * np.prod(out) * kernel[0] * kernel[1] if out and kernel else 0
        return 2 * int(np.prod(out)) * kernel[0] * kernel[1] * kernel[2] if out and kernel else 0
    if op.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a, out = dims(op.inputs[0]), dims(op.outputs[0])
        if not a or not out:
            return 0
        transpose_a = op.get_attr("transpose_a") if op.type == "MatMul" else op.get_attr("adj_x")
        return 2 * int(np.prod(out)) * (a[-2] if transpose_a else a[-1])
    return 0


def step_ops(trainer, images):
    """The ops of the traced train_step that its outputs and side effects depend on (gradients nobody
    uses are pruned, as at run time)."""
    import tensorflow as tf
    spec = tf.TensorSpec(images.shape, images.dtype)
    graph = tf.function(trainer.train_step).get_concrete_function(spec).graph
    seen, todo = set(), [t.op for t in graph.outputs] + list(graph.control_outputs)
    while todo:
        op = todo.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        todo.extend(t.op for t in op.inputs)
        todo.extend(op.control_inputs)
    return [graph.get_operation_by_name(name) for name in seen]


def step_flops(ops):
    """FLOPs of one train_step's `step_ops`: convolutions (forward and both backprops) and matmuls,
    counted analytically from their static shapes."""
    return sum(op_flops(op) for op in ops)


def step_settings(**values):
    """Validated RunSettings of a timed step (setting name -> value; a throwaway model_dir)."""
    from spot_tf.settings import RunSettings
    values = {"ae_steps": 1000, "spot_steps": 1000, **values}
    return RunSettings.from_flat(tempfile.mkdtemp(prefix="bench_train_step_"), values).validate()


def random_images(batch_size, image_size):
    """One fixed batch of uniform [-1, 1] float32 images."""
    import tensorflow as tf
    return tf.constant(np.random.RandomState(0).uniform(-1, 1, (batch_size, image_size, image_size, 3))
                       .astype(np.float32))


def train_step_seconds(settings, phase, images, steps, warmup, strategy=None):
    """Times `steps` calls of the trainer's own train function, after `warmup` untimed ones.

    Args:
        settings: the run's RunSettings (precision, XLA, sizes).
        phase: "spot" or "autoencoder".
        images: the global batch, fed again at every step (split over the replicas of `strategy`).
        steps, warmup: timed and untimed steps.
        strategy: a tf.distribute strategy to build and run the trainer in (the default one if None).

    Returns:
        ([seconds of each timed step], {metric: value} of the last step).
    """
    import tensorflow as tf
    from spot_tf.run.precision import precision
    if strategy is None:
        iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
        strategy = tf.distribute.get_strategy()
    else:
        per_replica = images[:images.shape[0] // strategy.num_replicas_in_sync]
        iterator = iter(strategy.distribute_datasets_from_function(
            lambda _: tf.data.Dataset.from_tensors(per_replica).repeat()))
    # Built and traced under the run's precision, as the phase runner does.
    with precision(settings.training.mixed_precision), strategy.scope():
        trainer = build_trainer(settings, phase)
        trainer.make_train_function()
        train_function = trainer.train_function
        train_function(iterator)

    def run_step():
        logs = train_function(iterator)
        if hasattr(logs, "get_value"):
            logs = logs.get_value()
        # Block on the result (the step's metrics depend on every update).
        values = {k: np.asarray(v) for k, v in logs.items()}
        return {k: float(v.reshape(-1)[0]) if v.size else float("nan") for k, v in values.items()}

    logs = {}
    for _ in range(warmup):
        logs = run_step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs = run_step()
        times.append(time.perf_counter() - start)
    return times, logs
