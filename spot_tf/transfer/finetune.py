"""The original code's STL-10 transfer: a linear classifier on conv_5, optionally fine-tuning the top convs.

As the original `AlexNet.classify` / `ClassifierTrainer`: the classifier is a convolution whose kernel
spans the whole conv_5 map (VALID, truncated-normal stddev 0.005, zero bias) on conv_5 (after pool_5
when the discriminator has one, as the original's `encoded`); the top `finetune_layers` conv layers
train with it. The original's Adam (beta_1 0.5, epsilon 1e-5) with the 'linear' policy, bias
gradients x2 and slim L2 5e-5 on the trained kernels (spot_tf.optim's, as the training phases use
them), for 15,600 steps of 128 images. The original builds the classifier with the discriminator in
training mode (`fix_bn=False`): every batch norm (conv_5's) normalises with batch statistics while
training and updates its moving statistics on the labelled images, which the test then uses, even
when no conv layer is trained. Accuracies are reported in percent.
"""
import contextlib
import os

import keras
import tensorflow as tf
from keras import ops

from spot_tf.models import CONV_LAYERS, ConvUnit
from spot_tf.optim.optimization import BIAS_GRADIENT_MULTIPLIER, linear_policy, make_adam, multiply_bias_gradients
from spot_tf.optim.regularization import l2_term
from spot_tf.transfer.loop import (check_num_classes, evaluate_top_k, sparse_accuracy, train_loop,
                                   write_scalars)
from spot_tf.transfer.report import results_text, write_report

# The original: 400 epochs of the 5,000 labelled STL-10 images at batch 128 ((5000 // 128) * 400).
FINETUNE_STEPS = 15600
FINETUNE_BATCH_SIZE = 128
RESULT_LAYER = "conv_5"


def trained_layers(finetune_layers):
    """The top `finetune_layers` conv layers: 0 -> (), 1 -> (conv_5,), 2 -> (conv_4, conv_5), ..."""
    if not isinstance(finetune_layers, int) or not 0 <= finetune_layers <= len(CONV_LAYERS):
        raise ValueError(f"finetune_layers must be an integer in 0..{len(CONV_LAYERS)}, got {finetune_layers!r}")
    return CONV_LAYERS[len(CONV_LAYERS) - finetune_layers:]


@keras.saving.register_keras_serializable(package="spot_tf")
class Conv5Classifier(keras.layers.Layer):
    """Linear classifier on the discriminator's conv_5 (or pool_5) map: `classifier(map)` -> logits [B, classes].

    Args:
        num_classes: Number of classes.
        grid: (rows, cols) of the map; the kernel spans all of it (VALID), as the original's fc1.
        seed: Seed of the truncated-normal initializer.
    """

    def __init__(self, num_classes, grid, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.grid = tuple(grid)
        self.seed = seed
        # slim L2 5e-5 on the kernel (ConvUnit's default), as the original's arg scope.
        self.fc1 = ConvUnit(num_classes, self.grid, padding="valid", name="fc1",
                            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.005, seed=seed),
                            bias_initializer="zeros")

    def build(self, input_shape):
        self.fc1.build(input_shape)

    def call(self, inputs):
        return ops.reshape(self.fc1(inputs), (-1, self.num_classes))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "grid": self.grid, "seed": self.seed}


@contextlib.contextmanager
def batch_norm_in_training_mode(discriminator):
    """Within the block every conv layer is trainable, so its batch norm follows training=True (a
    frozen Keras 3 batch norm would run in inference mode); the previous flags come back after.

    Which weights change is decided by the optimizer's variables, not by these flags.
    """
    units = {name: getattr(discriminator, name) for name in CONV_LAYERS}
    flags = {name: unit.trainable for name, unit in units.items()}
    try:
        for unit in units.values():
            unit.trainable = True
        yield
    finally:
        for name, unit in units.items():
            unit.trainable = flags[name]


