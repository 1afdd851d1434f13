"""Sampling, grouping, interpolation and k-nearest-neighbour ops in plain TensorFlow.

PointNet++ (charlesq34/pointnet2) runs these as custom CUDA/C++ kernels that
must be compiled against one TensorFlow version; here they are ordinary
TensorFlow ops (no custom op: they run on CPU and GPU, inside `tf.function`
and `model.fit`, with a number of points unknown until run time, and export
to SavedModel, LiteRT and ONNX). Each follows the kernel it replaces:

- `farthest_point_sample` (`tf_ops/sampling/tf_sampling_g.cu`): starts at
  index 0; a running minimum of squared distances starts at 1e38; each step
  takes the point with the largest running minimum. Ties go where the CUDA
  kernel's 512 threads send them: to the lowest `k mod 512`, then the lowest
  `k` (the lowest index when N <= 512). Once every distinct point is taken,
  all running minima are 0 and the kernel repeats index 0.
- `ball_query` (`tf_ops/grouping/tf_grouping_g.cu`, `query_ball_point`):
  a hit is `max(sqrt(d2), 1e-20) < radius` (true distance, strict); the first
  `nsample` hits in index order, the remaining slots filled with the first
  hit; `count = min(hits, nsample)`. With no hit the kernel leaves the slots
  unwritten (uninitialised memory); here they are 0 and the count 0, as in
  the PyTorch ports, which zero the output first.
- `group_points`, `gather_points`: gathers (gradient: scatter-add).
- `three_nn` (`tf_ops/3d_interpolation/tf_interpolate.cpp`, CPU only):
  squared distances; strict `<` insertion, so equal distances keep the lower
  index first; fewer than 3 known points leave distance inf and index 0.
  `interpolation_weights` is `pointnet_util.pointnet_fp_module`'s
  `1 / max(d2, 1e-10)`, normalised; `three_interpolate` is
  `p1 * w1 + p2 * w2 + p3 * w3`.
- `knn` (DGCNN, `tensorflow/utils/tf_util.py`: `pairwise_distance` + `knn`):
  squared distances `|q|^2 + (-2 q.p) + |p|^2`, the `k` smallest by
  `tf.nn.top_k` of the negative (nearest first, equal distances lower index
  first). Queried on the cloud itself, a point is among its own neighbours,
  normally the first (distance 0 up to rounding), as in the original (the
  PyTorch `knn` does the same).

None of these index ops has a gradient (the original registers none for
FarthestPointSample, QueryBallPoint and ThreeNN); gradients flow through the
gathers. The squared distances of the PointNet++ ops are computed coordinate
by coordinate in the kernels' order, `dx*dx + dy*dy + dz*dz` in float32, so
ties come out as the kernels' (on CPU: the CUDA kernels may fuse multiply-adds);
the radius test `sqrt(d2) < radius` is evaluated exactly as `d2 < t` with a
float32 threshold computed once (`squared_radius_threshold`).

Pairwise work costs `B x M x N` memory; `ball_query`, `three_nn` and `knn`
take `chunk_size`: the queries are processed `chunk_size` at a time, one
chunk after the other in a `tf.while_loop`, which bounds the peak at
`B x chunk_size x N` (None: all at once; the results are the same).
"""

import numbers

import numpy as np
import tensorflow as tf

from pointnet_tf2.layers.validation import check_positive_int

# Threads per block of the original FPS kernel: it decides the tie order.
FPS_THREADS = 512
# The running-minimum start of the FPS kernel.
FPS_INIT_DISTANCE = 1e38
# The floor the ball query kernel puts under a distance.
BALL_QUERY_MIN_DISTANCE = 1e-20
# pointnet_fp_module clamps squared distances here before 1 / d.
INTERPOLATION_EPSILON = 1e-10


def check_chunk_size(chunk_size, what="chunk_size"):
    """Returns `chunk_size` (None or a positive int), or raises `ValueError` quoting it."""
    if chunk_size is None:
        return None
    return check_positive_int(chunk_size, what)


