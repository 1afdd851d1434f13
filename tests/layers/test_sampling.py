"""The sampling and neighbour ops against NumPy loops written from the original kernels.

The references below are written from the kernels' code, not from our ops:
`tf_sampling_g.cu` (FPS, simulated thread by thread with the block reduction
of its 512 threads), `tf_grouping_g.cu` (`query_ball_point`),
`tf_interpolate.cpp` (`three_nn`, `three_interpolate`), `pointnet_util.py`
(the interpolation weights) and DGCNN's `tf_util.py` (`knn`,
`get_edge_feature`). Float32 arithmetic is done in the kernels' order, so the
index ops must agree exactly.
"""

import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.layers import sampling

F32 = np.float32


# ----------------------------------------------------------------- references


def fps_reference(points, npoint, threads=512):
    """`farthestpointsamplingKernel`: per-thread strided scan, then the tree reduction."""
    out = np.zeros((len(points), npoint), np.int32)
    for b, cloud in enumerate(points.astype(F32)):
        n = len(cloud)
        temp = np.full(n, F32(1e38), F32)
        old = 0
        for j in range(1, npoint):
            x1, y1, z1 = cloud[old]
            d = (cloud[:, 0] - x1) * (cloud[:, 0] - x1) + (cloud[:, 1] - y1) * (cloud[:, 1] - y1) \
                + (cloud[:, 2] - z1) * (cloud[:, 2] - z1)
            temp = np.minimum(d, temp)
            dists = np.full(threads, -1.0, F32)
            dists_i = np.zeros(threads, np.int64)
            for t in range(threads):
                for k in range(t, n, threads):  # `if (d2 > best)`: the first maximum of the thread
                    if temp[k] > dists[t]:
                        dists[t], dists_i[t] = temp[k], k
            u = 0
            while (1 << u) < threads:
                for t in range(threads >> (u + 1)):
                    i1, i2 = (t * 2) << u, (t * 2 + 1) << u
                    if dists[i1] < dists[i2]:
                        dists[i1], dists_i[i1] = dists[i2], dists_i[i2]
                u += 1
            old = dists_i[0]
            out[b, j] = old
    return out


def ball_query_reference(points, centres, radius, nsample):
    """`query_ball_point_gpu`, with the no-hit slots zeroed (the PyTorch ports' zeros)."""
    b_, m_ = centres.shape[:2]
    idx = np.zeros((b_, m_, nsample), np.int32)
    cnt = np.zeros((b_, m_), np.int32)
    for b in range(b_):
        for j in range(m_):
            x2, y2, z2 = centres[b, j].astype(F32)
            count = 0
            for k in range(points.shape[1]):
                if count == nsample:
                    break
                x1, y1, z1 = points[b, k].astype(F32)
                d = max(np.sqrt((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1) + (z2 - z1) * (z2 - z1)), F32(1e-20))
                if d < F32(radius):
                    if count == 0:
                        idx[b, j, :] = k
                    idx[b, j, count] = k
                    count += 1
            cnt[b, j] = count
    return idx, cnt


def three_nn_reference(unknown, known):
    """`threenn_cpu`: strict `<` insertion into the three best, starting at 1e40."""
    b_, n_ = unknown.shape[:2]
    dist = np.zeros((b_, n_, 3), F32)
    idx = np.zeros((b_, n_, 3), np.int32)
    for b in range(b_):
        for j in range(n_):
            x1, y1, z1 = unknown[b, j].astype(F32)
            best = [1e40, 1e40, 1e40]
            besti = [0, 0, 0]
            for k in range(known.shape[1]):
                x2, y2, z2 = known[b, k].astype(F32)
                d = float((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1) + (z2 - z1) * (z2 - z1))
                if d < best[0]:
                    best, besti = [d, best[0], best[1]], [k, besti[0], besti[1]]
                elif d < best[1]:
                    best, besti = [best[0], d, best[1]], [besti[0], k, besti[1]]
                elif d < best[2]:
                    best[2], besti[2] = d, k
            with np.errstate(over="ignore"):
                dist[b, j] = np.array(best, np.float64).astype(F32)  # 1e40 -> inf
            idx[b, j] = besti
    return dist, idx


