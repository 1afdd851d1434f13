"""Shape retrieval: every shape of a split queries all the others.

A shape is relevant to a query when it has the query's class. Rankings sort
the other shapes by distance between their features: the output of an
embedding model (`pointnet_embed`), or a named layer of any model, by default
a classifier's global feature: the output of its last layer that reduces
over all points or grid cells (`global_feature_layer`: a global pooling, or
the flattened last feature map of a CNN) -- `max_pool` in the PointNets,
`avg_pool` in `voxel_resnet`, `flatten` in `voxel_cnn`. Features are computed
by the one prediction loop (`pointnet_tf2.evaluation.loop`), as evaluation
sees the shapes (the first `num_points` stored points; voxel models: the
points voxelised, or a dataset's stored grids).

- average precision of a query: the mean, over the relevant shapes, of the
  precision at the rank of each (the query itself is excluded);
- mAP: the mean over the queries with at least one relevant shape;
- precision@k: the fraction of relevant shapes among the k nearest.
"""

import keras
import numpy as np

from pointnet_tf2.checkpoints import model_task
from pointnet_tf2.evaluation.loop import PredictionLoop
from pointnet_tf2.layers import DenseMaxPooling
from pointnet_tf2.models.kinds import model_feature_layer
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.tasks import get_task
from pointnet_tf2.utils import atomic_output

# Layers whose output is a feature of the whole shape: a reduction over every point or grid cell
# (DenseMaxPooling: the fused Dense + max pool of a batch-norm-folded model), or the flattened last map of a CNN.
GLOBAL_FEATURE_LAYERS = (keras.layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling2D,
                         keras.layers.GlobalMaxPooling3D, keras.layers.GlobalAveragePooling1D,
                         keras.layers.GlobalAveragePooling2D, keras.layers.GlobalAveragePooling3D, DenseMaxPooling,
                         keras.layers.Flatten)  # fmt: skip


def average_precisions(relevance):
    """Average precision of each query from its ranked relevance.

    Args:
        relevance: bool `(Q, M)`: `relevance[q, r]` says whether the shape
            ranked r-th (0-based) for query q is relevant.

    Returns:
        float64 `(Q,)`, NaN for queries without any relevant shape.
    """
    relevance = np.asarray(relevance, bool)
    if relevance.ndim != 2:
        raise ValueError(f"relevance must be a (queries, ranks) array, got shape {relevance.shape}")
    hits = np.cumsum(relevance, axis=1)
    ranks = np.arange(1, relevance.shape[1] + 1)
    precision_at_hits = np.where(relevance, hits / ranks, 0.0)
    count = relevance.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, precision_at_hits.sum(axis=1) / count, np.nan)


def rank_neighbours(features, distance="l2"):
    """For every shape, the other shapes from nearest to farthest.

    Args:
        features: `(n, D)` features.
        distance: 'l2' or 'cosine'.

    Returns:
        `(order, distances)`: int64 `(n, n - 1)` indices (ties by index) and
        their float64 distances.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"features must be (n >= 2, D), got shape {x.shape}")
    if distance == "l2":
        squares = np.sum(x * x, axis=1)
        d = np.sqrt(np.maximum(squares[:, None] - 2 * x @ x.T + squares[None, :], 0.0))
    elif distance == "cosine":
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        d = 1.0 - unit @ unit.T
    else:
        raise ValueError(f"distance must be 'l2' or 'cosine', got {distance!r}")
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :-1]
    return order, np.take_along_axis(d, order, axis=1)


def retrieval_metrics(features, labels, *, ks=(1, 5, 10), distance="l2"):
    """mAP and precision@k of leave-one-out retrieval over a set of shapes.

    Args:
        features: `(n, D)` features.
        labels: `(n,)` class labels.
        ks: The k of precision@k (k larger than n - 1 uses n - 1).
        distance: 'l2' or 'cosine'.

    Returns:
        A dict: `map`, `precision_at_{k}` for each k, `average_precision`
        (per query, NaN without relevant shapes), `order` (the rankings) and
        `num_queries`.
    """
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(features):
        raise ValueError(f"{len(labels)} labels for {len(features)} features")
    order, _ = rank_neighbours(features, distance)
    relevance = labels[order] == labels[:, None]
    ap = average_precisions(relevance)
    result = {"map": float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan"),
              "num_queries": int(len(labels)), "average_precision": ap, "order": order}
    for k in ks:
        kk = min(int(k), relevance.shape[1])
        result[f"precision_at_{k}"] = float(relevance[:, :kk].mean())
    return result


def global_feature_layer(model):
    """The name of a model's global feature layer: its last layer reducing over all points or grid cells.

    That is the layer the model's registry entry names (`feature_layer`:
    `pooled`, the max and mean pooling of `dgcnn_cls`), else the last global
    pooling (`max_pool` of the PointNets, `avg_pool` of `voxel_resnet`) or,
    for a CNN without one, the flattened last feature map (`flatten` of
    `voxel_cnn`); the T-Nets' own pools come earlier.

    Raises:
        ValueError: If the model has no such layer (name one with `layer=` / `--layer`).
    """
    named = model_feature_layer(model)
    if named is not None:
        return named
    found = [layer.name for layer in model.layers if isinstance(layer, GLOBAL_FEATURE_LAYERS)]
    if not found:
        raise ValueError(f"model {model.name} has no global feature layer (a global pooling or a Flatten); "
                         "name the layer whose output is the feature with --layer")  # fmt: skip
    return found[-1]


def feature_name(model, layer=None):
    """What the retrieval features of `model` are: "embedding" (an embedding model's output) or a layer name."""
    if layer is None and model_kinds(model)[1] == "embedding":
        return "embedding"
    return layer or global_feature_layer(model)


def check_retrieval_model(model):
    """Raises a one-line ValueError for a model whose outputs are not per shape (segmentation models)."""
    task = get_task(model_task(model))
    if task.per_point:
        raise ValueError(f"{model.name}: a {task.title} model labels points; retrieval ranks whole shapes by a "
                         "classifier's or an embedding model's features")  # fmt: skip


def feature_model(model, layer=None):
    """The model whose outputs are the retrieval features.

    Args:
        model: A model of the zoo.
        layer: A layer name; None: the model's output for embedding models,
            else its global feature (`global_feature_layer`).

    Returns:
        A `keras.Model` (the model itself for its own output).

    Raises:
        ValueError: If the layer does not exist, or the model has no global feature.
    """
    name = feature_name(model, layer)
    if name == "embedding" and layer is None:
        return model
    try:
        output = model.get_layer(name).output
    except ValueError:
        names = ", ".join(x.name for x in model.layers if not isinstance(x, keras.layers.InputLayer))
        raise ValueError(f"model {model.name} has no layer {name!r} (layers: {names})") from None
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, output, name=f"{model.name}_{name}")


