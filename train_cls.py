"""Train a PointNet cls model: the original's flags, the pointnet-tf2 trainer.

Run `python train_cls.py --help` for the flags.
"""

import sys

from pointnet_tf2.training.cli import main

if __name__ == "__main__":
    sys.exit(main("cls"))
