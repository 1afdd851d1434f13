"""Prediction on one's own clouds: `predict(model, points)` and what `pointnet-tf2 predict` needs.

`predict` takes clouds of any size. A classifier sees `num_points` points of
each cloud (a random subset, or every point plus random repeats when the
cloud is smaller); a segmentation model labels every point: the cloud is cut
into random chunks of `num_points` points (the last one padded with repeats)
and each point gets the prediction of the chunk that holds it. With
`num_votes = V > 1` the logits of V passes are averaged, as in `evaluate`:
pass `v` rotates the cloud about the up axis by `2 pi v / V` (not for
semantic segmentation, whose block features are not rotation-invariant) and
draws a new subset or chunking. Voxel models (`voxel_cnn`, `voxel_resnet`)
get each (turned) subset voxelised with their own grid size, as in training.

The clouds run through the one prediction loop
(`pointnet_tf2.evaluation.loop.PredictionLoop`: votes, voxelising, batching)
and the model's task (`pointnet_tf2.tasks`) does the rest: how a cloud is
cut into inputs and how the outputs become a prediction (top-k classes;
part segmentation's category and its parts; semantic segmentation's
blocks).

A semantic-segmentation model trained on S3DIS-style blocks (9 channels:
block-centred xyz, RGB in [0, 1], room-normalised xyz) accepts an XYZRGB
room (z up): it is cut into the blocks the S3DIS converter cuts (1 m x 1 m,
stride 0.5 m, so blocks overlap) and every chunk of a block gets its
features from the converter's own `block_features` (`sem_seg_blocks`), so
the model sees what it was trained on. A point covered by several blocks
(and votes) gets the average of their logits; every input point gets one
label.

`load_predictor(checkpoint)` loads a `.keras` checkpoint or run folder
through the one checkpoint loader (`pointnet_tf2.checkpoints.open_checkpoint`)
with the dataset description saved next to it (`config.json`), so class
names come with it and the data itself need not be present; `load_input`
reads any file `prepare` reads, or one cloud of an HDF5 file
(`FILE.h5:index`).
"""

import dataclasses
import os
from typing import Optional

import numpy as np

from pointnet_tf2.checkpoints import Checkpoint
from pointnet_tf2.checkpoints import check_point_model  # noqa: F401  (re-exported)
from pointnet_tf2.checkpoints import input_spec
from pointnet_tf2.checkpoints import model_input_spec  # noqa: F401  (re-exported)
from pointnet_tf2.checkpoints import model_task
from pointnet_tf2.checkpoints import open_checkpoint
from pointnet_tf2.checkpoints import output_width  # noqa: F401  (re-exported)
from pointnet_tf2.checkpoints import resolve_checkpoint  # noqa: F401  (re-exported)
from pointnet_tf2.data.io import h5read
from pointnet_tf2.data import meshes
from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.evaluation.loop import PredictionLoop
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.tasks import get_task
from pointnet_tf2.data.checks import check_int
from pointnet_tf2.tasks.predictions import chunk_indices  # noqa: F401  (re-exported)
from pointnet_tf2.tasks.predictions import resample_indices  # noqa: F401  (re-exported)
from pointnet_tf2.tasks.predictions import softmax as _softmax  # noqa: F401  (its former name here)
from pointnet_tf2.tasks.semantic_segmentation import BLOCK_SIZE  # noqa: F401  (re-exported)
from pointnet_tf2.tasks.semantic_segmentation import BLOCK_STRIDE  # noqa: F401  (re-exported)
from pointnet_tf2.tasks.semantic_segmentation import sem_seg_blocks  # noqa: F401  (re-exported)
from pointnet_tf2.utils.errors import first_line

# A loaded checkpoint for prediction: the one loader's `Checkpoint`.
Predictor = Checkpoint