def interpolate_reference(features, idx, dist):
    """`pointnet_fp_module`'s weights and `threeinterpolate_cpu`."""
    dist = np.maximum(dist.astype(F32), F32(1e-10))
    weight = (F32(1.0) / dist) / np.sum(F32(1.0) / dist, axis=2, keepdims=True)
    out = np.zeros(idx.shape[:2] + features.shape[2:], F32)
    for b in range(idx.shape[0]):
        for j in range(idx.shape[1]):
            i1, i2, i3 = idx[b, j]
            w1, w2, w3 = weight[b, j]
            out[b, j] = features[b, i1] * w1 + features[b, i2] * w2 + features[b, i3] * w3
    return out, weight


def knn_reference(queries, points, k):
    """The k smallest exact squared distances, nearest first, equal distances lower index first."""
    out = np.zeros(queries.shape[:2] + (k,), np.int32)
    for b in range(len(queries)):
        for j in range(queries.shape[1]):
            d = np.sum((points[b].astype(np.float64) - queries[b, j].astype(np.float64)) ** 2, axis=-1)
            out[b, j] = np.argsort(d, kind="stable")[:k]
    return out


def cube(rng, *shape):
    return rng.random(shape).astype(F32)


# ----------------------------------------------------------------- farthest point sampling


@pytest.mark.parametrize("batch, n, npoint", [(3, 37, 12), (1, 5, 5), (2, 64, 1)])
def test_fps_equals_the_kernel(rng, batch, n, npoint):
    points = cube(rng, batch, n, 3)
    got = sampling.farthest_point_sample(points, npoint).numpy()
    assert got.dtype == np.int32 and got.shape == (batch, npoint)
    np.testing.assert_array_equal(got, fps_reference(points, npoint))
    assert (got[:, 0] == 0).all()


def test_fps_duplicates_and_more_samples_than_points(rng):
    distinct = cube(rng, 2, 6, 3)
    points = distinct[:, rng.permutation(np.repeat(np.arange(6), 3))]  # every point three times
    got = sampling.farthest_point_sample(points, 10).numpy()
    np.testing.assert_array_equal(got, fps_reference(points, 10))
    # Six distinct positions, then every running minimum is 0: the kernel repeats index 0.
    assert all(len({tuple(points[b, i]) for i in got[b, :6]}) == 6 for b in range(2))
    np.testing.assert_array_equal(got[:, 6:], 0)


def test_fps_tie_order_is_the_kernels_not_the_lowest_index():
    # Points 100 and 520 are equally far from everything else (at the origin):
    # thread 520 % 512 = 8 holds 520 and wins the reduction over thread 100.
    points = np.zeros((1, 600, 3), F32)
    points[0, 100] = points[0, 520] = (1.0, 0.0, 0.0)
    got = sampling.farthest_point_sample(points, 3).numpy()
    np.testing.assert_array_equal(got, fps_reference(points, 3))
    assert got[0, 1] == 520
    # Below 512 points the same tie goes to the lowest index.
    small = np.zeros((1, 300, 3), F32)
    small[0, 100] = small[0, 250] = (1.0, 0.0, 0.0)
    assert sampling.farthest_point_sample(small, 2).numpy()[0, 1] == 100


def test_fps_on_a_grid_full_of_ties():
    axis = np.arange(9, dtype=F32) / 8
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(1, -1, 3)  # 729 > 512 points
    np.testing.assert_array_equal(sampling.farthest_point_sample(grid, 16).numpy(), fps_reference(grid, 16))


# ----------------------------------------------------------------- ball query and grouping


@pytest.mark.parametrize("nsample", [1, 8, 100])
def test_ball_query_equals_the_kernel(rng, nsample):
    points = cube(rng, 2, 60, 3)
    centres = np.concatenate([points[:, :10], cube(rng, 2, 5, 3)], axis=1)  # some centres not in the cloud
    idx, cnt = sampling.ball_query(points, centres, 0.3, nsample)
    ref_idx, ref_cnt = ball_query_reference(points, centres, 0.3, nsample)
    assert idx.dtype == tf.int32 and idx.shape == (2, 15, nsample) and cnt.shape == (2, 15)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(cnt, ref_cnt)
    assert cnt.numpy().max() == min(nsample, ref_cnt.max())


