"""Input data of spot-tf: ImageNet-schema TFRecords, TFDS, image folders and an offline demo.

    info = describe_dataset(spec)              # validates --dataset before any training
    ds = make_dataset(spec, "unsupervised", image_size=96, batch_size=128, training=True)
"""

from spot_tf.data.decode import DecodeErrors
from spot_tf.data.demo import ensure_demo
from spot_tf.data.pipeline import describe_dataset
from spot_tf.data.pipeline import get_source
from spot_tf.data.pipeline import make_dataset
from spot_tf.data.preprocessing import preprocess_test
from spot_tf.data.preprocessing import preprocess_train
from spot_tf.data.records import DatasetInfo
from spot_tf.data.records import SPLITS

__all__ = ["DatasetInfo", "DecodeErrors", "SPLITS", "describe_dataset", "ensure_demo",
           "get_source", "make_dataset", "preprocess_test", "preprocess_train"]
