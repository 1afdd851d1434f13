"""Builds the networks of an upgraded TF1 tree (our `original/` after tf_upgrade_v2).

Used by the migration tests (which train the upgraded graph and check that its
checkpoints load into the Keras models) and by `benchmarks/run.py` (which
times it against the Keras models). The caller passes the TensorFlow module
after switching it to graph mode (`tf.compat.v1.disable_v2_behavior()`), so
that importing this module never changes TensorFlow's behaviour.
"""

import importlib
import os
import sys

import numpy as np

DGCNN_NETWORKS = ("dgcnn_cls_tf", "dgcnn_part_seg", "dgcnn_sem_seg")
NETWORKS = ("cls", "cls_basic", "sem_seg", "part_seg", *DGCNN_NETWORKS)
# network -> (folder inside the tree, module name)
MODULES = {
    "cls": ("models", "pointnet_cls"),
    "cls_basic": ("models", "pointnet_cls_basic"),
    "sem_seg": ("sem_seg", "model"),
    "part_seg": ("part_seg", "pointnet_part_seg"),
    "dgcnn_cls_tf": ("dgcnn/models", "dgcnn"),
    "dgcnn_part_seg": ("dgcnn/part_seg", "part_seg_model"),
    "dgcnn_sem_seg": ("dgcnn/sem_seg", "model"),
}
TREE_MODULES = ("tf_util", "transform_nets", "pointnet_cls", "pointnet_cls_basic", "model",
                "pointnet_part_seg", "provider", "dgcnn", "part_seg_model")  # fmt: skip
CLS_CLASSES = 40
SEM_CLASSES = 13
SEM_CHANNELS = 9
PART_CATEGORIES = 16
PART_CLASSES = 50


def load_network_module(tree, network):
    """Imports the module defining `network` from an upgraded tree.

    Modules of a previously loaded tree are forgotten first, so two trees can
    be compared in one process.

    Args:
        tree: Folder of the upgraded tree (the layout of `original/`).
        network: One of `NETWORKS`.

    Returns:
        The imported module (with `placeholder_inputs`, `get_model`, `get_loss`).

    Raises:
        ValueError: If `network` is unknown.
    """
    if network not in MODULES:
        raise ValueError(f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}")
    for name in TREE_MODULES:
        sys.modules.pop(name, None)
    previous = getattr(load_network_module, "tree", None)
    if previous:
        sys.path[:] = [p for p in sys.path if not p.startswith(previous)]
    load_network_module.tree = os.path.abspath(tree)
    folder, name = MODULES[network]
    sys.path.insert(0, os.path.join(load_network_module.tree, folder))
    return importlib.import_module(name)


