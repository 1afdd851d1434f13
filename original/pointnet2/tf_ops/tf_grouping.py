""" Ball query and grouping in plain TF1 graph ops (the original's tf_grouping_so.so).

- query_ball_point: for each centre of xyz2, the first nsample points of xyz1
  in index order whose distance max(sqrt(d2), 1e-20) is below radius
  (strict); the slots after the last hit repeat the first hit;
  pts_cnt = min(hits, nsample). A centre without any hit gets index 0 (the
  kernel leaves that case unwritten; set abstraction centres always find
  themselves).
- group_point: out[b, m, s] = points[b, idx[b, m, s]].
"""

import tensorflow as tf

MIN_DISTANCE = 1e-20


def query_ball_point(radius, nsample, xyz1, xyz2):
    """
    Args:
      radius: float, ball radius
      nsample: int, slots per ball
      xyz1: B x N x 3 points searched
      xyz2: B x M x 3 ball centres
    Returns:
      idx: B x M x nsample int32 indices into N
      pts_cnt: B x M int32 number of hits (at most nsample)
    """
    num_point = tf.compat.dimension_value(xyz1.get_shape()[1])
    d = tf.expand_dims(xyz1, 1) - tf.expand_dims(xyz2, 2)  # B x M x N x 3
    d2 = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
    hit = tf.maximum(tf.sqrt(d2), MIN_DISTANCE) < radius
    index = tf.range(num_point, dtype=tf.int32)
    candidates = tf.where(hit, tf.broadcast_to(index, tf.shape(hit)),
                          tf.fill(tf.shape(hit), num_point))
    slots = min(nsample, num_point)
    # The smallest candidates in ascending order: the first hits, then N (none).
    first = -tf.nn.top_k(-candidates, k=slots, sorted=True).values
    if slots < nsample:
        first = tf.concat([first, tf.fill(tf.concat([tf.shape(first)[:2], [nsample - slots]], 0), num_point)], 2)
    idx = tf.where(first < num_point, first, tf.tile(first[:, :, :1], [1, 1, nsample]))
    idx = tf.where(idx < num_point, idx, tf.zeros_like(idx))
    pts_cnt = tf.minimum(tf.reduce_sum(tf.cast(hit, tf.int32), axis=2), nsample)
    return tf.stop_gradient(idx), tf.stop_gradient(pts_cnt)


def group_point(points, idx):
    """
    Args:
      points: B x N x C values
      idx: B x M x S int32 indices
    Returns:
      B x M x S x C
    """
    return tf.compat.v1.gather(points, idx, batch_dims=1)
