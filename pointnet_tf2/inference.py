"""Prediction on one's own clouds: `predict(model, points)` and what `pointnet-tf2 predict` needs.

`predict` takes clouds of any size. A classifier sees `num_points` points of
each cloud (a random subset, or every point plus random repeats when the
cloud is smaller); a segmentation model labels every point: the cloud is cut
into random chunks of `num_points` points (the last one padded with repeats)
and each point gets the prediction of the chunk that holds it. With
`num_votes = V > 1` the logits of V passes are averaged, as in `evaluate`:
pass `v` rotates the cloud about the up axis by `2 pi v / V` (not for
semantic segmentation, whose block features are not rotation-invariant) and
draws a new subset or chunking.

A semantic-segmentation model trained on S3DIS-style blocks (9 channels:
block-centred xyz, RGB in [0, 1], room-normalised xyz) accepts an XYZRGB
room (z up): it is cut into the blocks the S3DIS converter cuts (1 m x 1 m,
stride 0.5 m, so blocks overlap) and every chunk of a block gets its
features from the converter's own `block_features` (`sem_seg_blocks`), so
the model sees what it was trained on. A point covered by several blocks
(and votes) gets the average of their logits; every input point gets one
label.

`load_predictor(checkpoint)` loads a `.keras` checkpoint with the dataset
description saved next to it (`config.json`), so class names come with it
and the data itself need not be present; `load_input` reads any file
`prepare` reads, or one cloud of an HDF5 file (`FILE.h5:index`).
"""

import dataclasses
import json
import os
from typing import Optional

import numpy as np

from pointnet_tf2.data import meshes
from pointnet_tf2.data.augment import rotate_up
from pointnet_tf2.data.checks import check_int
from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.data.datasets.s3dis import block_features
from pointnet_tf2.data.datasets.s3dis import block_members
from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.geometry import resample_indices
from pointnet_tf2.data.io import h5read
from pointnet_tf2.utils.errors import first_line
from pointnet_tf2.utils.keras_utils import load_keras_model

TASKS = ("cls", "part_seg", "sem_seg")
BLOCK_SIZE = 1.0
BLOCK_STRIDE = 0.5


# --- the model --------------------------------------------------------------------------


def model_input_spec(model):
    """Points per cloud (None = any) and channels per point the model takes.

    Args:
        model: A Keras model whose (first) input is `points` (B, N, C).

    Returns:
        `(num_points, input_dims)`.
    """
    inputs = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    shape = inputs.get("points", tuple(model.inputs[0].shape))
    return shape[1], shape[2]


def check_point_model(model, path):
    """Checks that a model takes point clouds and gives logits, as `predict` and `export` need.

    Models of the zoo say what they are; any other Keras model is accepted
    when it has one input of points (B, N, C) (N may be None) and one output
    of logits: (B, classes) for classification, (B, N, classes) for per-point
    labels (treated as semantic segmentation).

    Args:
        model: A loaded Keras model.
        path: Its file, for the message.

    Raises:
        ValueError: One line naming the file and the shapes it has.
    """
    shapes = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    points = shapes.get("points", tuple(model.inputs[0].shape) if model.inputs else ())
    if len(points) != 3 or points[2] is None:
        raise ValueError(f"{path}: not a point-cloud model: its input has shape {_shape_text(points)}, "
                         "not (B, N, C) points")  # fmt: skip
    if getattr(model, "task", None) in TASKS:
        return
    outputs = [tuple(tensor.shape) for tensor in model.outputs]
    if len(model.inputs) != 1 or len(outputs) != 1 or len(outputs[0]) not in (2, 3) or outputs[0][-1] is None:
        raise ValueError(f"{path}: not a point-cloud model of logits: a plain Keras model must take (B, N, C) points "
                         f"and give (B, classes) or (B, N, classes); this one gives "
                         f"{', '.join(_shape_text(s) for s in outputs) or 'nothing'}")  # fmt: skip


def _shape_text(shape):
    return "(" + ", ".join("B" if i == 0 and d is None else ("None" if d is None else str(d))
                           for i, d in enumerate(shape)) + ")"  # fmt: skip


def model_task(model):
    """The task of a model of the zoo ("cls", "part_seg" or "sem_seg").

    Raises:
        ValueError: If the model does not say and its outputs do not tell.
    """
    task = getattr(model, "task", None)
    if task in TASKS:
        return task
    names = [tensor.name for tensor in model.inputs]
    if "category" in names:
        return "part_seg"
    output = model.outputs[0]
    if len(output.shape) == 2:
        return "cls"
    if len(output.shape) == 3:
        return "sem_seg"
    raise ValueError(f"{model.name}: cannot tell the task of this model (output shape {tuple(output.shape)})")