def load_predictor(checkpoint):
    """Loads a checkpoint and the dataset description saved with its run (`open_checkpoint`).

    The description comes from the `config.json` next to the checkpoint (as
    written by the trainer); the dataset itself is not opened, so a
    checkpoint can be used on a machine without its training data. Without
    `config.json` the classes are called `class_0`, `class_1`, ... A model
    that is not from the zoo must take points and give logits (see
    `check_point_model`).

    Args:
        checkpoint: A `.keras` file or a run folder.

    Returns:
        A `Checkpoint` (`Predictor`).

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: If it cannot be loaded, or does not match its description.
    """
    return open_checkpoint(checkpoint)


# --- predict --------------------------------------------------------------------------------


def _as_clouds(points):
    if isinstance(points, np.ndarray) or hasattr(points, "shape"):
        array = np.asarray(points)
        if array.ndim == 2:
            return True, [array]
        if array.ndim == 3:
            return False, list(array)
        raise ValueError(f"predict: points must be (N, C), (B, N, C) or a list of (N, C) clouds, "
                         f"got shape {array.shape}")
    if isinstance(points, (list, tuple)):
        clouds = [np.asarray(p) for p in points]
        for i, cloud in enumerate(clouds):
            if cloud.ndim != 2:
                raise ValueError(f"predict: cloud {i} must have shape (N, C), got {cloud.shape}")
        return False, clouds
    raise ValueError(f"predict: points must be an array or a list of arrays, got {type(points).__name__}")