def check_radius(radius, what="radius"):
    """Returns `radius` as a float, or raises `ValueError` if it is not a positive finite number."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not 0.0 < float(radius) < float("inf"):
        raise ValueError(f"{what} must be a positive number, got {radius!r}")
    return float(radius)


def squared_radius_threshold(radius):
    """The float32 `t` with `d2 < t` exactly when the kernel's `max(sqrt(d2), 1e-20) < radius`.

    `sqrt` is correctly rounded and monotonic, so the hits are the squared
    distances below the smallest float32 whose square root reaches the
    (float32) radius; a radius at or below 1e-20 has no hit.
    """
    limit = np.float32(radius)
    if not limit > np.float32(BALL_QUERY_MIN_DISTANCE):
        return np.float32(0.0)
    threshold = limit * limit
    while threshold > 0 and np.sqrt(threshold) >= limit:
        threshold = np.nextafter(threshold, np.float32(0.0))
    while np.sqrt(threshold) < limit:
        threshold = np.nextafter(threshold, np.float32(np.inf))
    return threshold


def _xyz(points, what):
    """`points` as a float32 `(B, N, 3)` tensor without gradient; a static shape other than that raises."""
    points = tf.convert_to_tensor(points)
    shape = points.shape
    if shape.rank is not None and (shape.rank != 3 or (shape[-1] is not None and shape[-1] != 3)):
        raise ValueError(f"{what} must have shape (B, N, 3), got shape {tuple(shape)}")
    return tf.stop_gradient(tf.cast(points, tf.float32))


def _rank3(tensor, what):
    """`tensor` as a tensor; a static rank other than 3 raises."""
    tensor = tf.convert_to_tensor(tensor)
    if tensor.shape.rank is not None and tensor.shape.rank != 3:
        raise ValueError(f"{what} must have shape (B, N, C), got shape {tuple(tensor.shape)}")
    return tensor


def _with_shape(tensor, shape):
    """`tensor` with its static shape refined to `shape` (no op in the graph: LiteRT has no EnsureShape)."""
    tensor.set_shape(shape)
    return tensor


def _squared_distances(queries, points):
    """`(B, M, 3), (B, N, 3) -> (B, M, N)`: `dx*dx + dy*dy + dz*dz` in the kernels' order."""
    qx, qy, qz = tf.unstack(queries[:, :, None, :], 3, axis=-1)
    px, py, pz = tf.unstack(points[:, None, :, :], 3, axis=-1)
    dx, dy, dz = px - qx, py - qy, pz - qz
    return dx * dx + dy * dy + dz * dz


def _map_query_chunks(fn, queries, chunk_size, specs):
    """Applies `fn` to `(B, c, D)` slices of `queries` (`c <= chunk_size`) and concatenates on axis 1.

    `fn` returns a tuple of tensors with the query axis second, described by
    `specs`: `(dtype, width)` pairs, width None for `(B, c)` outputs, else
    the static size of their last axis `(B, c, width)`. The chunks run one
    after the other in a `tf.while_loop` with `parallel_iterations=1`, so the
    peak memory is that of one chunk; each result is selected into its row
    of a preallocated output (no TensorArray: LiteRT converts the loop with
    builtin ops). The last chunk is padded with copies of the first query,
    whose rows are dropped.
    """
    if chunk_size is None:
        return fn(queries)
    shape = tf.shape(queries)
    batch, count = shape[0], shape[1]
    size = tf.minimum(chunk_size, tf.maximum(count, 1))
    chunks = (count + size - 1) // size
    padded = tf.concat([queries, tf.repeat(queries[:, :1], chunks * size - count, axis=1)], axis=1)
    stacked = tf.reshape(padded, tf.stack([batch, chunks, size, shape[2]]))
    stacked = tf.transpose(stacked, [1, 0, 2, 3])  # (chunks, B, size, D)
    widths = [[] if width is None else [width] for _, width in specs]
    tails = [tf.constant(w, tf.int32, shape=[len(w)]) for w in widths]
    outputs = tuple(tf.zeros(tf.concat([tf.stack([chunks, batch, size]), tail], 0), dtype)
                    for (dtype, _), tail in zip(specs, tails))  # fmt: skip

    def step(i, outputs):
        results = fn(tf.gather(stacked, i))
        row = tf.equal(tf.range(chunks), i)
        return i + 1, tuple(tf.where(tf.reshape(row, [-1, 1, 1] + [1] * len(w)), result[None], out)
                            for result, out, w in zip(results, outputs, widths))  # fmt: skip

    _, outputs = tf.while_loop(lambda i, _: i < chunks, step, (tf.constant(0), outputs), parallel_iterations=1)
    # (chunks, B, size, ...) -> (B, chunks * size, ...) -> without the padding.
    return tuple(tf.reshape(tf.transpose(out, [1, 0, 2] + [3] * len(w)), tf.concat([[batch, chunks * size], tail], 0))
                 [:, :count] for out, w, tail in zip(outputs, widths, tails))  # fmt: skip


