"""Point cloud data: the datasets, virtual datasets, a Keras PyDataset, augmentations.

Organised by dataset: `datasets/` holds one module per dataset (ModelNet40,
ShapeNet part, S3DIS, folders of meshes, voxel archives), each with its
names, reader, writer and raw converter; `io/` the generic file formats
(HDF5 shards and checks, virtual datasets, text tables, mesh and point
files, binvox and npz archives); `geometry.py` sampling and normalising;
`synthetic/` the built-in procedural datasets; `sequence.py`, `augment.py`,
`conversion.py` the PyDataset, the augmentations and the conversion engine.

Names are imported lazily, so `import pointnet_tf2.data` (and the command
line) does not import TensorFlow until `PointCloudSequence` is used.

- `open_dataset(path, task=None, *, test_area=None)` -> `DatasetDescription`
- `build_vds(dataset_dir, output, ...)`: one virtual-dataset file over the shards
- `PointCloudSequence(source, batch_size=32, num_points=None, split='train', ...)`
- `load_split(source, split='test')`: a split's raw arrays, for evaluation
- `generate_synthetic(task, output_dir, ...)`, `builtin_dataset(task)`: the
  built-in procedural datasets, written in the original layouts
- `write_modelnet_layout`, `write_shapenet_part_layout`, `write_s3dis_layout`:
  writers of the three original layouts (also in `pointnet_tf2.data.writers`)
- `pointnet_tf2.data.augment`: `RotateUp`, `RotateSO3`, `Jitter`, `Scale`,
  `Translate`, `Shear`, `PointDropout`, `ShufflePoints`, `Compose`,
  `default_train_augmentation`, `rotate_up`
- `voxelize`, `Voxelize` (a Sequence `transform=` or `voxelize=`),
  `read_binvox`, `write_binvox`, `load_voxel_npz`, `grid_cloud` (a grid's
  surface as a cloud), `GridShift`, `GridRotate90` (grid augmentations):
  occupancy grids (`pointnet_tf2.data.voxels`, `pointnet_tf2.data.io.binvox`)
- `ClassBalancedSampler`: P classes x K clouds per batch (a Sequence `sampler=`)
"""

from pointnet_tf2.utils.lazy import lazy_exports

_EXPORTS = {
    "DatasetDescription": "pointnet_tf2.data.description",
    "Shard": "pointnet_tf2.data.description",
    "Labels": "pointnet_tf2.data.description",
    "holdout_indices": "pointnet_tf2.data.description",
    "open_dataset": "pointnet_tf2.data.datasets",
    "detect_layout": "pointnet_tf2.data.datasets",
    "read_list_file": "pointnet_tf2.data.io.hdf5",
    "S3DIS_CLASS_NAMES": "pointnet_tf2.data.datasets.s3dis",
    "block_features": "pointnet_tf2.data.datasets.s3dis",
    "write_modelnet_layout": "pointnet_tf2.data.datasets.modelnet40",
    "write_shapenet_part_layout": "pointnet_tf2.data.datasets.shapenet_part",
    "write_s3dis_layout": "pointnet_tf2.data.datasets.s3dis",
    "build_vds": "pointnet_tf2.data.vds",
    "open_vds": "pointnet_tf2.data.io.vds_reader",
    "resample_indices": "pointnet_tf2.data.geometry",
    "PointCloudSequence": "pointnet_tf2.data.sequence",
    "load_split": "pointnet_tf2.data.sequence",
    "default_memory_limit": "pointnet_tf2.data.sequence",
    "default_train_augmentation": "pointnet_tf2.data.augment",
    "rotate_up": "pointnet_tf2.data.augment",
    "generate_synthetic": "pointnet_tf2.data.synthetic",
    "builtin_dataset": "pointnet_tf2.data.synthetic",
    "voxelize": "pointnet_tf2.data.voxels",
    "Voxelize": "pointnet_tf2.data.voxels",
    "read_binvox": "pointnet_tf2.data.io.binvox",
    "write_binvox": "pointnet_tf2.data.io.binvox",
    "load_voxel_npz": "pointnet_tf2.data.io.binvox",
    "grid_cloud": "pointnet_tf2.data.voxels",
    "GridShift": "pointnet_tf2.data.voxels",
    "GridRotate90": "pointnet_tf2.data.voxels",
    "ClassBalancedSampler": "pointnet_tf2.data.samplers",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS, submodules=("augment",))