def _softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)


def _call(model, points, category=None, batch_size=32):
    """Runs the model over (S, P, C) clouds in batches; returns logits (and category logits).

    `predict_on_batch` runs a compiled function (traced once, then reused for
    any batch size): about 4x faster than eager calls on CPU.
    """
    parts, categories = [], []
    for start in range(0, len(points), batch_size):
        batch = np.ascontiguousarray(points[start:start + batch_size], dtype=np.float32)
        if category is not None:
            out = model.predict_on_batch({"points": batch,
                                          "category": category[start:start + batch_size].astype(np.float32)})
            parts.append(np.asarray(out["parts"], dtype=np.float64))
            categories.append(np.asarray(out["category"], dtype=np.float64))
        else:
            out = model.predict_on_batch(batch)
            parts.append(np.asarray(out, dtype=np.float64))
    logits = np.concatenate(parts)
    return (logits, np.concatenate(categories)) if category is not None else logits


# --- resampling -------------------------------------------------------------------------


def chunk_indices(n, count, rng):
    """Cuts a random permutation of `n` points into chunks of `count` (the last padded).

    Every point is in exactly one chunk (padding repeats points at random);
    `chunks.reshape(-1)[:n]` is the permutation itself.

    Args:
        n: Points in the cloud (>= 1).
        count: Points per chunk.
        rng: A `numpy.random.Generator`.

    Returns:
        int64 (ceil(n / count), count) indices.
    """
    order = rng.permutation(n)
    pad = (-n) % count
    if pad:
        order = np.concatenate([order, rng.choice(n, pad, replace=True)])
    return order.reshape(-1, count)


# --- semantic segmentation blocks -------------------------------------------------------------


