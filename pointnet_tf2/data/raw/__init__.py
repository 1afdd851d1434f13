"""Converters of raw dataset releases into the original PointNet HDF5 layouts (former home).

The original HDF5 downloads are gone; these turn the raw releases that are
still mirrored into exactly the layouts `pointnet_tf2.data.open_dataset`
reads. Each converter now lives with its dataset in `pointnet_tf2.data.datasets`;
the names and the modules `raw.s3dis`, `raw.shapenet_part`,
`raw.modelnet_normals`, `raw.tables` and `raw.runner` stay importable:

- `prepare_s3dis(root, output_dir, ...)`: `Stanford3dDataset_v1.2_Aligned_Version/`
  rooms -> `indoor3d_sem_seg_hdf5_data` blocks (`pointnet_tf2.data.datasets.s3dis`);
- `prepare_shapenet_part(root, output_dir, ...)`:
  `shapenetcore_partanno_segmentation_benchmark_v0[_normal]/` -> `hdf5_data`,
  plus full-resolution files (`pointnet_tf2.data.datasets.shapenet_part`);
- `prepare_modelnet_normals(root, output_dir, ...)`:
  `modelnet40_normal_resampled/` -> the ModelNet40 layout with 6-channel
  `data` = xyz + normals (`pointnet_tf2.data.datasets.modelnet40`).

Each converts its files in parallel worker processes
(`pointnet_tf2.data.conversion`) with a progress line, a seeded generator per
file, one-line reasons for every skipped file (`skipped.txt`), `strict` and
`resume`, and publishes the dataset folder atomically. Command line:
`pointnet-tf2 prepare-s3dis`, `prepare-shapenet-part`, `prepare-modelnet-normals`.
"""

from pointnet_tf2.utils.lazy import lazy_exports

_EXPORTS = {
    "prepare_s3dis": "pointnet_tf2.data.datasets.s3dis",
    "prepare_shapenet_part": "pointnet_tf2.data.datasets.shapenet_part",
    "prepare_modelnet_normals": "pointnet_tf2.data.datasets.modelnet40",
    "read_full_resolution": "pointnet_tf2.data.datasets.shapenet_part",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