def farthest_point_sample(points, npoint):
    """Farthest point sampling, as the original CUDA kernel.

    The first index is 0; each following one is the point with the largest
    squared distance to the points chosen so far (a running minimum that
    starts at 1e38). On a tie the kernel's thread layout decides: the lowest
    `index mod 512`, then the lowest index (so the lowest index when N <= 512).
    With `npoint` > N the indices after the N distinct points repeat 0.

    Args:
        points: `(B, N, 3)` float coordinates; N may be unknown until run time.
        npoint: Number of points to sample.

    Returns:
        `(B, npoint)` int32 indices into the N points.

    Raises:
        ValueError: If `npoint` is not a positive integer or `points` is not `(B, N, 3)`.
    """
    npoint = check_positive_int(npoint, "farthest_point_sample: npoint")
    points = _xyz(points, "farthest_point_sample: points")
    shape = tf.shape(points)
    batch, count = shape[0], shape[1]
    # Visit the points in the kernel's tie order; an argmax that keeps the
    # first maximum in that order is then the kernel's reduction.
    order = tf.argsort(tf.range(count) % FPS_THREADS, stable=True)
    x, y, z = tf.unstack(tf.gather(points, order, axis=1), 3, axis=-1)
    positions = tf.range(count)[None, :]

    def step(j, last, running, chosen):
        lx, ly, lz = (tf.gather(c, last, batch_dims=1)[:, None] for c in (x, y, z))
        dx, dy, dz = x - lx, y - ly, z - lz
        running = tf.minimum(running, dx * dx + dy * dy + dz * dz)
        best = tf.reduce_max(running, axis=1, keepdims=True)
        # The first position holding the maximum (argmax's tie order is unspecified on GPU).
        last = tf.reduce_min(tf.where(running == best, positions, count), axis=1)
        # Column j of `chosen` is still 0: add the choice there (no TensorArray, so LiteRT
        # converts the loop with builtin ops only; no OneHot of a scalar, which tf2onnx refuses).
        column = tf.cast(tf.equal(tf.range(npoint), j), tf.int32)
        return j + 1, last, running, chosen + column[None, :] * last[:, None]

    first = tf.zeros([batch], tf.int32)  # position 0 of `order` is index 0
    chosen = tf.zeros([batch, npoint], tf.int32)
    running = tf.fill([batch, count], tf.constant(FPS_INIT_DISTANCE, tf.float32))
    _, _, _, positions_chosen = tf.while_loop(lambda j, *_: j < npoint, step, (1, first, running, chosen),
                                              maximum_iterations=npoint - 1)  # fmt: skip
    indices = tf.gather(order, positions_chosen)
    return _with_shape(indices, [points.shape[0], npoint])


def gather_points(points, idx):
    """`(B, N, C), (B, M) -> (B, M, C)`: the original `gather_point` (gradient: scatter-add).

    Args:
        points: `(B, N, C)` values.
        idx: `(B, M)` int indices into N.

    Returns:
        `(B, M, C)` with `out[b, m] = points[b, idx[b, m]]`.
    """
    return tf.gather(_rank3(points, "gather_points: points"), idx, batch_dims=1)


