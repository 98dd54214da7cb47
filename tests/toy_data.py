"""A tiny separable data set for tests: each class is a colour plus pixel noise."""
import numpy as np
import tensorflow as tf


def colour_dataset(num_classes=4, image_size=32, examples=64, batch_size=8, noise=0.2, seed=0):
    """Batches of (images in [-1, 1], int32 labels) whose class is the image's mean colour.

    Class c gets a fixed random RGB colour in [-0.8, 0.8]; every pixel adds Gaussian noise of std
    `noise` and the result is clipped to [-1, 1]. Labels cycle through the classes.
    """
    rng = np.random.default_rng(seed)
    palette = np.random.default_rng(1234).uniform(-0.8, 0.8, (num_classes, 3))
    labels = np.arange(examples) % num_classes
    images = palette[labels][:, None, None, :] + rng.normal(0.0, noise, (examples, image_size, image_size, 3))
    images = np.clip(images, -1.0, 1.0).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32))).batch(batch_size)