def build_network(tf, module, network, batch, points, bn_decay, *, num_classes=None, num_categories=None,
                  num_parts=None):
    """Placeholders, network and loss of `network` in the current graph.

    Args:
        tf: The TensorFlow module (graph mode).
        module: The module from `load_network_module`.
        network: One of `NETWORKS`.
        batch: Batch size (the original's placeholders are fixed-size).
        points: Points per cloud.
        bn_decay: Batch-norm decay (a float or a scalar tensor).
        num_classes: Classes of cls/sem seg (default: the original's 40 / 13).
        num_categories: Part seg object categories (default 16).
        num_parts: Part seg part classes (default 50).

    Returns:
        `(feeds, outputs, loss)`: placeholders by name (`is_training`,
        `points`, `labels`, and for part seg `category` and `seg`; DGCNN
        part seg has no `labels`), output tensors by name (`logits`, and
        `category_logits` for PointNet part seg), and the training loss.
    """
    is_training = tf.compat.v1.placeholder(tf.bool, shape=())
    feeds = {"is_training": is_training}
    if network in ("cls", "cls_basic", "dgcnn_cls_tf"):
        pc, labels = module.placeholder_inputs(batch, points)
        pred, end_points = module.get_model(pc, is_training, bn_decay=bn_decay, num_classes=num_classes or CLS_CLASSES)
        loss = module.get_loss(pred, labels, end_points)
        feeds.update(points=pc, labels=labels)
        outputs = {"logits": pred}
    elif network == "dgcnn_part_seg":
        categories = num_categories or PART_CATEGORIES
        pc, category, seg = module.placeholder_inputs(batch, points, categories)
        pred = module.get_model(pc, category, is_training, categories, num_parts or PART_CLASSES, batch, points,
                                0.0, bn_decay=bn_decay)
        loss = module.get_loss(pred, seg)[0]
        feeds.update(points=pc, category=category, seg=seg)
        outputs = {"logits": pred}
    elif network in ("sem_seg", "dgcnn_sem_seg"):
        pc, labels = module.placeholder_inputs(batch, points)
        pred = module.get_model(pc, is_training, bn_decay=bn_decay, num_classes=num_classes or SEM_CLASSES)
        loss = module.get_loss(pred, labels)
        feeds.update(points=pc, labels=labels)
        outputs = {"logits": pred}
    else:
        categories = num_categories or PART_CATEGORIES
        pc, category, labels, seg = module.placeholder_inputs(batch, points, categories)
        cls_pred, seg_pred, end_points = module.get_model(
            pc, category, is_training, categories, num_parts or PART_CLASSES, batch, points, 0.0, bn_decay=bn_decay)
        loss = module.get_loss(cls_pred, seg_pred, labels, seg, 1.0, end_points)[0]
        feeds.update(points=pc, category=category, labels=labels, seg=seg)
        outputs = {"logits": seg_pred, "category_logits": cls_pred}
    return feeds, outputs, loss


def random_feed(network, rng, batch, points):
    """A seeded random batch for every placeholder of `build_network` except `is_training`."""
    channels = SEM_CHANNELS if network in ("sem_seg", "dgcnn_sem_seg") else 3
    values = {"points": rng.normal(scale=0.5, size=(batch, points, channels)).astype(np.float32)}
    if network in ("cls", "cls_basic", "dgcnn_cls_tf"):
        values["labels"] = rng.integers(0, CLS_CLASSES, size=batch)
    elif network == "dgcnn_part_seg":
        category = rng.integers(0, PART_CATEGORIES, size=batch)
        values["category"] = np.eye(PART_CATEGORIES, dtype=np.float32)[category]
        values["seg"] = rng.integers(0, PART_CLASSES, size=(batch, points))
    elif network in ("sem_seg", "dgcnn_sem_seg"):
        values["labels"] = rng.integers(0, SEM_CLASSES, size=(batch, points))
    else:
        category = rng.integers(0, PART_CATEGORIES, size=batch)
        values["category"] = np.eye(PART_CATEGORIES, dtype=np.float32)[category]
        values["labels"] = category
        values["seg"] = rng.integers(0, PART_CLASSES, size=(batch, points))
    return values


# --- PointNet++ (original/pointnet2/, tf.compat.v1 code that runs as is) ---------------------------

# zoo model -> module in original/pointnet2/models
POINTNET2_MODULES = {
    "pointnet2_cls_ssg": "pointnet2_cls_ssg",
    "pointnet2_cls_msg": "pointnet2_cls_msg",
    "pointnet2_part_seg": "pointnet2_part_seg",
    "pointnet2_part_seg_msg": "pointnet2_part_seg_msg_one_hot",
    "pointnet2_sem_seg": "pointnet2_sem_seg",
}
POINTNET2_NETWORKS = tuple(POINTNET2_MODULES)
POINTNET2_TREE_MODULES = ("tf_util", "pointnet_util", "tf_sampling", "tf_grouping", "tf_interpolate",
                          *POINTNET2_MODULES.values())  # fmt: skip


