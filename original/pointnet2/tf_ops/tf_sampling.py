""" Farthest point sampling and gathering in plain TF1 graph ops.

The original compiles these as custom CUDA ops (tf_sampling_so.so); here
they are ordinary ops with the kernels' semantics:

- farthest_point_sample: the first index is 0; a running minimum of squared
  distances to the chosen points starts at 1e38; each step takes the point
  with the largest running minimum (on a tie the lowest index: the CUDA
  kernel's order for N <= 512). A tf.while_loop over the npoint steps.
- gather_point: out[b, m] = inp[b, idx[b, m]].
"""

import tensorflow as tf

INIT_DISTANCE = 1e38


def _squared_distances_to(points, index):
    """(B, N, 3), (B,) -> (B, N): dx*dx + dy*dy + dz*dz to point `index` of each cloud."""
    last = tf.compat.v1.gather(points, tf.expand_dims(index, 1), batch_dims=1)  # (B, 1, 3)
    d = points - last
    dx, dy, dz = d[:, :, 0], d[:, :, 1], d[:, :, 2]
    return dx * dx + dy * dy + dz * dz


def farthest_point_sample(npoint, inp):
    """
    Args:
      npoint: int, points to sample
      inp: B x N x 3 float32 coordinates (static shape)
    Returns:
      B x npoint int32 indices
    """
    batch_size = tf.compat.dimension_value(inp.get_shape()[0])
    num_point = tf.compat.dimension_value(inp.get_shape()[1])
    first = tf.zeros([batch_size], tf.int32)
    running = tf.fill([batch_size, num_point], INIT_DISTANCE)
    chosen = tf.TensorArray(tf.int32, size=npoint).write(0, first)

    def body(j, last, running, chosen):
        running = tf.minimum(running, _squared_distances_to(inp, last))
        last = tf.cast(tf.argmax(running, axis=1), tf.int32)  # the first maximum
        return j + 1, last, running, chosen.write(j, last)

    _, _, _, chosen = tf.compat.v1.while_loop(lambda j, *_: j < npoint, body,
                                              (tf.constant(1), first, running, chosen))
    idx = tf.transpose(chosen.stack(), [1, 0])
    idx.set_shape([batch_size, npoint])
    return tf.stop_gradient(idx)


def gather_point(inp, idx):
    """
    Args:
      inp: B x N x C values
      idx: B x M int32 indices
    Returns:
      B x M x C
    """
    return tf.compat.v1.gather(inp, idx, batch_dims=1)
