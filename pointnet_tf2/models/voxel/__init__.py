"""The voxel family: 3-D CNNs on binary occupancy grids.

Both models take `(B, R, R, R, 1)` grids (`pointnet_tf2.data.voxels.voxelize`:
the shape scaled into an `inner^3` cube centred in the `R^3` grid). They are
registered with `input_kind="voxels"`, so the trainer and the evaluators
voxelise the point clouds of a dataset on the fly with the built model's
`resolution` and `inner` (or read a dataset's stored grids of that size).

- `common.py`: the grid input, the classifier head, the family's `Preprocessing`;
- `voxel_cnn.py` (`voxel_cnn`), `voxel_resnet.py` (`voxel_resnet`).

Importing the package registers its models.
"""

from pointnet_tf2.models.voxel.common import PADDINGS
from pointnet_tf2.models.voxel.common import voxels_input
from pointnet_tf2.models.voxel.voxel_cnn import voxel_cnn
from pointnet_tf2.models.voxel.voxel_resnet import voxel_resnet

__all__ = ["PADDINGS", "voxel_cnn", "voxel_resnet", "voxels_input"]