def compute_features(model, description, *, split="test", num_points=None, batch_size=32, layer=None,
                     rotation="none", seed=0):
    """Features and labels of every shape of a classification split, in split order.

    Args:
        model: A model of the zoo (points or voxels in).
        description: The `DatasetDescription` (per-shape labels: classification).
        split: The split.
        num_points: Points per cloud (default: the model's, else all stored).
        batch_size: Clouds per batch.
        layer: See `feature_model`.
        rotation: 'none', 'z' or 'so3': rotate the shapes first (see
            `pointnet_tf2.rotations`).
        seed: Seed of the rotations.

    Returns:
        `(features float32 (n, D), labels int32 (n,), points float32 (n, N, C))`.

    Raises:
        ValueError: On a dataset without per-shape labels, a segmentation
            model, or a model without the feature layer.
    """
    check_retrieval_model(model)
    task = get_task(description.task)
    if task.per_point:
        raise ValueError(f"{description.root}: retrieval needs a classification dataset, got task {description.task!r}")
    config = getattr(model, "builder_config", {})
    num_points = num_points or config.get("num_points") or description.num_points
    loop = PredictionLoop(model, up_axis=description.up_axis, batch_size=batch_size,
                          outputs=feature_model(model, layer))  # fmt: skip
    result = loop.predict_split(description, task, keep_points=True, split=split, num_points=num_points,
                                rotation=rotation, seed=seed, channels=config.get("input_dims"))  # fmt: skip
    features = result["outputs"].reshape(len(result["outputs"]), -1)
    return features, result["labels"].astype(np.int32), result["points"]


def neighbours_png(path, points, labels, queries, order, *, top=5, class_names=None, up_axis=1):
    """Writes a PNG: one row per query, the query then its `top` nearest shapes.

    Neighbours of the query's class have green titles, others red.

    Args:
        path: The PNG file (written atomically).
        points: `(n, N, >=3)` clouds.
        labels: `(n,)` labels.
        queries: Indices of the query shapes.
        order: The rankings of `rank_neighbours`.
        top: Neighbours per row.
        class_names: Optional names of the labels.
        up_axis: The up axis of the clouds (drawn vertically).

    Returns:
        The path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = (lambda c: class_names[c]) if class_names else (lambda c: f"class {c}")
    horizontal, depth = {0: (1, 2), 1: (0, 2), 2: (0, 1)}[up_axis]
    figure, axes = plt.subplots(len(queries), top + 1, figsize=(2.0 * (top + 1), 2.1 * len(queries)), squeeze=False)
    for row, query in enumerate(queries):
        shown = [query] + [int(j) for j in order[query, :top]]
        for column, shape in enumerate(shown):
            ax = axes[row, column]
            cloud = points[shape]
            ax.scatter(cloud[:, horizontal], cloud[:, up_axis], s=2, c=cloud[:, depth], cmap="viridis")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_title(f"query: {name(labels[shape])}", fontsize=8, fontweight="bold")
            else:
                colour = "green" if labels[shape] == labels[query] else "red"
                ax.set_title(f"{column}. {name(labels[shape])}", fontsize=8, color=colour)
    figure.tight_layout()
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=80)
    plt.close(figure)
    return path


def evaluate_retrieval(model, description, *, split="test", num_points=None, batch_size=32, layer=None,
                       distance="l2", ks=(1, 5, 10), rotation="none", seed=0):
    """Leave-one-out retrieval on a split: the results dict of `evaluate` for embedding models.

    Returns:
        A JSON-serialisable dict: `map`, `precision_at_{k}`, `split`,
        `num_samples`, `task`, `num_votes` (1), `headline`, `feature`.
    """
    features, labels, _ = compute_features(model, description, split=split, num_points=num_points,
                                           batch_size=batch_size, layer=layer, rotation=rotation, seed=seed)
    metrics = retrieval_metrics(features, labels, ks=ks, distance=distance)
    result = {"split": split, "num_samples": int(len(labels)), "num_votes": 1, "task": "retrieval",
              "feature": feature_name(model, layer), "distance": distance, "map": metrics["map"]}
    for k in ks:
        result[f"precision_at_{k}"] = metrics[f"precision_at_{k}"]
    result["headline"] = ["map"] + [f"precision_at_{k}" for k in ks]
    return result