def test_ball_query_single_point_empty_ball_and_duplicates():
    points = np.array([[[0, 0, 0], [5, 5, 5], [0.1, 0, 0], [5, 5, 5], [0, 0.1, 0]]], F32)
    centres = np.array([[[0, 0, 0], [5, 5, 5], [9, 9, 9], [5.05, 5, 5]]], F32)
    idx, cnt = sampling.ball_query(points, centres, 0.2, 4)
    np.testing.assert_array_equal(idx[0], [[0, 2, 4, 0],   # three hits, then the first again
                                           [1, 3, 1, 1],   # duplicates: both, index order
                                           [0, 0, 0, 0],   # no point in the ball: zeros, count 0
                                           [1, 3, 1, 1]])  # fmt: skip
    np.testing.assert_array_equal(cnt[0], [3, 2, 0, 2])
    lone, lone_cnt = sampling.ball_query(points, points[:, 2:3] + F32(3.0), 3.1, 3)
    np.testing.assert_array_equal(ball_query_reference(points, points[:, 2:3] + F32(3.0), 3.1, 3)[0], lone)
    one, one_cnt = sampling.ball_query(points, points[:, 4:5] + F32([[[0, 0, -0.05]]]), 0.06, 3)
    np.testing.assert_array_equal(one[0, 0], [4, 4, 4])  # a ball with one point: all slots it
    assert int(one_cnt[0, 0]) == 1 and int(lone_cnt[0, 0]) == 0


def test_ball_query_radius_is_a_strict_bound_on_the_true_distance():
    r = F32(0.5)
    inside = np.nextafter(r, F32(0))
    points = np.array([[[0.5, 0, 0], [0, inside, 0], [0, 0, 0.6]]], F32)
    idx, cnt = sampling.ball_query(points, np.zeros((1, 1, 3), F32), 0.5, 3)
    np.testing.assert_array_equal(idx[0, 0], [1, 1, 1])  # 0.5 itself is not < 0.5
    assert int(cnt[0, 0]) == 1


def test_squared_radius_threshold_matches_sqrt_test(rng):
    for radius in [0.1, 0.2, 0.4, 0.8, 1e-3, 3.7, *rng.random(20)]:
        r = F32(radius)
        t = sampling.squared_radius_threshold(radius)
        near = (r * r * (1 + rng.uniform(-1e-5, 1e-5, 2000))).astype(F32)
        near = np.concatenate([near, [t, np.nextafter(t, F32(0)), np.nextafter(t, F32(1))]]).astype(F32)
        expected = np.maximum(np.sqrt(near), F32(1e-20)) < r
        np.testing.assert_array_equal(near < t, expected)
    assert sampling.squared_radius_threshold(1e-21) == 0


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 15, 100])
def test_ball_query_chunked_equals_direct(rng, chunk_size):
    points, centres = cube(rng, 2, 40, 3), cube(rng, 2, 15, 3)
    direct = sampling.ball_query(points, centres, 0.35, 6)
    chunked = sampling.ball_query(points, centres, 0.35, 6, chunk_size=chunk_size)
    for a, b in zip(direct, chunked):
        np.testing.assert_array_equal(a, b)


def test_group_points_gathers_and_scatter_adds_the_gradient(rng):
    features = rng.normal(size=(2, 9, 4)).astype(F32)
    idx = rng.integers(0, 9, (2, 5, 3)).astype(np.int32)
    out = sampling.group_points(features, idx).numpy()
    np.testing.assert_array_equal(out, np.stack([features[b][idx[b]] for b in range(2)]))
    variable = tf.Variable(features)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(sampling.group_points(variable, idx))
    counts = np.stack([np.bincount(idx[b].ravel(), minlength=9) for b in range(2)])
    np.testing.assert_array_equal(tape.gradient(total, variable), np.repeat(counts[..., None], 4, -1))


