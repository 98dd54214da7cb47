"""Input data of spot-tf: ImageNet-schema TFRecords, TFDS, image folders and an offline demo.

    info = describe_dataset(spec)              # validates the dataset setting before any training
    report = SkipReport()                      # what the phase's datasets skip, per file
    ds = make_dataset(spec, "unsupervised", image_size=96, batch_size=128, training=True,
                      skip_report=report)
    ...
    logging.info(report.summary())             # at the end of the phase
"""

from spot_tf.data.demo import ensure_demo
from spot_tf.data.pipeline import describe_dataset
from spot_tf.data.pipeline import get_source
from spot_tf.data.pipeline import make_dataset
from spot_tf.data.preprocessing import preprocess_test
from spot_tf.data.preprocessing import preprocess_train
from spot_tf.data.records import DatasetInfo
from spot_tf.data.records import SPLITS
from spot_tf.data.skips import SkipReport

__all__ = ["DatasetInfo", "SPLITS", "SkipReport", "describe_dataset", "ensure_demo", "get_source",
           "make_dataset", "preprocess_test", "preprocess_train"]
