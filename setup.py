"""spot-tf: "Learning to Spot Artifacts" (Jenni & Favaro, CVPR 2018) in TensorFlow 2 / Keras 3."""
from setuptools import find_packages, setup

setup(
    name="spot-tf",
    version="0.1.0",
    description="Self-supervised feature learning by learning to spot artifacts, in TF2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["spot_tf", "spot_tf.*"]),
    # The flagfiles, so that `spot-tf --flagfile=demo.flags` works from any installation.
    package_data={"spot_tf": ["configs/*.flags"]},
    entry_points={"console_scripts": ["spot-tf = spot_tf.cli:run",
                                    "spot-tf-data-service = spot_tf.data_service_cli:run"]},
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.9",
        "tensorflow-datasets",
        # tensorflow-datasets uses it without declaring it (download_and_prepare fails otherwise).
        "importlib_resources",
        "absl-py",
        "numpy",
        "tensorboard",
        # Demo data: CC0 sample photos shipped inside scikit-image; PNG plots.
        "scikit-image",
        "matplotlib",
        # Demo data (crops of the sample photos) and the TFRecord writer's JPEG encoding.
        "pillow",
    ],
    # pytest-xdist: the suite runs in two processes (python -m pytest tests -q -n 2 --dist loadscope).
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3"]},
)
