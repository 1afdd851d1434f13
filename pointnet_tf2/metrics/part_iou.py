"""Part-segmentation IoU with the original PointNet protocol, as NumPy functions.

Per shape: predictions are restricted to the parts of the shape's (ground
truth) object category; the IoU of each of the category's parts is
|pred AND gt| / |pred OR gt|, a part absent from both counting as 1; the
shape's IoU is the mean over the category's parts. The instance mIoU averages
shapes, the category mIoU averages the categories present (each the mean of
its shapes).
"""

import numpy as np

from pointnet_tf2.metrics.confusion import as_labels


def parse_category_parts(category_parts):
    """Checks a category -> part ids description and builds the reverse table.

    Args:
        category_parts: A list (or a dict keyed 0..C-1) whose entry `c` lists
            the overall part ids of object category `c`; every part id belongs
            to exactly one category.

    Returns:
        `(parts, owner)`: `parts[c]` the sorted part ids of category `c`
        (lists of ints) and `owner`, an int64 array with `owner[p]` the
        category of part `p` (-1 for ids that belong to no category).

    Raises:
        ValueError: If the description is empty, a category has no part, an
            id is not a non-negative integer, or an id is in two categories.
    """
    what = "category_parts"
    if isinstance(category_parts, dict):
        keys = sorted(category_parts)
        if keys != list(range(len(keys))):
            raise ValueError(f"{what}: expected the keys 0..{len(keys) - 1} (category indices), got {keys}")
        lists = [category_parts[k] for k in keys]
    else:
        try:
            lists = list(category_parts)
        except TypeError:
            raise ValueError(f"{what}: expected a list or dict of part-id lists, got {category_parts!r}") from None
    if not lists:
        raise ValueError(f"{what}: no categories")
    parts, first_owner = [], {}
    for category, ids in enumerate(lists):
        ids = np.ravel(ids).tolist() if isinstance(ids, np.ndarray) else list(ids)
        if not ids:
            raise ValueError(f"{what}[{category}]: a category needs at least one part")
        for pid in ids:
            if isinstance(pid, bool) or not isinstance(pid, (int, np.integer)) or pid < 0:
                raise ValueError(f"{what}[{category}]: part ids must be non-negative integers, got {pid!r}")
            if int(pid) in first_owner:
                raise ValueError(f"{what}: part id {pid} belongs to categories {first_owner[int(pid)]} and {category}")
            first_owner[int(pid)] = category
        parts.append(sorted(int(p) for p in ids))
    owner = np.full(max(first_owner) + 1, -1, np.int64)
    for pid, category in first_owner.items():
        owner[pid] = category
    return parts, owner


def _flatten_shapes(values, what, has_scores=False):
    """Concatenates per-shape arrays; returns (flat, lengths).

    `values` is an array (S, N[, P]) or a sequence of per-shape arrays
    (N_s[, P]) whose point counts may differ.
    """
    point_ndim = 2 if has_scores else 1
    if isinstance(values, (list, tuple)):
        shapes = [np.asarray(v) for v in values]
        for index, shape in enumerate(shapes):
            if shape.ndim != point_ndim:
                raise ValueError(f"{what}[{index}]: expected {point_ndim} dimension(s) per shape, "
                                 f"got shape {shape.shape}")
        lengths = np.array([len(s) for s in shapes], np.int64)
        if not shapes:
            return np.zeros((0,) + ((0,) if has_scores else ()), np.float32 if has_scores else np.int64), lengths
        return np.concatenate(shapes), lengths
    array = np.asarray(values)
    if array.ndim != point_ndim + 1:
        raise ValueError(f"{what}: expected {point_ndim + 1} dimensions (shapes, points"
                         f"{', parts' if has_scores else ''}), got shape {array.shape}")
    lengths = np.full(array.shape[0], array.shape[1], np.int64)
    return array.reshape((-1,) + array.shape[2:]), lengths


def shape_categories(part_labels, category_parts):
    """Derives each shape's object category from its ground-truth part labels.

    Args:
        part_labels: Overall part ids, an array (S, N) or a sequence of S
            per-shape arrays (N_s,).
        category_parts: Category -> part ids (see `parse_category_parts`).

    Returns:
        An int64 array (S,) of category indices.

    Raises:
        ValueError: If a shape has no points, a label belongs to no category,
            or a shape mixes parts of several categories.
    """
    _, owner = parse_category_parts(category_parts)
    labels, lengths = _flatten_shapes(part_labels, "part_labels")
    labels = as_labels(labels, "part_labels")
    return _derive_categories(labels, lengths, owner)