def head_map(discriminator, images, training):
    """conv_5 of the discriminator, through pool_5 when it has one (what the original classifier sees)."""
    x = discriminator.features(images, training=training)["conv_5"]
    return discriminator.pool_5(x) if discriminator.pool_5 is not None else x


def run_finetune(discriminator, train_ds, test_ds, num_classes, out_dir, finetune_layers=0, steps=FINETUNE_STEPS,
                 learning_rate=1e-3, bias_grad_multiplier=BIAS_GRADIENT_MULTIPLIER, image_size=None, seed=None,
                 log_every=100, verbose=1):
    """Trains the conv_5 classifier (and the top convs) on train_ds, tests on test_ds, writes results.

    Args:
        discriminator: A restored `Discriminator` (e.g. `restore_spot_model(...)[0].discriminator`);
            its top `finetune_layers` conv layers are updated in place.
        train_ds: Batches of (images in [-1, 1], int labels) at `image_size`, augmented by the caller.
        test_ds: Batches of (images, labels) at `image_size` (the caller does the 85% central crop).
        num_classes: Number of classes (>= 2).
        out_dir: Gets results.json ({"conv_5": {"top1", "top5"}}, percent), results.md, top1.png
            and TensorBoard scalars in logs/.
        finetune_layers: How many of the top conv layers train (0 = linear classifier only).
        steps: Training steps (batches drawn from `train_ds.repeat()`).
        learning_rate: Initial learning rate of the 'linear' policy (to lr / 100 at 90% of the steps).
        bias_grad_multiplier: Factor on the gradients of biases (the original's 2).
        image_size: Input size (default the discriminator's); fixes the classifier's kernel.
        seed: Seed of the classifier's initializer.
        log_every: TensorBoard train scalars every this many steps.
        verbose: 0 = silent, 1 = progress bar.

    Returns:
        {"conv_5": {"top1": percent, "top5": percent}}.
    """
    check_num_classes(num_classes)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    trained = trained_layers(finetune_layers)
    image_size = image_size or discriminator.image_size
    map_shape = tuple(head_map(discriminator, tf.zeros((1, image_size, image_size, 3)), training=False).shape[1:])
    classifier = Conv5Classifier(num_classes, map_shape[:2], seed=seed, name="classifier")
    classifier.build((None,) + map_shape)
    writer = tf.summary.create_file_writer(os.path.join(out_dir, "logs"))
    with batch_norm_in_training_mode(discriminator):
        units = [classifier] + [getattr(discriminator, name) for name in trained]
        variables = [v for unit in units for v in unit.trainable_variables]
        optimizer = make_adam(linear_policy(learning_rate, steps))
        optimizer.build(variables)

        @tf.function(reduce_retracing=True)
        def train_step(images, labels):
            with tf.GradientTape() as tape:
                # Batch statistics in every batch norm, whose moving statistics are updated (fix_bn=False).
                logits = classifier(head_map(discriminator, images, training=True))
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
                # The frozen layers' L2 is a constant: only the trained units' counts, as in the gradients.
                total = loss + tf.add_n([l2_term(unit) for unit in units])
            grads = multiply_bias_gradients(tape.gradient(total, variables), variables, bias_grad_multiplier)
            optimizer.apply_gradients(zip(grads, variables))
            return {f"{RESULT_LAYER}/loss": loss, f"{RESULT_LAYER}/total_loss": total,
                    f"{RESULT_LAYER}/acc": sparse_accuracy(labels, logits)}

        step = train_loop(train_step, train_ds, 1, steps, writer, log_every, verbose)
    results = evaluate_top_k(lambda images: {RESULT_LAYER: classifier(head_map(discriminator, images, False))},
                             test_ds)
    write_scalars(writer, results, step)
    writer.close()
    write_report(results, out_dir, title=f"Linear classifier on conv_5, top {finetune_layers} conv layers trained")
    if verbose:
        print(results_text(results))
    return results
