"""What the tasks share to turn clouds into model inputs and model outputs into predictions.

A task's `predict_clouds` cuts each cloud into `Samples` (a random subset of
`num_points` points, or chunks covering every point), hands them to the
prediction loop (`pointnet_tf2.evaluation.loop.PredictionLoop`, which
rotates, voxelises, batches and runs the model) and folds the outputs back:
logits averaged over votes, per-point logits scattered back to the points
they came from, probabilities by `softmax`, the best classes by `top_k`.
"""

import dataclasses

import numpy as np

from pointnet_tf2.data.geometry import resample_indices  # noqa: F401  (re-exported: the tasks' subset sampler)


@dataclasses.dataclass
class Samples:
    """Model inputs cut from one cloud.

    Attributes:
        points: float32 (S, N, C) samples (or a list of S (N_i, C) arrays when
            the model takes clouds of any size).
        rows: int64 (S, N) indices of the cloud's points in each sample (a
            list of (N_i,) arrays with `points`).
        size: The number of cloud points the samples cover: for chunkings,
            `concatenate(rows)[:size]` holds every point once (the rest is padding).
    """

    points: object
    rows: object
    size: int

    def flat_rows(self):
        """The covered points' indices, each once: `concatenate(rows)[:size]`."""
        rows = self.rows if isinstance(self.rows, np.ndarray) else np.concatenate(self.rows)
        return rows.reshape(-1)[: self.size]


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


def resampled(cloud, num_points, rng):
    """One sample of a cloud: `num_points` random points (all plus repeats if fewer); None: every point in order."""
    rows = np.arange(len(cloud)) if num_points is None else resample_indices(len(cloud), num_points, rng)
    return Samples(cloud[rows][None], rows[None], len(cloud))


def chunked(cloud, num_points, rng):
    """Samples covering every point of a cloud once: random chunks of `num_points` (None: one shuffled chunk)."""
    n = len(cloud)
    if num_points is None:
        order = rng.permutation(n)
        return Samples(cloud[order][None], order[None], n)
    chunks = chunk_indices(n, num_points, rng)
    return Samples(cloud[chunks], chunks, n)


def stack_samples(samples):
    """All samples of several `Samples` as one model input: an (S, N, C) array, or a list when sizes differ."""
    parts = [s.points for s in samples]
    if all(isinstance(p, np.ndarray) for p in parts) and len({p.shape[1:] for p in parts}) == 1:
        return np.concatenate(parts)
    return [cloud for p in parts for cloud in p]


def split_outputs(outputs, samples):
    """Splits the loop's outputs for `stack_samples(samples)` (an array or a list) back into one part per `Samples`."""
    bounds = np.cumsum([0] + [len(s.points) for s in samples])
    return [outputs[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def scatter_mean(num_points, passes):
    """Per-point logits averaged over every sample (and vote) that holds the point.

    Args:
        num_points: Points of the cloud.
        passes: `(Samples, logits)` pairs, logits (S, N, K) (or a list of
            (N_i, K)) for the samples' points.

    Returns:
        float64 (num_points, K) mean logits (points never covered stay 0).
    """
    total, counts = None, np.zeros(num_points)
    for samples, logits in passes:
        flat = np.concatenate([np.reshape(x, (-1, np.shape(x)[-1])) for x in logits])
        rows = samples.flat_rows()
        if total is None:
            total = np.zeros((num_points, flat.shape[-1]))
        np.add.at(total, rows, flat[: samples.size])
        np.add.at(counts, rows, 1)
    return total / np.maximum(counts, 1)[:, None]


def softmax(logits):
    """Softmax over the last axis, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)


def top_k(probabilities, k, class_names=None):
    """The `k` most probable classes: a list of {"index", "probability"[, "class"]}, best first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    out = []
    for index in order:
        entry = {"index": int(index), "probability": float(probabilities[index])}
        if class_names is not None:
            entry["class"] = str(class_names[index])
        out.append(entry)
    return out
