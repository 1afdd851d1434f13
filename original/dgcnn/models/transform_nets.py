""" Input transform net of the TF1 DGCNN reference: edge features -> 3 x K matrix.

Like PointNet's input T-Net, but it reads the edge features of the points
(B x N x k x 6): two convolutions on every edge, the max over the k
neighbours, a convolution to 1024, the max over the points, two fully
connected layers and a last layer that starts at zero; the flattened
identity is added to its output as a constant, so the stored 'biases'
variable does not contain it.
"""

import os
import sys

import numpy as np
import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.append(BASE_DIR)
sys.path.append(os.path.join(BASE_DIR, '../utils'))
import tf_util


def input_transform_net(edge_feature, is_training, bn_decay=None, K=3, is_dist=False):
    """ Input (XYZ) transform net on edge features.

    Args:
      edge_feature: B x N x k x 6 tensor from tf_util.get_edge_feature
      is_training: boolean tensor
      bn_decay: batch-norm decay
      K: size of the matrix (3 for XYZ)
      is_dist: batch norm with pop_mean / pop_var (the segmentation networks)
    Returns:
      B x 3 x K transformation matrix
    """
    batch_size = edge_feature.get_shape()[0].value
    num_point = edge_feature.get_shape()[1].value

    net = tf_util.conv2d(edge_feature, 64, [1, 1],
                         padding='VALID', stride=[1, 1],
                         bn=True, is_training=is_training,
                         scope='tconv1', bn_decay=bn_decay, is_dist=is_dist)
    net = tf_util.conv2d(net, 128, [1, 1],
                         padding='VALID', stride=[1, 1],
                         bn=True, is_training=is_training,
                         scope='tconv2', bn_decay=bn_decay, is_dist=is_dist)
    # Max over the neighbours, then per point.
    net = tf.reduce_max(net, axis=-2, keep_dims=True)
    net = tf_util.conv2d(net, 1024, [1, 1],
                         padding='VALID', stride=[1, 1],
                         bn=True, is_training=is_training,
                         scope='tconv3', bn_decay=bn_decay, is_dist=is_dist)
    net = tf_util.max_pool2d(net, [num_point, 1],
                             padding='VALID', scope='tmaxpool')

    net = tf.reshape(net, [batch_size, -1])
    net = tf_util.fully_connected(net, 512, bn=True, is_training=is_training,
                                  scope='tfc1', bn_decay=bn_decay, is_dist=is_dist)
    net = tf_util.fully_connected(net, 256, bn=True, is_training=is_training,
                                  scope='tfc2', bn_decay=bn_decay, is_dist=is_dist)

    with tf.variable_scope('transform_XYZ') as sc:
        with tf.device('/cpu:0'):
            weights = tf.get_variable('weights', [256, K * K],
                                      initializer=tf.constant_initializer(0.0),
                                      dtype=tf.float32)
            biases = tf.get_variable('biases', [K * K],
                                     initializer=tf.constant_initializer(0.0),
                                     dtype=tf.float32)
        biases += tf.constant(np.eye(K).flatten(), dtype=tf.float32)
        transform = tf.matmul(net, weights)
        transform = tf.nn.bias_add(transform, biases)

    transform = tf.reshape(transform, [batch_size, K, K])
    return transform