def ball_query(points, centres, radius, nsample, *, chunk_size=None):
    """The original `query_ball_point`: up to `nsample` points within `radius` of each centre.

    For each centre: the first `nsample` points, in index order, whose
    distance `max(sqrt(d2), 1e-20)` is strictly below `radius`; the slots
    after the last hit repeat the first hit. A centre with no point in its
    ball gets index 0 in every slot and count 0 (the original kernel leaves
    that case unwritten). Set abstraction samples its centres from the
    points, so a centre always finds itself.

    Args:
        points: `(B, N, 3)` coordinates searched (the original's `xyz1`).
        centres: `(B, M, 3)` ball centres (`xyz2`).
        radius: Ball radius, a positive number.
        nsample: Slots per ball.
        chunk_size: Centres processed at a time (peak memory `B x chunk_size x N`); None: all.

    Returns:
        `(idx, count)`: `(B, M, nsample)` int32 indices into N and `(B, M)` int32
        numbers of hits, at most `nsample`.

    Raises:
        ValueError: On a bad `radius`, `nsample`, `chunk_size` or input shape.
    """
    radius = check_radius(radius, "ball_query: radius")
    nsample = check_positive_int(nsample, "ball_query: nsample")
    chunk_size = check_chunk_size(chunk_size, "ball_query: chunk_size")
    points = _xyz(points, "ball_query: points")
    centres = _xyz(centres, "ball_query: centres")
    count = tf.shape(points)[1]
    threshold = squared_radius_threshold(radius)

    def query(chunk):
        hit = _squared_distances(chunk, points) < threshold  # (B, c, N)
        # The first hits in index order: the smallest indices of hits (top_k keeps them sorted).
        candidates = tf.where(hit, tf.range(count), count)
        slots = tf.minimum(nsample, count)
        idx = -tf.math.top_k(-candidates, k=slots).values
        idx = tf.pad(idx, [[0, 0], [0, 0], [0, nsample - slots]], constant_values=count)
        hits = tf.minimum(tf.reduce_sum(tf.cast(hit, tf.int32), axis=-1), nsample)
        idx = tf.where(idx < count, idx, idx[..., :1])  # empty slots: the first hit
        return tf.where(idx < count, idx, 0), hits  # no hit at all: 0

    idx, hits = _map_query_chunks(query, centres, chunk_size, ((tf.int32, nsample), (tf.int32, None)))
    static = [centres.shape[0], centres.shape[1]]
    return _with_shape(idx, static + [nsample]), _with_shape(hits, static)


def group_points(features, idx):
    """The original `group_point`: `(B, N, C), (B, M, S) -> (B, M, S, C)` (gradient: scatter-add).

    Args:
        features: `(B, N, C)` values (coordinates or features).
        idx: `(B, M, S)` int indices into N, e.g. from `ball_query` or `knn`.

    Returns:
        `(B, M, S, C)` with `out[b, m, s] = features[b, idx[b, m, s]]`.
    """
    return tf.gather(_rank3(features, "group_points: features"), idx, batch_dims=1)


def relative_coordinates(grouped_xyz, centres):
    """Grouped coordinates relative to their centre: `(B, M, S, 3) - (B, M, 1, 3)`.

    Args:
        grouped_xyz: `(B, M, S, 3)` coordinates from `group_points`.
        centres: `(B, M, 3)` the centres.

    Returns:
        `(B, M, S, 3)` offsets from each centre (the original's "translation normalization").
    """
    return grouped_xyz - tf.cast(centres, grouped_xyz.dtype)[:, :, None, :]


def concat_grouped(grouped_xyz, grouped_features, use_xyz=True, xyz_first=True):
    """The set abstraction input: relative xyz and grouped features, concatenated as the original.

    Args:
        grouped_xyz: `(B, M, S, 3)` relative coordinates.
        grouped_features: `(B, M, S, C)` grouped features, or None.
        use_xyz: Whether the coordinates are concatenated (without features they are always returned).
        xyz_first: `[xyz, features]` (SSG) or `[features, xyz]` (MSG).

    Returns:
        `(B, M, S, 3 + C)` (or `C`, or `3`) values in the features' dtype.
    """
    if grouped_features is None:
        return grouped_xyz
    if not use_xyz:
        return grouped_features
    grouped_xyz = tf.cast(grouped_xyz, grouped_features.dtype)
    parts = [grouped_xyz, grouped_features] if xyz_first else [grouped_features, grouped_xyz]
    return tf.concat(parts, axis=-1)