def _point_owner(labels, owner):
    bad = labels[(labels < 0) | (labels >= len(owner))]
    if bad.size == 0:
        point_owner = owner[labels]
        bad = labels[point_owner < 0]
        if bad.size == 0:
            return point_owner
    raise ValueError(f"part_labels: part id {int(bad[0])} belongs to no category of category_parts")


def _derive_categories(labels, lengths, owner):
    point_owner = _point_owner(labels, owner)
    if np.any(lengths == 0):
        raise ValueError(f"part_labels: shape {int(np.argmax(lengths == 0))} has no points; pass its category")
    if len(lengths) == 0:
        return np.zeros(0, np.int64)
    starts = np.cumsum(lengths) - lengths
    categories = point_owner[starts]
    mixed = np.flatnonzero(np.minimum.reduceat(point_owner, starts) != np.maximum.reduceat(point_owner, starts))
    if mixed.size:
        raise ValueError(f"part_labels: shape {int(mixed[0])} has parts of several categories")
    return categories


def part_seg_ious(predictions, part_labels, categories, category_parts):
    """Per-shape part IoU with the original protocol.

    Args:
        predictions: Part scores (logits or probabilities) (S, N, P), or
            predicted part ids (S, N); or a sequence of S per-shape arrays
            (N_s, P) / (N_s,) when shapes have different point counts. Scores
            are restricted to the ground-truth category's parts before the
            argmax; given ids, a predicted part of another category is
            simply wrong.
        part_labels: Ground-truth overall part ids (S, N) or a sequence of
            S arrays (N_s,).
        categories: Object category of each shape (S,) (or (S, 1)), or None
            to derive it from `part_labels`.
        category_parts: Category -> overall part ids (a list, or a dict keyed
            0..C-1), e.g. a dataset description's `category_parts`.

    Returns:
        A float64 array (S,): each shape's mean IoU over its category's parts,
        a part absent from both prediction and truth counting as 1.

    Raises:
        ValueError: On mismatching shapes, labels outside every category,
            ground truth outside the given category, too few scores.
    """
    parts, owner = parse_category_parts(category_parts)
    num_categories, num_parts = len(parts), len(owner)
    labels, lengths = _flatten_shapes(part_labels, "part_labels")
    labels = as_labels(labels, "part_labels")
    point_owner = _point_owner(labels, owner)
    if isinstance(predictions, (list, tuple)):
        has_scores = len(predictions) > 0 and np.ndim(predictions[0]) == 2
    else:
        has_scores = np.ndim(predictions) == 3
    flat_pred, pred_lengths = _flatten_shapes(predictions, "predictions", has_scores)
    if len(pred_lengths) != len(lengths):
        raise ValueError(f"predictions: {len(pred_lengths)} shapes, part_labels: {len(lengths)}")
    if np.any(pred_lengths != lengths):
        shape = int(np.argmax(pred_lengths != lengths))
        raise ValueError(f"predictions: shape {shape} has {pred_lengths[shape]} points, "
                         f"part_labels: {lengths[shape]}")
    num_shapes = len(lengths)
    shape_index = np.repeat(np.arange(num_shapes), lengths)

    if categories is None:
        categories = _derive_categories(labels, lengths, owner)
    else:
        categories = as_labels(categories, "categories")
        if categories.size != num_shapes or categories.ndim > 2:
            raise ValueError(f"categories: shape {categories.shape} for {num_shapes} shapes")
        categories = categories.reshape(num_shapes)
        bad = categories[(categories < 0) | (categories >= num_categories)]
        if bad.size:
            raise ValueError(f"categories: category {int(bad[0])} is outside [0, {num_categories})")
        wrong = np.flatnonzero(point_owner != categories[shape_index])
        if wrong.size:
            shape = int(shape_index[wrong[0]])
            raise ValueError(f"part_labels: shape {shape} has part {int(labels[wrong[0]])}, "
                             f"which is not a part of its category {int(categories[shape])}")

    point_category = categories[shape_index]
    if has_scores:
        if flat_pred.shape[-1] < num_parts:
            raise ValueError(f"predictions: {flat_pred.shape[-1]} part scores, but category_parts has "
                             f"part ids up to {num_parts - 1}")
        predicted = np.empty(len(labels), np.int64)
        for category, ids in enumerate(parts):
            rows = np.flatnonzero(point_category == category)
            if rows.size:
                predicted[rows] = np.asarray(ids)[np.argmax(flat_pred[rows][:, ids], axis=-1)]
        width = flat_pred.shape[-1]
    else:
        predicted = as_labels(flat_pred, "predictions")
        bad = predicted[(predicted < 0) | (predicted >= num_parts)]
        if bad.size:
            raise ValueError(f"predictions: part id {int(bad[0])} is outside [0, {num_parts})")
        width = num_parts

    def counts(ids, mask=None):
        flat = shape_index * width + ids
        if mask is not None:
            flat = flat[mask]
        return np.bincount(flat, minlength=num_shapes * width).reshape(num_shapes, width).astype(np.float64)

    intersection = counts(labels, predicted == labels)
    union = counts(labels) + counts(predicted) - intersection
    iou = np.ones_like(union)
    np.divide(intersection, union, out=iou, where=union > 0)
    allowed = np.zeros((num_categories, width), np.float64)
    for category, ids in enumerate(parts):
        allowed[category, ids] = 1.0
    shape_allowed = allowed[categories]
    return np.sum(iou * shape_allowed, axis=1) / np.sum(shape_allowed, axis=1)


