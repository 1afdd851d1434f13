"""Point cloud data: original layouts, virtual datasets, a Keras PyDataset, augmentations.

Names are imported lazily, so `import pointnet_tf2.data` (and the command
line) does not import TensorFlow until `PointCloudSequence` is used.

- `open_dataset(path, task=None, *, test_area=None)` -> `DatasetDescription`
- `build_vds(dataset_dir, output, ...)`: one virtual-dataset file over the shards
- `PointCloudSequence(source, batch_size=32, num_points=None, split='train', ...)`
- `load_split(source, split='test')`: a split's raw arrays, for evaluation
- `generate_synthetic(task, output_dir, ...)`, `builtin_dataset(task)`: the
  built-in procedural datasets, written in the original layouts
- `pointnet_tf2.data.writers`: writers of the three original layouts
- `pointnet_tf2.data.augment`: `RotateUp`, `RotateSO3`, `Jitter`, `Scale`,
  `Translate`, `Shear`, `PointDropout`, `ShufflePoints`, `Compose`,
  `default_train_augmentation`, `rotate_up`
- `voxelize`, `Voxelize` (a Sequence `transform=` or `voxelize=`),
  `read_binvox`, `write_binvox`, `load_voxel_npz`, `grid_cloud` (a grid's
  surface as a cloud), `GridShift`, `GridRotate90` (grid augmentations):
  occupancy grids (`pointnet_tf2.data.voxels`)
- `ClassBalancedSampler`: P classes x K clouds per batch (a Sequence `sampler=`)
"""

from pointnet_tf2.data._lazy import lazy_exports

_EXPORTS = {
    "DatasetDescription": "pointnet_tf2.data.description",
    "Shard": "pointnet_tf2.data.description",
    "holdout_indices": "pointnet_tf2.data.description",
    "open_dataset": "pointnet_tf2.data.formats",
    "detect_layout": "pointnet_tf2.data.formats",
    "read_list_file": "pointnet_tf2.data.formats",
    "S3DIS_CLASS_NAMES": "pointnet_tf2.data.formats",
    "build_vds": "pointnet_tf2.data.vds",
    "open_vds": "pointnet_tf2.data.vds_reader",
    "PointCloudSequence": "pointnet_tf2.data.sequence",
    "load_split": "pointnet_tf2.data.sequence",
    "default_memory_limit": "pointnet_tf2.data.sequence",
    "default_train_augmentation": "pointnet_tf2.data.augment",
    "rotate_up": "pointnet_tf2.data.augment",
    "generate_synthetic": "pointnet_tf2.data.synthetic",
    "builtin_dataset": "pointnet_tf2.data.synthetic",
    "voxelize": "pointnet_tf2.data.voxels",
    "Voxelize": "pointnet_tf2.data.voxels",
    "read_binvox": "pointnet_tf2.data.voxels",
    "write_binvox": "pointnet_tf2.data.voxels",
    "load_voxel_npz": "pointnet_tf2.data.voxels",
    "grid_cloud": "pointnet_tf2.data.voxels",
    "GridShift": "pointnet_tf2.data.voxels",
    "GridRotate90": "pointnet_tf2.data.voxels",
    "ClassBalancedSampler": "pointnet_tf2.data.samplers",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS, submodules=("augment",))