def sample_and_group(xyz, features, npoint, radius, nsample, *, use_xyz=True, xyz_first=True, chunk_size=None):
    """The original `sample_and_group` (radius search): FPS centres, ball query, grouping.

    Args:
        xyz: `(B, N, 3)` coordinates.
        features: `(B, N, C)` features, or None (then only the relative xyz).
        npoint: Number of centres (farthest point sampling).
        radius: Ball radius.
        nsample: Points per ball.
        use_xyz: Whether the relative xyz is concatenated to the grouped features.
        xyz_first: `[xyz, features]` (True: SSG `pointnet_sa_module`) or
            `[features, xyz]` (False: `pointnet_sa_module_msg`).
        chunk_size: Centres per ball-query chunk (None: all).

    Returns:
        `(new_xyz, new_points, idx, grouped_xyz)`: `(B, npoint, 3)` centres,
        `(B, npoint, nsample, 3 + C)` grouped values, `(B, npoint, nsample)`
        indices and `(B, npoint, nsample, 3)` relative coordinates.
    """
    new_xyz = gather_points(xyz, farthest_point_sample(xyz, npoint))
    idx, _ = ball_query(xyz, new_xyz, radius, nsample, chunk_size=chunk_size)
    grouped_xyz = relative_coordinates(group_points(xyz, idx), new_xyz)
    grouped = None if features is None else group_points(features, idx)
    return new_xyz, concat_grouped(grouped_xyz, grouped, use_xyz, xyz_first), idx, grouped_xyz


def sample_and_group_all(xyz, features, *, use_xyz=True):
    """The original `sample_and_group_all`: one group of every point, centred at the origin.

    Args:
        xyz: `(B, N, 3)` coordinates.
        features: `(B, N, C)` features, or None.
        use_xyz: Whether xyz is concatenated (first) to the features.

    Returns:
        `(new_xyz, new_points, idx, grouped_xyz)`: `(B, 1, 3)` zeros,
        `(B, 1, N, 3 + C)`, `(B, 1, N)` = `range(N)` and `(B, 1, N, 3)` = xyz.
    """
    xyz = _rank3(xyz, "sample_and_group_all: xyz")
    shape = tf.shape(xyz)
    new_xyz = tf.zeros([shape[0], 1, 3], xyz.dtype)
    idx = tf.broadcast_to(tf.range(shape[1])[None, None, :], [shape[0], 1, shape[1]])
    grouped_xyz = xyz[:, None]
    grouped = None if features is None else _rank3(features, "sample_and_group_all: features")[:, None]
    return new_xyz, concat_grouped(grouped_xyz, grouped, use_xyz, True), idx, grouped_xyz


def three_nn(unknown, known, *, chunk_size=None):
    """The original `three_nn`: the three nearest known points of each unknown point.

    Args:
        unknown: `(B, N, 3)` points to interpolate at (the original's `xyz1`).
        known: `(B, M, 3)` points with features (`xyz2`), M >= 1.
        chunk_size: Unknown points processed at a time (peak `B x chunk_size x M`); None: all.

    Returns:
        `(dist, idx)`: `(B, N, 3)` float32 squared distances, nearest first
        (equal distances: lower index first), and `(B, N, 3)` int32 indices
        into M. With M < 3 the missing neighbours have distance inf and index 0.
    """
    chunk_size = check_chunk_size(chunk_size, "three_nn: chunk_size")
    unknown = _xyz(unknown, "three_nn: unknown")
    known = _xyz(known, "three_nn: known")
    count = tf.shape(known)[1]

    def nearest(chunk):
        negative, idx = tf.math.top_k(-_squared_distances(chunk, known), k=tf.minimum(3, count))
        # With M < 3 the kernel's missing neighbours keep its 1e40 start (inf in float32) and index 0.
        missing = [[0, 0], [0, 0], [0, 3 - tf.minimum(3, count)]]
        return tf.pad(-negative, missing, constant_values=float("inf")), tf.pad(idx, missing)

    dist, idx = _map_query_chunks(nearest, unknown, chunk_size, ((tf.float32, 3), (tf.int32, 3)))
    static = [unknown.shape[0], unknown.shape[1], 3]
    return _with_shape(dist, static), _with_shape(idx, static)


def interpolation_weights(dist):
    """`pointnet_fp_module`'s weights: `1 / max(d2, 1e-10)`, normalised over the three neighbours.

    Args:
        dist: `(B, N, 3)` squared distances from `three_nn`.

    Returns:
        `(B, N, 3)` weights summing to 1 (an inf distance gets weight 0).
    """
    dist = tf.maximum(tf.cast(dist, tf.float32), INTERPOLATION_EPSILON)
    norm = tf.reduce_sum(1.0 / dist, axis=2, keepdims=True)
    return (1.0 / dist) / norm


