""" DGCNN classification network (TF1 reference of tensorflow/models/dgcnn.py).

points -> input transform net on their edge features -> points @ T -> four
EdgeConv layers dgcnn1..dgcnn4 (64, 64, 64, 128; each: kNN in the current
feature space, edge features [x_i, x_j - x_i], 1x1 convolution + batch norm
+ ReLU, max over the neighbours) -> agg (1024) on their concatenation ->
max over the points -> fc1 (512), fc2 (256) with dropout -> fc3 logits.
Batch norm keeps ExponentialMovingAverage shadows (is_dist=False).
"""

import os
import sys

import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.append(BASE_DIR)
sys.path.append(os.path.join(BASE_DIR, '../utils'))
import tf_util
from transform_nets import input_transform_net


def placeholder_inputs(batch_size, num_point):
    pointclouds_pl = tf.placeholder(tf.float32, shape=(batch_size, num_point, 3))
    labels_pl = tf.placeholder(tf.int32, shape=(batch_size))
    return pointclouds_pl, labels_pl


def edge_conv(net, num_outputs, scope, is_training, bn_decay, k):
    """ One EdgeConv layer: B x N x (1 x) C -> B x N x 1 x num_outputs. """
    nn_idx = tf_util.knn(tf_util.pairwise_distance(net), k=k)
    edge_feature = tf_util.get_edge_feature(net, nn_idx=nn_idx, k=k)
    net = tf_util.conv2d(edge_feature, num_outputs, [1, 1],
                         padding='VALID', stride=[1, 1],
                         bn=True, is_training=is_training,
                         scope=scope, bn_decay=bn_decay)
    return tf.reduce_max(net, axis=-2, keep_dims=True)


def get_model(point_cloud, is_training, bn_decay=None, num_classes=40, k=20):
    """ Classification DGCNN.

    Args:
      point_cloud: B x N x 3 tensor
      is_training: boolean tensor
      bn_decay: batch-norm decay
      num_classes: number of output classes
      k: neighbours per point
    Returns:
      B x num_classes logits and an (empty) dict of end points
    """
    batch_size = point_cloud.get_shape()[0].value
    end_points = {}

    nn_idx = tf_util.knn(tf_util.pairwise_distance(point_cloud), k=k)
    edge_feature = tf_util.get_edge_feature(point_cloud, nn_idx=nn_idx, k=k)
    with tf.variable_scope('transform_net1') as sc:
        transform = input_transform_net(edge_feature, is_training, bn_decay, K=3)
    point_cloud_transformed = tf.matmul(point_cloud, transform)

    net1 = edge_conv(point_cloud_transformed, 64, 'dgcnn1', is_training, bn_decay, k)
    net2 = edge_conv(net1, 64, 'dgcnn2', is_training, bn_decay, k)
    net3 = edge_conv(net2, 64, 'dgcnn3', is_training, bn_decay, k)
    net4 = edge_conv(net3, 128, 'dgcnn4', is_training, bn_decay, k)

    net = tf_util.conv2d(tf.concat([net1, net2, net3, net4], axis=-1), 1024, [1, 1],
                         padding='VALID', stride=[1, 1],
                         bn=True, is_training=is_training,
                         scope='agg', bn_decay=bn_decay)
    net = tf.reduce_max(net, axis=1, keep_dims=True)

    net = tf.reshape(net, [batch_size, -1])
    net = tf_util.fully_connected(net, 512, bn=True, is_training=is_training,
                                  scope='fc1', bn_decay=bn_decay)
    net = tf_util.dropout(net, keep_prob=0.5, is_training=is_training,
                          scope='dp1')
    net = tf_util.fully_connected(net, 256, bn=True, is_training=is_training,
                                  scope='fc2', bn_decay=bn_decay)
    net = tf_util.dropout(net, keep_prob=0.5, is_training=is_training,
                          scope='dp2')
    net = tf_util.fully_connected(net, num_classes, activation_fn=None, scope='fc3')
    return net, end_points


def get_loss(pred, label, end_points, label_smoothing=0.2):
    """ Cross-entropy with label smoothing 0.2, as the original.

    Args:
      pred: B x num_classes logits
      label: B integer labels
      end_points: unused (kept for the PointNet signature)
      label_smoothing: weight of the uniform distribution in the targets
    Returns:
      scalar loss
    """
    labels = tf.one_hot(indices=label, depth=pred.get_shape()[-1].value)
    loss = tf.losses.softmax_cross_entropy(onehot_labels=labels, logits=pred,
                                           label_smoothing=label_smoothing)
    return tf.reduce_mean(loss)


if __name__ == '__main__':
    with tf.Graph().as_default():
        inputs = tf.zeros((8, 1024, 3))
        outputs = get_model(inputs, tf.constant(True))
        print(outputs)
