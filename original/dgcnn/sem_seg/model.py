""" DGCNN semantic segmentation network (TF1 reference of tensorflow/sem_seg/model.py; S3DIS).

B x N x 9 blocks -> the first EdgeConv finds each point's neighbours among
the room-normalised coordinates (channels 6 to 8) and builds the edge
features of all 9 channels -> three EdgeConv blocks (adj_conv1 + adj_conv2,
adj_conv3 + adj_conv4, adj_conv5) -> adj_conv7 (1024) -> max over the
points, tiled to every point and concatenated with the blocks' outputs ->
seg/conv1 (512), seg/conv2 (256), dropout -> seg/conv3 logits. No input
transform. Every batch norm keeps pop_mean / pop_var (is_dist=True); the two
segmentation layers get no bn_decay (0.9), as the original.
"""

import os
import sys

import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(BASE_DIR)
sys.path.append(BASE_DIR)
sys.path.append(os.path.join(ROOT_DIR, 'utils'))
import tf_util


def placeholder_inputs(batch_size, num_point):
    pointclouds_pl = tf.placeholder(tf.float32, shape=(batch_size, num_point, 9))
    labels_pl = tf.placeholder(tf.int32, shape=(batch_size, num_point))
    return pointclouds_pl, labels_pl


def _conv(net, num_outputs, scope, is_training, bn_decay, weight_decay=0.0):
    return tf_util.conv2d(net, num_outputs, [1, 1], padding='VALID', stride=[1, 1],
                          bn=True, is_training=is_training, weight_decay=weight_decay,
                          scope=scope, bn_decay=bn_decay, is_dist=True)


def get_model(point_cloud, is_training, bn_decay=None, num_classes=13, k=20):
    """ Semantic segmentation DGCNN.

    Args:
      point_cloud: B x N x 9 tensor
      is_training: boolean tensor
      bn_decay: batch-norm decay
      num_classes: number of semantic classes
      k: neighbours per point
    Returns:
      B x N x num_classes logits
    """
    batch_size = point_cloud.get_shape()[0].value
    num_point = point_cloud.get_shape()[1].value
    # The original reads an undefined global here (upstream issue #62); 0.0 is tf_util's default.
    weight_decay = 0.0

    nn_idx = tf_util.knn(tf_util.pairwise_distance(point_cloud[:, :, 6:]), k=k)
    edge_feature = tf_util.get_edge_feature(point_cloud, nn_idx=nn_idx, k=k)
    net = _conv(edge_feature, 64, 'adj_conv1', is_training, bn_decay, weight_decay)
    net = _conv(net, 64, 'adj_conv2', is_training, bn_decay, weight_decay)
    net_1 = tf.reduce_max(net, axis=-2, keep_dims=True)

    nn_idx = tf_util.knn(tf_util.pairwise_distance(net_1), k=k)
    edge_feature = tf_util.get_edge_feature(net_1, nn_idx=nn_idx, k=k)
    net = _conv(edge_feature, 64, 'adj_conv3', is_training, bn_decay, weight_decay)
    net = _conv(net, 64, 'adj_conv4', is_training, bn_decay, weight_decay)
    net_2 = tf.reduce_max(net, axis=-2, keep_dims=True)

    nn_idx = tf_util.knn(tf_util.pairwise_distance(net_2), k=k)
    edge_feature = tf_util.get_edge_feature(net_2, nn_idx=nn_idx, k=k)
    net = _conv(edge_feature, 64, 'adj_conv5', is_training, bn_decay, weight_decay)
    net_3 = tf.reduce_max(net, axis=-2, keep_dims=True)

    out7 = _conv(tf.concat([net_1, net_2, net_3], axis=-1), 1024, 'adj_conv7', is_training, bn_decay)
    out_max = tf_util.max_pool2d(out7, [num_point, 1], padding='VALID', scope='maxpool')
    expand = tf.tile(out_max, [1, num_point, 1, 1])
    concat = tf.concat(axis=3, values=[expand, net_1, net_2, net_3])

    net = _conv(concat, 512, 'seg/conv1', is_training, None)
    net = _conv(net, 256, 'seg/conv2', is_training, None)
    net = tf_util.dropout(net, keep_prob=0.7, is_training=is_training, scope='dp1')
    net = tf_util.conv2d(net, num_classes, [1, 1], padding='VALID', stride=[1, 1],
                         activation_fn=None, scope='seg/conv3', is_dist=True)
    return tf.squeeze(net, [2])


def get_loss(pred, label):
    """ Mean per-point cross-entropy (pred: B x N x num_classes, label: B x N). """
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=pred, labels=label)
    return tf.reduce_mean(loss)