def three_interpolate(features, idx, weight):
    """The original `three_interpolate`: `p1 * w1 + p2 * w2 + p3 * w3` per point.

    The gradient flows to `features` only, as the original's (none to `weight`).

    Args:
        features: `(B, M, C)` features of the known points.
        idx: `(B, N, 3)` int indices into M.
        weight: `(B, N, 3)` weights.

    Returns:
        `(B, N, C)` interpolated features, in the dtype of `features`.
    """
    features = _rank3(features, "three_interpolate: features")
    weight = tf.stop_gradient(tf.cast(weight, features.dtype))
    grouped = tf.gather(features, idx, batch_dims=1)  # (B, N, 3, C)
    w1, w2, w3 = weight[..., 0:1], weight[..., 1:2], weight[..., 2:3]
    return grouped[:, :, 0] * w1 + grouped[:, :, 1] * w2 + grouped[:, :, 2] * w3


def knn(queries, points, k, *, chunk_size=None, return_distances=False):
    """DGCNN's k nearest neighbours (`pairwise_distance` + `knn` of its `tf_util.py`), in feature space.

    Squared distances are `|q|^2 + (-2 q.p) + |p|^2` in float32, as the
    original computes them; the neighbours are the `k` smallest, nearest
    first, equal distances lower index first (`tf.math.top_k`). A cloud
    queried against itself finds each point among its own neighbours,
    normally first (its distance is 0 up to rounding), as in the original.

    Args:
        queries: `(B, M, C)` query features (the cloud itself for DGCNN).
        points: `(B, N, C)` features searched, N >= k.
        k: Neighbours per query.
        chunk_size: Queries processed at a time (peak memory `B x chunk_size x N`); None: all.
        return_distances: Also return the `(B, M, k)` squared distances.

    Returns:
        `(B, M, k)` int32 indices into N, or `(idx, distances)`.

    Raises:
        ValueError: On a bad `k` or `chunk_size`, or inputs of another rank.
    """
    k = check_positive_int(k, "knn: k")
    chunk_size = check_chunk_size(chunk_size, "knn: chunk_size")
    queries = tf.stop_gradient(_rank3(queries, "knn: queries"))
    points = tf.stop_gradient(_rank3(points, "knn: points"))
    if points.shape[1] is not None and points.shape[1] < k:
        raise ValueError(f"knn: k must be at most the number of points {points.shape[1]}, got {k}")
    points = tf.cast(points, tf.float32)
    square = tf.reduce_sum(tf.square(points), axis=-1)[:, None, :]  # (B, 1, N)

    def nearest(chunk):
        chunk = tf.cast(chunk, tf.float32)
        inner = -2.0 * tf.matmul(chunk, points, transpose_b=True)
        distances = tf.reduce_sum(tf.square(chunk), axis=-1, keepdims=True) + inner + square
        negative, idx = tf.math.top_k(-distances, k=k)
        return idx, -negative

    idx, distances = _map_query_chunks(nearest, queries, chunk_size, ((tf.int32, k), (tf.float32, k)))
    static = [queries.shape[0], queries.shape[1], k]
    idx, distances = _with_shape(idx, static), _with_shape(distances, static)
    return (idx, distances) if return_distances else idx


def edge_features(features, idx, *, centre_first=True):
    """DGCNN's edge features of each point and its neighbours: `(B, N, C) -> (B, N, k, 2C)`.

    Args:
        features: `(B, N, C)` point features `x`.
        idx: `(B, N, k)` neighbour indices (from `knn`).
        centre_first: `[x_i, x_j - x_i]` (True: the TensorFlow `get_edge_feature`)
            or `[x_j - x_i, x_i]` (False: the PyTorch `get_graph_feature`).

    Returns:
        `(B, N, k, 2C)` edge features.
    """
    features = _rank3(features, "edge_features: features")
    neighbours = tf.gather(features, idx, batch_dims=1)  # (B, N, k, C)
    centres = tf.broadcast_to(features[:, :, None, :], tf.shape(neighbours))
    parts = [centres, neighbours - centres] if centre_first else [neighbours - centres, centres]
    return tf.concat(parts, axis=-1)