def predict(
    model,
    points,
    *,
    num_votes=1,
    top_k=5,
    class_names=None,
    category=None,
    category_parts=None,
    up_axis=None,
    batch_size=32,
    seed=0,
    num_points=None,
):
    """Predicts classes (classification) or per-point labels (segmentation) of clouds.

    Clouds are used as given (no normalisation): pass them in the frame the
    model was trained in (for ModelNet-style data: y up, in the unit sphere;
    `load_input` + `cloud_for_model` do that for files).

    Args:
        model: A model of the zoo (e.g. from `load_predictor` or
            `keras.saving.load_model`), or a plain Keras model of points and logits.
        points: One cloud (N, C), a batch (B, N, C) or a list of (N_i, C)
            clouds; any N (resampled to the model's point count).
        num_votes: Passes to average (rotations about the up axis and new
            random subsets / chunkings).
        top_k: Classification: how many best classes to list.
        class_names: Optional names of the classes (parts for part_seg).
        category: Part segmentation: the object category index (one for all
            clouds, or a list); default: predicted by the model's category
            branch.
        category_parts: Part segmentation: the part ids of each category;
            when given, parts of other categories are never predicted.
        up_axis: Axis the votes rotate about (default: the task's
            `predict_up_axis`: 1 = y; 2 = z for semantic segmentation, which
            does not rotate).
        batch_size: Clouds (or chunks) per model call.
        seed: Seed of the resampling.
        num_points: Points per model input (default: the model's; a model
            of any count, e.g. a voxel model, gets every point of a cloud).

    Returns:
        For one cloud a dict, for several a list of dicts. Classification:
        "label" (int), "probabilities" (K,), "top_k" (list of {"index",
        "probability"[, "class"]}) and "class" when `class_names` are given.
        Segmentation: "labels" (N,) and "probabilities" (N, K); part
        segmentation also "category" and "category_probabilities".

    Raises:
        ValueError: On bad arguments, clouds the model cannot take, or an
            embedding model (it gives no classes: see `pointnet_tf2.retrieval`).
    """
    num_votes = check_int("num_votes", num_votes, 1)
    top_k = check_int("top_k", top_k, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if num_points is not None:
        num_points = check_int("num_points", num_points, 1)
    if model_kinds(model)[1] == "embedding":
        raise ValueError(f"predict: {model.name} gives embeddings, not class scores; rank shapes by them with "
                         "pointnet-tf2 retrieve")  # fmt: skip
    task = get_task(model_task(model))
    spec = input_spec(model)
    if num_points is None:
        num_points = spec.num_points
    single, clouds = _as_clouds(points)
    clouds = [task.check_cloud(np.asarray(c, dtype=np.float32), spec.input_dims, i) for i, c in enumerate(clouds)]
    loop = PredictionLoop(model, num_votes=num_votes, up_axis=task.predict_up_axis if up_axis is None else up_axis,
                          rotate_votes=task.vote_rotation, batch_size=batch_size)  # fmt: skip
    results = task.predict_clouds(loop, clouds, num_points=num_points, input_dims=spec.input_dims,
                                  rng=np.random.default_rng(seed), top_k=top_k, class_names=class_names,
                                  category=category, category_parts=category_parts)  # fmt: skip
    return results[0] if single else results


# --- inputs ---------------------------------------------------------------------------------


@dataclasses.dataclass
class InputCloud:
    """A cloud read for prediction or display.

    Attributes:
        name: What the user passed (e.g. `chair.off` or `data.h5:3`).
        stem: A file-name stem for outputs (`chair`, `data_3`).
        points: float64 (N, 3) in the file's coordinates.
        normals: (N, 3) or None.
        colors: (N, 3) in [0, 1] or None.
        labels: (N,) per-point labels from the file, or None.
        cloud_label: Object label (HDF5 classification data), or None.
        features: HDF5 rows: the stored (N, C) row, already in a layout's frame.
        up_axis: The points' up axis if the file says ("y" for ModelNet /
            ShapeNet HDF5, "z" for S3DIS, a PLY comment), else None.
        source: "mesh", "points" or "h5".
        label_names: Names of the per-point labels, if the file's dataset has them.
        class_names: Names of the cloud labels, if the file's dataset has them.
        notes: Remarks (e.g. "non_manifold").
    """

    name: str
    stem: str
    points: np.ndarray
    normals: Optional[np.ndarray] = None
    colors: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None
    cloud_label: Optional[int] = None
    features: Optional[np.ndarray] = None
    up_axis: Optional[str] = None
    source: str = "points"
    label_names: Optional[list] = None
    class_names: Optional[list] = None
    notes: list = dataclasses.field(default_factory=list)


def split_spec(spec):
    """Splits `FILE.h5:index` into (path, index); other specs give (spec, None)."""
    spec = os.fspath(spec)
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit() and os.path.isfile(head):
        return head, int(tail)
    return spec, None


def _is_h5(path):
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def _dataset_names(path):
    """(per-point label names, cloud label names) from the dataset a shard belongs to, if it opens."""
    for candidate in (os.path.dirname(os.path.abspath(path)), path):
        try:
            description = open_dataset(candidate, check_values=False)
        except (ValueError, OSError, KeyError):
            continue
        return get_task(description.task).file_label_names(description)
    return None, None


def _read_h5_row(path, index):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({first_line(error)})") from None
    with f:
        if "data" not in f or not isinstance(f["data"], h5py.Dataset):
            raise ValueError(f"{path}: no 'data' dataset (keys: {', '.join(f.keys()) or 'none'})")
        data = f["data"]
        if data.ndim != 3 or data.shape[2] < 3:
            raise ValueError(f"{path}: 'data' must be (n, P, C) with C >= 3 (x, y, z), got shape {data.shape}")
        if not 0 <= index < data.shape[0]:
            raise ValueError(f"{path}: index {index} is out of range (the file holds {data.shape[0]} clouds)")
        row = np.asarray(h5read.read(data, index), dtype=np.float64)
        labels = cloud_label = None
        if "pid" in f:
            labels = np.asarray(h5read.read(f["pid"], index)).reshape(-1).astype(np.int64)
        if "label" in f:
            value = np.asarray(h5read.read(f["label"], index)).reshape(-1)
            if value.size == row.shape[0] and row.shape[0] > 1:
                labels = value.astype(np.int64) if labels is None else labels
            elif value.size == 1:
                cloud_label = int(value[0])
    return row, labels, cloud_label


def load_input(spec, *, num_points=2048, normals=False, columns="auto", seed=0):
    """Reads one cloud: a mesh (sampled), a point file, or a row of an HDF5 file.

    Args:
        spec: A file `prepare` reads, or `FILE.h5[:index]` (a ModelNet /
            ShapeNet / S3DIS shard or virtual dataset; index 0 by default).
        num_points: Points sampled on a mesh.
        normals: Meshes: also keep the sampled faces' normals.
        columns: Column layout of point files (see `meshes.read_geometry`).
        seed: Seed of the mesh sampling.

    Returns:
        An `InputCloud`.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If it cannot be read (`meshes.BadFileError` for bad
            meshes and point files).
    """
    path, index = split_spec(spec)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    stem = os.path.splitext(os.path.basename(path))[0]
    if index is not None or os.path.splitext(path)[1].lower() in (".h5", ".hdf5") or _is_h5(path):
        index = 0 if index is None else index
        row, labels, cloud_label = _read_h5_row(path, index)
        label_names, class_names = _dataset_names(path)
        return InputCloud(
            name=f"{path}:{index}", stem=f"{stem}_{index}", points=row[:, :3],
            normals=row[:, 3:6] if row.shape[1] == 6 else None,
            colors=np.clip(row[:, 3:6], 0, 1) if row.shape[1] == 9 else None,
            labels=labels, cloud_label=cloud_label, features=row, up_axis="z" if row.shape[1] == 9 else "y",
            source="h5", label_names=label_names, class_names=class_names,
        )  # fmt: skip
    geometry = meshes.read_geometry(path, columns=columns)
    if isinstance(geometry, meshes.Mesh):
        rng = np.random.default_rng(seed)
        points, sampled_normals, _ = meshes.sample_surface(geometry.vertices, geometry.faces, num_points, rng=rng,
                                                           normals=normals)  # fmt: skip
        return InputCloud(name=path, stem=stem, points=points, normals=sampled_normals, source="mesh",
                          notes=list(geometry.notes))  # fmt: skip
    return InputCloud(name=path, stem=stem, points=geometry.points, normals=geometry.normals, colors=geometry.colors,
                      labels=geometry.labels, up_axis=geometry.up_axis, source="points",
                      notes=list(geometry.notes))  # fmt: skip


def cloud_for_model(cloud, predictor, *, up_axis=meshes.DEFAULT_INPUT_UP_AXIS, normalize=True):
    """Brings an `InputCloud` into the frame and channels the model was trained on.

    HDF5 rows are used as stored. Other clouds are turned so their up axis
    (the file's own if recorded, else `up_axis`) becomes the model's, and for
    classification and part segmentation centred and scaled into the unit
    sphere (as `prepare` and the original data). Normals are added for 6-channel
    models, colours for semantic segmentation (XYZRGB, see `predict`): the
    task's `prepare_cloud`.

    Args:
        cloud: An `InputCloud`.
        predictor: A `Checkpoint` (`load_predictor`).
        up_axis: Up axis of the file when it does not record one.
        normalize: Scale into the unit sphere (classification, part seg).

    Returns:
        float32 (N, C) points for `predict`.

    Raises:
        ValueError: If the model needs normals or colours the file lacks.
    """
    if cloud.features is not None:
        return cloud.features.astype(np.float32)
    source_axis = cloud.up_axis or up_axis
    xyz = meshes.reorient(cloud.points, source_axis, predictor.up_axis)
    normals = None if cloud.normals is None else meshes.reorient(cloud.normals, source_axis, predictor.up_axis)
    return get_task(predictor.task).prepare_cloud(xyz, normals=normals, colors=cloud.colors,
                                                  input_dims=predictor.input_dims, normalize=normalize,
                                                  name=cloud.name)  # fmt: skip
