"""The 20 PASCAL VOC object classes, in the devkit's (alphabetical) order.

Every VOC label vector of spot-tf follows this order, one int per class: 1 = present, 0 = absent,
-1 = only difficult objects of the class (ignored when scoring, a negative when training SVMs).
"""

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
