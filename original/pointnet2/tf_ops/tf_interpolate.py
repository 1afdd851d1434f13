""" Three-nearest-neighbour interpolation in plain TF1 graph ops (the original's tf_interpolate_so.so).

- three_nn: for each point of xyz1, the squared distances and indices of its
  three nearest points of xyz2, nearest first (equal distances: lower index
  first, as the kernel's strict `<` insertion); with fewer than 3 points in
  xyz2 the missing neighbours have distance inf (the kernel's 1e40 start
  in float32) and index 0.
- three_interpolate: out[b, n] = sum_k weight[b, n, k] * points[b, idx[b, n, k]].
"""

import tensorflow as tf


def three_nn(xyz1, xyz2):
    """
    Args:
      xyz1: B x N x 3 points to interpolate at
      xyz2: B x M x 3 points with features
    Returns:
      dist: B x N x 3 squared distances
      idx: B x N x 3 int32 indices into M
    """
    num_known = tf.compat.dimension_value(xyz2.get_shape()[1])
    d = tf.expand_dims(xyz2, 1) - tf.expand_dims(xyz1, 2)  # B x N x M x 3
    d2 = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
    k = min(3, num_known)
    negative, idx = tf.nn.top_k(-d2, k=k, sorted=True)
    dist = -negative
    if k < 3:
        pad = [[0, 0], [0, 0], [0, 3 - k]]
        dist = tf.pad(dist, pad, constant_values=float('inf'))
        idx = tf.pad(idx, pad)
    return tf.stop_gradient(dist), tf.stop_gradient(idx)


def three_interpolate(points, idx, weight):
    """
    Args:
      points: B x M x C features
      idx: B x N x 3 int32 indices into M
      weight: B x N x 3 weights
    Returns:
      B x N x C
    """
    neighbours = tf.compat.v1.gather(points, idx, batch_dims=1)  # B x N x 3 x C
    return tf.reduce_sum(neighbours * tf.expand_dims(weight, -1), axis=2)