def sem_seg_blocks(points, num_points, rng, *, block_size=BLOCK_SIZE, stride=BLOCK_STRIDE):
    """Cuts an XYZRGB room into the S3DIS converter's blocks and chunks them for a model.

    The room is shifted so that its minimum corner is the origin and cut into
    `block_size` x `block_size` columns over x-y swept with `stride`, exactly
    as the converter cuts rooms (`pointnet_tf2.data.datasets.s3dis.block_members`;
    blocks overlap, and blocks with few points are kept so that every point is
    in at least one block). Each block's points are cut into random chunks of
    `num_points` (the last padded with random repeats of the block's points):
    each chunk is one sample of the block, as the converter draws one, and
    gets its 9 features from `pointnet_tf2.data.datasets.s3dis.block_features`,
    the converter's own function (x, y centred on the chunk's minimum + half
    a block, z, RGB in [0, 1], xyz / the room's maximum).

    Args:
        points: (N, 6) xyz + RGB (RGB in [0, 1], or [0, 255] if any value > 1;
            clipped to that range).
        num_points: Points per chunk (None: a block is one chunk of all its
            points).
        rng: A `numpy.random.Generator` (chunking).
        block_size: Block side in the cloud's units (S3DIS: 1 m).
        stride: Block step (S3DIS: 0.5 m).

    Returns:
        A list with one `(chunks, features, size)` per block: int64
        (k, num_points) row indices into `points` (the block's `size` points
        each once in `chunks.reshape(-1)[:size]`, then padding), and float32
        (k, num_points, 9) features.

    Raises:
        ValueError: If `points` is not (N, 6).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 6 or len(points) == 0:
        raise ValueError(f"sem_seg_blocks: expected (N, 6) xyz + RGB with N >= 1, got shape {points.shape}")
    xyz = points[:, :3] - points[:, :3].min(axis=0)
    color_scale = 255.0 if points[:, 3:6].max(initial=0.0) > 1.0 else 1.0
    rgb = np.clip(points[:, 3:6], 0.0, color_scale)
    room_max = np.maximum(xyz.max(axis=0), 1e-9)  # a flat cloud: its coordinate is 0 along that axis
    blocks = []
    for _, _, members in block_members(xyz, block_size, stride, cover=True):
        if num_points is None:
            chunks = members[rng.permutation(len(members))][None]
        else:
            chunks = members[chunk_indices(len(members), num_points, rng)]
        features = np.stack([block_features(xyz[c], rgb[c], room_max, block_size, color_scale) for c in chunks])
        blocks.append((chunks, features, len(members)))
    return blocks


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


def _fit_channels(cloud, input_dims, task, index):
    channels = cloud.shape[1]
    if len(cloud) == 0:
        raise ValueError(f"predict: cloud {index} has no points")
    if not np.isfinite(cloud).all():
        raise ValueError(f"predict: cloud {index} has NaN or inf values")
    if task == "sem_seg" and input_dims == 9 and channels == 6:
        return cloud  # XYZRGB room: block features are built later
    if channels == input_dims:
        return cloud
    if channels > input_dims and input_dims == 3:
        return cloud[:, :3]
    if task == "sem_seg" and input_dims == 9:
        raise ValueError(f"predict: cloud {index} has {channels} channels; this model needs 9 block features "
                         "or 6 (x y z r g b) to build them from")  # fmt: skip
    need = "xyz + normals" if input_dims == 6 else f"{input_dims} channels"
    raise ValueError(f"predict: cloud {index} has {channels} channels per point, the model needs {input_dims} ({need})")


def _top_k(probabilities, k, class_names):
    order = np.argsort(-probabilities, kind="stable")[:k]
    out = []
    for index in order:
        entry = {"index": int(index), "probability": float(probabilities[index])}
        if class_names is not None:
            entry["class"] = str(class_names[index])
        out.append(entry)
    return out


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
):
    """Predicts classes (classification) or per-point labels (segmentation) of clouds.

    Clouds are used as given (no normalisation): pass them in the frame the
    model was trained in (for ModelNet-style data: y up, in the unit sphere;
    `load_input` + `cloud_for_model` do that for files).

    Args:
        model: A model of the zoo (e.g. from `load_predictor` or
            `keras.saving.load_model`).
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
        up_axis: Axis the votes rotate about (default: 1 = y; 2 = z for
            semantic segmentation, which does not rotate).
        batch_size: Clouds (or chunks) per model call.
        seed: Seed of the resampling.

    Returns:
        For one cloud a dict, for several a list of dicts. Classification:
        "label" (int), "probabilities" (K,), "top_k" (list of {"index",
        "probability"[, "class"]}) and "class" when `class_names` are given.
        Segmentation: "labels" (N,) and "probabilities" (N, K); part
        segmentation also "category" and "category_probabilities".

    Raises:
        ValueError: On bad arguments or clouds the model cannot take.
    """
    num_votes = check_int("num_votes", num_votes, 1)
    top_k = check_int("top_k", top_k, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    task = model_task(model)
    num_points, input_dims = model_input_spec(model)
    single, clouds = _as_clouds(points)
    clouds = [_fit_channels(np.asarray(c, dtype=np.float32), input_dims, task, i) for i, c in enumerate(clouds)]
    if up_axis is None:
        up_axis = 2 if task == "sem_seg" else 1
    rng = np.random.default_rng(seed)
    if task == "cls":
        results = _predict_cls(model, clouds, num_points, num_votes, top_k, class_names, up_axis, batch_size, rng)
    elif task == "part_seg":
        results = _predict_part_seg(model, clouds, num_points, num_votes, class_names, category, category_parts,
                                    up_axis, batch_size, rng)  # fmt: skip
    else:
        results = _predict_sem_seg(model, clouds, num_points, num_votes, input_dims, batch_size, rng)
    return results[0] if single else results


def _rotated(points, vote, num_votes, up_axis):
    if vote == 0:
        return points

    return rotate_up(points, 2.0 * np.pi * vote / num_votes, axis=up_axis).astype(np.float32)


def _predict_cls(model, clouds, num_points, num_votes, top_k, class_names, up_axis, batch_size, rng):
    results = []
    fixed = num_points is not None
    samples, owners = [], []
    for i, cloud in enumerate(clouds):
        for vote in range(num_votes):
            chosen = resample_indices(len(cloud), num_points, rng) if fixed else np.arange(len(cloud))
            samples.append(_rotated(cloud[chosen], vote, num_votes, up_axis))
            owners.append(i)
    if fixed:
        logits = _call(model, np.stack(samples), batch_size=batch_size)
    else:
        logits = np.concatenate([_call(model, s[None], batch_size=1) for s in samples])
    owners = np.asarray(owners)
    for i in range(len(clouds)):
        probabilities = _softmax(logits[owners == i].mean(axis=0)).astype(np.float32)
        label = int(np.argmax(probabilities))
        result = {"label": label, "probabilities": probabilities,
                  "top_k": _top_k(probabilities, min(top_k, len(probabilities)), class_names)}  # fmt: skip
        if class_names is not None:
            result["class"] = str(class_names[label])
        results.append(result)
    return results


def _chunked(cloud, num_points, rng):
    n = len(cloud)
    if num_points is None:
        order = rng.permutation(n)
        return order[None], cloud[order][None]
    chunks = chunk_indices(n, num_points, rng)
    return chunks, cloud[chunks]


def _scatter_logits(total, chunks, logits, n):
    order = chunks.reshape(-1)[:n]
    total[order] += logits.reshape(-1, logits.shape[-1])[:n]


def _predict_part_seg(model, clouds, num_points, num_votes, class_names, category, category_parts, up_axis,
                      batch_size, rng):  # fmt: skip
    shapes = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    if "category" not in shapes:
        raise ValueError(f"{model.name}: a part segmentation model needs a 'category' input")
    num_categories = int(shapes["category"][-1])
    categories = category if isinstance(category, (list, tuple, np.ndarray)) else [category] * len(clouds)
    if len(categories) != len(clouds):
        raise ValueError(f"predict: {len(categories)} categories for {len(clouds)} clouds")
    results = []
    for i, cloud in enumerate(clouds):
        n = len(cloud)
        passes = []
        for vote in range(num_votes):
            chunks, chunk_points = _chunked(cloud, num_points, rng)
            passes.append((chunks, _rotated(chunk_points.reshape(-1, cloud.shape[1]), vote, num_votes, up_axis)
                           .reshape(chunk_points.shape)))  # fmt: skip
        cat = categories[i]
        category_logits = None
        if cat is None:
            zeros = lambda m: np.zeros((m, num_categories), np.float32)  # noqa: E731
            sums = [_call(model, p, category=zeros(len(p)), batch_size=batch_size)[1].mean(axis=0) for _, p in passes]
            category_logits = np.mean(sums, axis=0)
            cat = int(np.argmax(category_logits))
        cat = int(cat)
        if not 0 <= cat < num_categories:
            raise ValueError(f"predict: category {cat} is outside [0, {num_categories})")
        total = None
        for chunks, chunk_points in passes:
            onehot = np.zeros((len(chunk_points), num_categories), np.float32)
            onehot[:, cat] = 1.0
            logits, cat_logits = _call(model, chunk_points, category=onehot, batch_size=batch_size)
            if total is None:
                total = np.zeros((n, logits.shape[-1]))
            _scatter_logits(total, chunks, logits, n)
            if category_logits is None:
                category_logits = cat_logits.mean(axis=0)
        total /= num_votes
        if category_parts is not None:
            mask = np.full(total.shape[-1], -np.inf)
            mask[list(category_parts[cat])] = 0.0
            total = total + mask
        probabilities = _softmax(total).astype(np.float32)
        result = {"labels": np.argmax(probabilities, axis=-1).astype(np.int64), "probabilities": probabilities,
                  "category": cat, "category_probabilities": _softmax(category_logits).astype(np.float32)}  # fmt: skip
        results.append(result)
    return results


def _predict_sem_seg(model, clouds, num_points, num_votes, input_dims, batch_size, rng):
    results = []
    for cloud in clouds:
        n = len(cloud)
        total, counts = None, np.zeros(n)
        for _ in range(num_votes):
            if input_dims == 9 and cloud.shape[1] == 6:
                blocks = sem_seg_blocks(cloud, num_points, rng)
            else:
                chunks, points = _chunked(cloud, num_points, rng)
                blocks = [(chunks, points, n)]
            all_points = [points for _, points, _ in blocks]
            if num_points is None:
                logits = [_call(model, p, batch_size=1) for p in all_points]
            else:
                stacked = _call(model, np.concatenate(all_points), batch_size=batch_size)
                splits = np.cumsum([len(p) for p in all_points])[:-1]
                logits = np.split(stacked, splits)
            if total is None:
                total = np.zeros((n, logits[0].shape[-1]))
            for (chunks, _, size), block_logits in zip(blocks, logits):
                order = chunks.reshape(-1)[:size]
                total[order] += block_logits.reshape(-1, block_logits.shape[-1])[:size]
                counts[order] += 1
        probabilities = _softmax(total / counts[:, None]).astype(np.float32)
        results.append({"labels": np.argmax(probabilities, axis=-1).astype(np.int64), "probabilities": probabilities})
    return results


# --- checkpoints ------------------------------------------------------------------------------


@dataclasses.dataclass
class Predictor:
    """A loaded checkpoint and what is known about its data.

    Attributes:
        model: The Keras model.
        task: "cls", "part_seg" or "sem_seg".
        checkpoint: Path of the `.keras` file.
        class_names: Names of the model's outputs (classes, or parts for
            part_seg); `class_<i>` when no description was saved.
        category_names: part_seg: object category names.
        category_parts: part_seg: part ids of each category.
        up_axis: Up axis of the training data (1 = y, 2 = z).
        num_points: Points per cloud the model takes (None = any).
        input_dims: Channels per point.
        description: The saved `DatasetDescription`, or None.
    """

    model: object
    task: str
    checkpoint: str
    class_names: list
    category_names: Optional[list] = None
    category_parts: Optional[list] = None
    up_axis: int = 1
    num_points: Optional[int] = None
    input_dims: int = 3
    description: object = None

    @property
    def up_axis_name(self):
        """The up axis as "x", "y" or "z"."""
        return "xyz"[self.up_axis]


def resolve_checkpoint(checkpoint):
    """A `.keras` file, or `best.keras` (else `last.keras`) of a run folder.

    Raises:
        FileNotFoundError: If there is no such file.
    """
    checkpoint = os.fspath(checkpoint)
    if os.path.isdir(checkpoint):
        for name in ("best.keras", "last.keras"):
            path = os.path.join(checkpoint, name)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"{checkpoint}: a folder without best.keras or last.keras")
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint")
    return checkpoint


def load_predictor(checkpoint):
    """Loads a checkpoint and the dataset description saved with its run.

    The description comes from the `config.json` next to the checkpoint (as
    written by the trainer); the dataset itself is not opened, so a
    checkpoint can be used on a machine without its training data. Without
    `config.json` the classes are called `class_0`, `class_1`, ... A model
    that is not from the zoo must take points and give logits (see
    `check_point_model`).

    Args:
        checkpoint: A `.keras` file or a run folder.

    Returns:
        A `Predictor`.

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: If it cannot be loaded, or does not match its description.
    """
    path = resolve_checkpoint(checkpoint)
    model = load_keras_model(path)
    check_point_model(model, path)
    task = model_task(model)
    num_points, input_dims = model_input_spec(model)
    config_path = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
    description = None
    if os.path.isfile(config_path):
        try:
            with open(config_path, encoding="utf-8") as f:
                description = DatasetDescription.from_dict(json.load(f)["dataset"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{config_path}: no valid dataset description ({error})") from None
    width = int(output_width(model, task))
    if description is None:
        names = [f"class_{i}" for i in range(width)]
        return Predictor(model, task, path, names, up_axis=2 if task == "sem_seg" else 1,
                         num_points=num_points, input_dims=input_dims)  # fmt: skip
    if description.task != task:
        raise ValueError(f"{config_path}: describes a {description.task} dataset, but {path} is a {task} model")
    names = description.part_names if task == "part_seg" else description.class_names
    if len(names) != width:
        raise ValueError(f"{path}: the model predicts {width} classes, its saved dataset has {len(names)}")
    return Predictor(model, task, path, list(names), category_names=description.category_names,
                     category_parts=description.category_parts, up_axis=int(description.up_axis),
                     num_points=num_points, input_dims=input_dims, description=description)  # fmt: skip


def output_width(model, task):
    """Classes a model predicts (parts for part segmentation)."""
    if task == "part_seg":
        config = getattr(model, "builder_config", {})
        if "num_parts" in config:
            return config["num_parts"]
        return [output for output in model.outputs if len(output.shape) == 3][0].shape[-1]
    return model.outputs[0].shape[-1]


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
        if description.task == "cls":
            return None, description.class_names
        if description.task == "part_seg":
            return description.part_names, description.category_names
        return description.class_names, None
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
    models, colours for semantic segmentation (XYZRGB, see `predict`).

    Args:
        cloud: An `InputCloud`.
        predictor: A `Predictor`.
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
    if predictor.task == "sem_seg":
        if predictor.input_dims == 9:
            if cloud.colors is None:
                raise ValueError(f"{cloud.name}: the semantic segmentation model needs colours (x y z r g b)")
            return np.concatenate([xyz, cloud.colors], axis=1).astype(np.float32)
        return xyz[:, : predictor.input_dims].astype(np.float32)
    if normalize:
        try:
            xyz, _, _ = meshes.normalize_unit_sphere(xyz)
        except ValueError:
            raise ValueError(f"{cloud.name}: all points coincide") from None
    if predictor.input_dims == 6:
        if cloud.normals is None:
            raise ValueError(f"{cloud.name}: the model needs normals (x y z nx ny nz); the file has none")
        normals = meshes.reorient(cloud.normals, source_axis, predictor.up_axis)
        return np.concatenate([xyz, normals], axis=1).astype(np.float32)
    return xyz.astype(np.float32)
