""" DGCNN part segmentation network (TF1 reference of part_seg/part_seg_model.py).

points -> input transform net (is_dist) -> points @ T -> three EdgeConv
blocks (adj_conv1 + adj_conv2, adj_conv3 + adj_conv4, adj_conv5; max over
the neighbours after each block) -> adj_conv7 (1024) on their concatenation
-> max over the points; the one-hot category -> one_hot_label_expand (64);
both tiled to every point and concatenated with the three blocks' outputs ->
seg/conv1 (256), dropout, seg/conv2 (256), dropout, seg/conv3 (128) ->
seg/conv4 part logits. Every batch norm keeps pop_mean / pop_var
(is_dist=True), as the official checkpoints; the sixth convolution of the
original is commented out there, hence adj_conv7.
"""

import os
import sys

import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.append(BASE_DIR)
sys.path.append(os.path.join(BASE_DIR, '../utils'))
sys.path.append(os.path.join(BASE_DIR, '../models'))
import tf_util
from transform_nets import input_transform_net


def placeholder_inputs(batch_size, num_point, cat_num=16):
    """ Points, one-hot category and per-point part labels (train_multi_gpu.py's placeholders). """
    pointclouds_ph = tf.placeholder(tf.float32, shape=(batch_size, num_point, 3))
    input_label_ph = tf.placeholder(tf.float32, shape=(batch_size, cat_num))
    seg_ph = tf.placeholder(tf.int32, shape=(batch_size, num_point))
    return pointclouds_ph, input_label_ph, seg_ph


def _conv(net, num_outputs, scope, is_training, bn_decay, weight_decay=0.0):
    return tf_util.conv2d(net, num_outputs, [1, 1], padding='VALID', stride=[1, 1],
                          bn=True, is_training=is_training, weight_decay=weight_decay,
                          scope=scope, bn_decay=bn_decay, is_dist=True)


def _edges(net, k):
    nn_idx = tf_util.knn(tf_util.pairwise_distance(net), k=k)
    return tf_util.get_edge_feature(net, nn_idx=nn_idx, k=k)


def get_model(point_cloud, input_label, is_training, cat_num, part_num,
              batch_size, num_point, weight_decay, bn_decay=None, k=20):
    """ Part segmentation DGCNN.

    Args:
      point_cloud: B x N x 3 tensor
      input_label: B x cat_num one-hot object categories
      is_training: boolean tensor
      cat_num: number of object categories
      part_num: number of part labels
      batch_size, num_point: unused (read from point_cloud), kept for the original signature
      weight_decay: L2 weight decay of the EdgeConv and segmentation convolutions
      bn_decay: batch-norm decay
      k: neighbours per point
    Returns:
      B x N x part_num logits
    """
    batch_size = point_cloud.get_shape()[0].value
    num_point = point_cloud.get_shape()[1].value

    with tf.variable_scope('transform_net1') as sc:
        transform = input_transform_net(_edges(point_cloud, k), is_training, bn_decay,
                                        K=3, is_dist=True)
    point_cloud_transformed = tf.matmul(point_cloud, transform)

    net = _conv(_edges(point_cloud_transformed, k), 64, 'adj_conv1', is_training, bn_decay, weight_decay)
    net = _conv(net, 64, 'adj_conv2', is_training, bn_decay, weight_decay)
    net_1 = tf.reduce_max(net, axis=-2, keep_dims=True)

    net = _conv(_edges(net_1, k), 64, 'adj_conv3', is_training, bn_decay, weight_decay)
    net = _conv(net, 64, 'adj_conv4', is_training, bn_decay, weight_decay)
    net_2 = tf.reduce_max(net, axis=-2, keep_dims=True)

    net = _conv(_edges(net_2, k), 64, 'adj_conv5', is_training, bn_decay, weight_decay)
    net_3 = tf.reduce_max(net, axis=-2, keep_dims=True)

    # No weight decay on the aggregation and category layers, as the original.
    out7 = _conv(tf.concat([net_1, net_2, net_3], axis=-1), 1024, 'adj_conv7', is_training, bn_decay)
    out_max = tf_util.max_pool2d(out7, [num_point, 1], padding='VALID', scope='maxpool')

    one_hot_label_expand = tf.reshape(input_label, [batch_size, 1, 1, cat_num])
    one_hot_label_expand = _conv(one_hot_label_expand, 64, 'one_hot_label_expand', is_training, bn_decay)
    out_max = tf.concat(axis=3, values=[out_max, one_hot_label_expand])
    expand = tf.tile(out_max, [1, num_point, 1, 1])
    concat = tf.concat(axis=3, values=[expand, net_1, net_2, net_3])

    net2 = _conv(concat, 256, 'seg/conv1', is_training, bn_decay, weight_decay)
    net2 = tf_util.dropout(net2, keep_prob=0.6, is_training=is_training, scope='seg/dp1')
    net2 = _conv(net2, 256, 'seg/conv2', is_training, bn_decay, weight_decay)
    net2 = tf_util.dropout(net2, keep_prob=0.6, is_training=is_training, scope='seg/dp2')
    net2 = _conv(net2, 128, 'seg/conv3', is_training, bn_decay, weight_decay)
    net2 = tf_util.conv2d(net2, part_num, [1, 1], padding='VALID', stride=[1, 1],
                          activation_fn=None, bn=False, scope='seg/conv4',
                          weight_decay=weight_decay, is_dist=True)
    return tf.reshape(net2, [batch_size, num_point, part_num])


def get_loss(seg_pred, seg):
    """ Mean per-point cross-entropy.

    Returns:
      (loss, per-cloud loss B, per-point arg max B x N)
    """
    per_instance_seg_loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(logits=seg_pred, labels=seg), axis=1)
    seg_loss = tf.reduce_mean(per_instance_seg_loss)
    per_instance_seg_pred_res = tf.argmax(seg_pred, 2)
    return seg_loss, per_instance_seg_loss, per_instance_seg_pred_res
