"""Train a PointNet part_seg model: the original's flags, the pointnet-tf2 trainer.

Run `python train_part_seg.py --help` for the flags.
"""

import sys

from pointnet_tf2.training.cli import main

if __name__ == "__main__":
    sys.exit(main("part_seg"))
