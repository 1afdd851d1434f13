"""Generic file formats of the data package, below the datasets that use them.

- `h5read`: reading HDF5 datasets with errors naming the file, dataset and rows;
- `hdf5`: list files, inspecting and checking the shards of a layout, describing them;
- `shards`: writing shards and list files, validated inputs, atomic dataset folders;
- `vds_reader`: opening a virtual dataset and checking its sources;
- `tables`: the text tables of raw releases (one point per line);
- `mesh_files`: reading and checking mesh and point files;
- `binvox`: `.binvox` grids and `.npz` voxel archives;
- `class_folders`: the classes and files of a `ROOT/<class>/...` tree.
"""