def instance_miou(shape_ious):
    """Mean IoU over shapes (the original's headline "mIoU").

    Args:
        shape_ious: Per-shape IoUs from `part_seg_ious`.

    Returns:
        A float; NaN if there are no shapes.
    """
    shape_ious = np.asarray(shape_ious, np.float64)
    return float(np.mean(shape_ious)) if shape_ious.size else float("nan")


def per_category_miou(shape_ious, categories, num_categories=None):
    """Mean shape IoU of every category.

    Args:
        shape_ious: Per-shape IoUs (S,).
        categories: Category of each shape (S,).
        num_categories: Length of the result (default: largest category + 1).

    Returns:
        A float64 array (num_categories,), NaN for categories without shapes.

    Raises:
        ValueError: If the lengths differ or a category is out of range.
    """
    shape_ious = np.asarray(shape_ious, np.float64).ravel()
    categories = as_labels(categories, "categories").ravel()
    if categories.shape != shape_ious.shape:
        raise ValueError(f"categories: {categories.size} entries for {shape_ious.size} shape IoUs")
    if num_categories is None:
        num_categories = int(categories.max()) + 1 if categories.size else 0
    bad = categories[(categories < 0) | (categories >= num_categories)]
    if bad.size:
        raise ValueError(f"categories: category {int(bad[0])} is outside [0, {num_categories})")
    sums = np.bincount(categories, weights=shape_ious, minlength=num_categories)
    seen = np.bincount(categories, minlength=num_categories)
    out = np.full(num_categories, np.nan)
    np.divide(sums, seen, out=out, where=seen > 0)
    return out


def category_miou(shape_ious, categories):
    """Mean over the categories present of their mean shape IoU.

    Args:
        shape_ious: Per-shape IoUs (S,).
        categories: Category of each shape (S,).

    Returns:
        A float; NaN if there are no shapes.
    """
    table = per_category_miou(shape_ious, categories)
    table = table[~np.isnan(table)]
    return float(np.mean(table)) if table.size else float("nan")


def part_seg_summary(predictions, part_labels, categories, category_parts):
    """All part-segmentation figures at once.

    Args:
        predictions, part_labels, categories, category_parts: As for
            `part_seg_ious`.

    Returns:
        A dict with "shape_ious" (S,), "categories" (S,, given or derived),
        "instance_miou", "category_miou" (floats) and "per_category_miou"
        (one float per category of `category_parts`, NaN if absent).

    Raises:
        ValueError: As `part_seg_ious`.
    """
    num_categories = len(parse_category_parts(category_parts)[0])
    if categories is None:
        categories = shape_categories(part_labels, category_parts)
    categories = as_labels(categories, "categories").ravel()
    shape_ious = part_seg_ious(predictions, part_labels, categories, category_parts)
    table = per_category_miou(shape_ious, categories, num_categories)
    present = table[~np.isnan(table)]
    return {
        "shape_ious": shape_ious,
        "categories": categories,
        "instance_miou": instance_miou(shape_ious),
        "category_miou": float(np.mean(present)) if present.size else float("nan"),
        "per_category_miou": table,
    }