@pytest.mark.parametrize("xyz_first", [True, False])
def test_sample_and_group_matches_its_parts(rng, xyz_first):
    xyz, features = cube(rng, 2, 30, 3), rng.normal(size=(2, 30, 5)).astype(F32)
    new_xyz, new_points, idx, grouped_xyz = sampling.sample_and_group(xyz, features, 8, 0.4, 6,
                                                                      xyz_first=xyz_first)  # fmt: skip
    fps = fps_reference(xyz, 8)
    np.testing.assert_array_equal(new_xyz, np.take_along_axis(xyz, fps[..., None], 1))
    np.testing.assert_array_equal(idx, ball_query_reference(xyz, new_xyz.numpy(), 0.4, 6)[0])
    rel = np.stack([xyz[b][idx[b]] for b in range(2)]) - new_xyz.numpy()[:, :, None]
    np.testing.assert_array_equal(grouped_xyz, rel)
    grouped = np.stack([features[b][idx[b]] for b in range(2)])
    expected = np.concatenate([rel, grouped] if xyz_first else [grouped, rel], -1)
    assert new_points.shape == (2, 8, 6, 8)
    np.testing.assert_array_equal(new_points, expected)
    np.testing.assert_array_equal(sampling.sample_and_group(xyz, None, 8, 0.4, 6)[1], rel)
    np.testing.assert_array_equal(sampling.sample_and_group(xyz, features, 8, 0.4, 6, use_xyz=False)[1], grouped)


def test_sample_and_group_all(rng):
    xyz, features = cube(rng, 2, 7, 3), rng.normal(size=(2, 7, 4)).astype(F32)
    new_xyz, new_points, idx, grouped_xyz = sampling.sample_and_group_all(xyz, features)
    np.testing.assert_array_equal(new_xyz, np.zeros((2, 1, 3)))
    np.testing.assert_array_equal(idx, np.broadcast_to(np.arange(7), (2, 1, 7)))
    np.testing.assert_array_equal(grouped_xyz, xyz[:, None])
    np.testing.assert_array_equal(new_points, np.concatenate([xyz, features], -1)[:, None])


# ----------------------------------------------------------------- interpolation


