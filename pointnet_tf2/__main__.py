"""`python -m pointnet_tf2` runs the `pointnet-tf2` command line."""

import sys

from pointnet_tf2.cli import main

if __name__ == "__main__":
    sys.exit(main())
