"""Trains and evaluates "Learning to Spot Artifacts" (the same command as the `spot-tf` console script).

    python train_scripts/train_spot.py --flagfile=train_scripts/configs/demo.flags [--flag=value ...]

`--helpfull` lists every flag; spot_tf/cli.py defines them from spot_tf/settings.py.
"""
from spot_tf.cli import run

if __name__ == "__main__":
    run()