def test_three_nn_and_interpolation_equal_the_kernel(rng):
    known = cube(rng, 2, 12, 3)
    known[:, 5] = known[:, 2]  # duplicate known points: equal distances
    known[:, 9] = known[:, 2]
    unknown = np.concatenate([cube(rng, 2, 20, 3), known[:, :4]], axis=1)  # some exactly on known points
    dist, idx = sampling.three_nn(unknown, known)
    ref_dist, ref_idx = three_nn_reference(unknown, known)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    assert idx.numpy()[0, 22].tolist() == [2, 5, 9]  # on a triple point: lower index first
    features = rng.normal(size=(2, 12, 6)).astype(F32)
    weight = sampling.interpolation_weights(dist)
    out = sampling.three_interpolate(features, idx, weight)
    ref_out, ref_weight = interpolate_reference(features, ref_idx, ref_dist)
    np.testing.assert_allclose(weight, ref_weight, rtol=1e-6)
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sum(weight, -1), 1.0, rtol=1e-6)
    # A point on a known point takes (almost exactly) its features: 1 / 1e-10 dominates.
    np.testing.assert_allclose(out[:, 20], features[:, 0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("m", [1, 2])
def test_three_nn_with_fewer_than_three_known_points(rng, m):
    unknown, known = cube(rng, 2, 6, 3), cube(rng, 2, m, 3)
    dist, idx = sampling.three_nn(unknown, known)
    ref_dist, ref_idx = three_nn_reference(unknown, known)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    assert np.isinf(dist.numpy()[..., m:]).all() and (idx.numpy()[..., m:] == 0).all()
    features = rng.normal(size=(2, m, 4)).astype(F32)
    out = sampling.three_interpolate(features, idx, sampling.interpolation_weights(dist)).numpy()
    np.testing.assert_allclose(out, interpolate_reference(features, ref_idx, ref_dist)[0], rtol=1e-5, atol=1e-6)
    if m == 1:  # the part segmentation network's interpolation from its 1-point level: a broadcast
        np.testing.assert_allclose(out, np.broadcast_to(features, out.shape), rtol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 5, 64])
def test_three_nn_chunked_equals_direct(rng, chunk_size):
    unknown, known = cube(rng, 2, 23, 3), cube(rng, 2, 9, 3)
    for a, b in zip(sampling.three_nn(unknown, known), sampling.three_nn(unknown, known, chunk_size=chunk_size)):
        np.testing.assert_array_equal(a, b)


def test_three_interpolate_gradient_reaches_features_only(rng):
    features = tf.Variable(rng.normal(size=(1, 4, 2)).astype(F32))
    idx = np.array([[[0, 1, 1], [3, 0, 2]]], np.int32)
    weight = tf.Variable(np.array([[[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]]], F32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(sampling.three_interpolate(features, idx, weight))
    grad_features, grad_weight = tape.gradient(total, [features, weight])
    np.testing.assert_allclose(grad_features[0, :, 0], [0.5 + 0.3, 0.5, 0.5, 0.2], rtol=1e-6)
    assert grad_weight is None


# ----------------------------------------------------------------- kNN and edge features


@pytest.mark.parametrize("k, width", [(1, 3), (4, 3), (6, 16)])
def test_knn_equals_a_loop_and_includes_the_point_itself(rng, k, width):
    points = rng.normal(size=(3, 30, width)).astype(F32)
    idx = sampling.knn(points, points, k)
    assert idx.dtype == tf.int32 and idx.shape == (3, 30, k)
    np.testing.assert_array_equal(idx, knn_reference(points, points, k))
    np.testing.assert_array_equal(idx.numpy()[..., 0], np.broadcast_to(np.arange(30), (3, 30)))


def test_knn_of_other_queries_and_distances(rng):
    queries, points = rng.normal(size=(2, 11, 5)).astype(F32), rng.normal(size=(2, 17, 5)).astype(F32)
    idx, dist = sampling.knn(queries, points, 4, return_distances=True)
    np.testing.assert_array_equal(idx, knn_reference(queries, points, 4))
    exact = np.stack([np.sum((points[b][idx[b]] - queries[b][:, None]) ** 2, -1) for b in range(2)])
    np.testing.assert_allclose(dist, exact, rtol=1e-4, atol=1e-4)
    assert (np.diff(dist.numpy(), axis=-1) >= 0).all()


def test_knn_ties_go_to_the_lower_index():
    points = np.array([[[0, 0, 0], [1, 0, 0], [0, 0, 0], [-1, 0, 0], [0, 1, 0], [1, 0, 0]]], F32)
    idx = sampling.knn(points, points, 3).numpy()[0]
    np.testing.assert_array_equal(idx[0], [0, 2, 1])  # the duplicate, then four at 1: lowest index
    np.testing.assert_array_equal(idx[2], [0, 2, 1])  # a duplicate of a lower index comes before itself
    np.testing.assert_array_equal(idx[5], [1, 5, 0])


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 30, 64])
def test_knn_chunked_equals_direct_equals_loop(rng, chunk_size):
    points = rng.normal(size=(2, 30, 8)).astype(F32)
    direct = sampling.knn(points, points, 5)
    chunked, dist = sampling.knn(points, points, 5, chunk_size=chunk_size, return_distances=True)
    np.testing.assert_array_equal(chunked, direct)
    np.testing.assert_array_equal(chunked, knn_reference(points, points, 5))
    np.testing.assert_allclose(dist, sampling.knn(points, points, 5, return_distances=True)[1], rtol=1e-5,
                               atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("centre_first", [True, False])
def test_edge_features_orders(rng, centre_first):
    x = rng.normal(size=(2, 6, 3)).astype(F32)
    idx = sampling.knn(x, x, 3).numpy()
    out = sampling.edge_features(x, idx, centre_first=centre_first).numpy()
    centre = np.repeat(x[:, :, None], 3, axis=2)
    diff = np.stack([x[b][idx[b]] for b in range(2)]) - centre
    expected = np.concatenate([centre, diff] if centre_first else [diff, centre], -1)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out[:, :, 0, 3:] if centre_first else out[:, :, 0, :3], 0.0)  # self edge


# ----------------------------------------------------------------- graphs, dynamic sizes, errors


def test_ops_in_a_tf_function_with_unknown_point_count(rng):
    spec = tf.TensorSpec([None, None, 3], tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec([None, None, 4], tf.float32)])
    def pipeline(xyz, features):
        new_xyz, grouped, _, _ = sampling.sample_and_group(xyz, features, 6, 0.5, 4, chunk_size=4)
        dist, idx = sampling.three_nn(xyz, new_xyz, chunk_size=5)
        up = sampling.three_interpolate(tf.reduce_max(grouped, axis=2), idx, sampling.interpolation_weights(dist))
        neighbours = sampling.knn(up, up, 3, chunk_size=7)
        return new_xyz, grouped, up, sampling.edge_features(up, neighbours)

    assert pipeline.get_concrete_function().structured_outputs[1].shape.as_list() == [None, 6, 4, 7]
    for n in (13, 21):
        xyz, features = cube(rng, 2, n, 3), rng.normal(size=(2, n, 4)).astype(F32)
        new_xyz, grouped, up, edges = pipeline(xyz, features)
        eager_xyz, eager_grouped, _, _ = sampling.sample_and_group(xyz, features, 6, 0.5, 4)
        np.testing.assert_array_equal(new_xyz, eager_xyz)
        np.testing.assert_array_equal(grouped, eager_grouped)
        assert up.shape == (2, n, 7) and edges.shape == (2, n, 3, 14)
    assert len(pipeline._list_all_concrete_functions()) == 1  # traced once for both sizes