def load_pointnet2_module(tree, network):
    """Imports the TF1 PointNet++ reference of a zoo model from `tree` (the layout of `original/`).

    The PointNet++ reference has its own `tf_util`; modules of a previously
    loaded tree (PointNet's or PointNet++'s) are forgotten first.

    Args:
        tree: Folder holding `pointnet2/` (e.g. `original/`).
        network: One of `POINTNET2_NETWORKS` (zoo model names).

    Returns:
        The imported module (with `DEFAULTS`, `placeholder_inputs`, `get_model`, `get_loss`).

    Raises:
        ValueError: If `network` is unknown.
    """
    if network not in POINTNET2_MODULES:
        raise ValueError(f"unknown PointNet++ network {network!r}; expected one of {', '.join(POINTNET2_NETWORKS)}")
    for name in (*TREE_MODULES, *POINTNET2_TREE_MODULES):
        sys.modules.pop(name, None)
    root = os.path.join(os.path.abspath(tree), "pointnet2")
    for previous in (getattr(load_network_module, "tree", None), getattr(load_pointnet2_module, "root", None)):
        if previous:
            sys.path[:] = [p for p in sys.path if not p.startswith(previous)]
    load_network_module.tree = None
    load_pointnet2_module.root = root
    for folder in ("tf_ops", "utils", "models"):
        sys.path.insert(0, os.path.join(root, folder))
    return importlib.import_module(POINTNET2_MODULES[network])


def pointnet2_input_dims(network):
    """Channels per point of the TF1 reference: XYZ + normals for part segmentation, else XYZ."""
    return 6 if network.startswith("pointnet2_part_seg") else 3


def build_pointnet2(tf, module, network, batch, points, bn_decay, config=None):
    """Placeholders, network and loss of a TF1 PointNet++ reference in the current graph.

    Args:
        tf: The TensorFlow module (graph mode).
        module: The module from `load_pointnet2_module`.
        network: One of `POINTNET2_NETWORKS`.
        batch: Batch size.
        points: Points per cloud.
        bn_decay: Batch-norm decay (a float or a scalar tensor).
        config: Keyword arguments of `get_model` (the zoo builder's names:
            `num_classes` / `num_parts`, `npoints`, `radii`, ...); None: the original's.

    Returns:
        `(feeds, outputs, loss)`: placeholders by name (`is_training`,
        `points`, `labels`, and `category` (ids) for the MSG part
        segmentation), `{"logits": ...}` and the training loss.
    """
    config = dict(config or {})
    is_training = tf.compat.v1.placeholder(tf.bool, shape=())
    feeds = {"is_training": is_training}
    if network == "pointnet2_part_seg_msg":
        pc, labels, category = module.placeholder_inputs(batch, points)
        pred, _ = module.get_model(pc, category, is_training, bn_decay=bn_decay, **config)
        feeds["category"] = category
    else:
        pc, labels = module.placeholder_inputs(batch, points)
        pred, _ = module.get_model(pc, is_training, bn_decay=bn_decay, **config)
    loss = module.get_loss(pred, labels)
    feeds.update(points=pc, labels=labels)
    return feeds, {"logits": pred}, loss


def random_pointnet2_feed(network, rng, batch, points, *, num_classes, num_categories=None):
    """A seeded random batch for every placeholder of `build_pointnet2` except `is_training`.

    Args:
        network: One of `POINTNET2_NETWORKS`.
        rng: A `numpy.random.Generator`.
        batch: Batch size.
        points: Points per cloud.
        num_classes: Classes (parts) of the labels.
        num_categories: Object categories (MSG part segmentation).
    """
    values = {"points": rng.normal(scale=0.5, size=(batch, points, pointnet2_input_dims(network))).astype(np.float32)}
    if network.startswith(("pointnet2_part_seg", "pointnet2_sem_seg")):
        values["labels"] = rng.integers(0, num_classes, size=(batch, points)).astype(np.int32)
    else:
        values["labels"] = rng.integers(0, num_classes, size=batch).astype(np.int32)
    if network == "pointnet2_part_seg_msg":
        values["category"] = rng.integers(0, num_categories, size=batch).astype(np.int32)
    return values
