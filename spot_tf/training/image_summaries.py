"""What a training phase shows in TensorBoard besides its scalars: a fixed test batch, what each phase
makes of it, and weight histograms."""
import tensorflow as tf

from spot_tf import data as spot_data
from spot_tf import visualize
from spot_tf.models import mask_to_image

SAMPLE_IMAGES = 16


def sample_images(settings, count=SAMPLE_IMAGES, image_size=None):
    """The first `count` test images of the run's dataset (a fixed batch for summaries and grids)."""
    data = settings.data
    skips = spot_data.SkipReport()
    ds = spot_data.make_dataset(data.dataset, "test", image_size or settings.model.image_size, count, training=False,
                                seed=settings.training.seed, tfds_data_dir=data.tfds_data_dir,
                                cache_dir=data.data_cache_dir, skip_report=skips)
    # A split with no image that decodes is refused by the pipeline, naming the dataset.
    with skips.raise_setting_errors():
        images = next(iter(ds))
    return images[0] if isinstance(images, (tuple, list)) else images


def spot_images(model):
    """Image summaries of the spot phase: inputs, reconstructions, repaired, masks, conv_1 filters."""

    def images(sample):
        out = model(sample, training=False)
        mask = mask_to_image(out["mask"], sample.shape[1])
        return {"images/inputs": visualize.montage(visualize.to_unit_range(sample)),
                "images/reconstructions": visualize.montage(visualize.to_unit_range(out["reconstruction"])),
                "images/repaired": visualize.montage(visualize.to_unit_range(out["repaired"])),
                "images/dropped_marked": visualize.montage(visualize.mark_dropped(sample, out["mask"])),
                "images/masks": visualize.montage(mask),
                "weights/conv_1": visualize.filter_grid(model.discriminator.conv_1.conv.kernel)}

    return images


def autoencoder_images(model):
    """Image summaries of the autoencoder phase: inputs and reconstructions."""

    def images(sample):
        return {"images/inputs": visualize.montage(visualize.to_unit_range(sample)),
                "images/reconstructions": visualize.montage(visualize.to_unit_range(model(sample, training=False)))}

    return images


def weight_histograms(network):
    """`() -> {variable path: variable}` over the network's trainable variables."""
    return lambda: {v.path: v for v in network.trainable_variables}


def segmentation_images(trainer, side=96):
    """Image summaries of voc_seg: per sample (image [1, H, W, 3], mask [1, H, W]), the image, its truth
    and the prediction in the VOC palette, each resized to side x side, one row per sample."""

    def images(samples):
        tiles = []
        for image, mask in samples:
            predicted = trainer.predict_classes(image)
            labels = tf.stack([mask[0], predicted[0]])[..., None]
            tiles.append(tf.image.resize(visualize.to_unit_range(image), [side, side]))
            tiles.append(visualize.colour_labels(tf.image.resize(labels, [side, side], method="nearest")[..., 0]))
        return {"images/image_truth_prediction": visualize.montage(tf.concat(tiles, 0), columns=3)}

    return images