@pytest.mark.parametrize("call, message", [
    (lambda p: sampling.farthest_point_sample(p, 0), "farthest_point_sample: npoint must be a positive integer, got 0"),
    (lambda p: sampling.farthest_point_sample(p[..., :2], 4), "must have shape (B, N, 3), got shape (1, 8, 2)"),
    (lambda p: sampling.ball_query(p, p, -0.1, 4), "ball_query: radius must be a positive number, got -0.1"),
    (lambda p: sampling.ball_query(p, p, 0.1, 2.5), "ball_query: nsample must be a positive integer, got 2.5"),
    (lambda p: sampling.ball_query(p, p, 0.1, 2, chunk_size=0), "chunk_size must be a positive integer, got 0"),
    (lambda p: sampling.knn(p, p, 9), "knn: k must be at most the number of points 8, got 9"),
    (lambda p: sampling.knn(p[0], p[0], 2), "knn: queries must have shape (B, N, C), got shape (8, 3)"),
])  # fmt: skip
def test_bad_arguments_raise_one_clear_line(call, message):
    with pytest.raises(ValueError) as error:
        call(np.zeros((1, 8, 3), F32))
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize("chunk_size", [None, 5])
def test_ops_convert_to_litert_with_builtin_ops_only(rng, chunk_size):
    @tf.function(input_signature=[tf.TensorSpec([2, 40, 3], tf.float32), tf.TensorSpec([2, 40, 4], tf.float32)])
    def pipeline(xyz, features):
        new_xyz, grouped, _, _ = sampling.sample_and_group(xyz, features, 12, 0.4, 6, chunk_size=chunk_size)
        dist, idx = sampling.three_nn(xyz, new_xyz, chunk_size=chunk_size)
        up = sampling.three_interpolate(tf.reduce_max(grouped, axis=2), idx, sampling.interpolation_weights(dist))
        edges = sampling.edge_features(up, sampling.knn(up, up, 4, chunk_size=chunk_size))
        return new_xyz, tf.reduce_max(edges, axis=2)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([pipeline.get_concrete_function()], pipeline)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no TF (flex) ops, no custom ops
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    xyz, features = cube(rng, 2, 40, 3), rng.normal(size=(2, 40, 4)).astype(F32)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], xyz if detail["shape"][-1] == 3 else features)
    interpreter.invoke()
    outputs = sorted((interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()), key=np.size)
    new_xyz, pooled = pipeline(xyz, features)
    np.testing.assert_array_equal(outputs[0], new_xyz)
    np.testing.assert_allclose(outputs[1], pooled, rtol=1e-5, atol=1e-5)
