""" PointNet++ part segmentation, single scale, XYZ + normals (TF1 reference of models/pointnet2_part_seg.py). """

import os
import sys

import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(BASE_DIR)
sys.path.append(os.path.join(ROOT_DIR, 'utils'))
import tf_util
from pointnet_util import pointnet_fp_module, pointnet_sa_module, pointnet_sa_module_msg

DEFAULTS = dict(num_parts=50, npoints=(512, 128), radii=(0.2, 0.4), nsamples=(64, 64),
                mlps=((64, 64, 128), (128, 128, 256)), global_mlp=(256, 512, 1024),
                fp_mlps=((256, 256), (256, 128), (128, 128, 128)), head_widths=(128,))


def placeholder_inputs(batch_size, num_point):
    pointclouds_pl = tf.compat.v1.placeholder(tf.float32, shape=(batch_size, num_point, 6))
    labels_pl = tf.compat.v1.placeholder(tf.int32, shape=(batch_size, num_point))
    return pointclouds_pl, labels_pl


def get_model(point_cloud, is_training, bn_decay=None, **config):
    """ Part segmentation PointNet++ (SSG): B x N x 6 (XYZ, normals) -> B x N x num_parts logits. """
    config = dict(DEFAULTS, **config)
    end_points = {}
    l0_xyz = tf.slice(point_cloud, [0, 0, 0], [-1, -1, 3])
    l0_points = tf.slice(point_cloud, [0, 0, 3], [-1, -1, 3])
    levels = [(l0_xyz, l0_points)]
    for i, (npoint, radius, nsample, mlp) in enumerate(zip(config['npoints'], config['radii'],
                                                           config['nsamples'], config['mlps'])):
        l_xyz, l_points, _ = pointnet_sa_module(levels[-1][0], levels[-1][1], npoint=npoint, radius=radius,
                                                nsample=nsample, mlp=mlp, group_all=False, is_training=is_training,
                                                bn_decay=bn_decay, scope='layer%d' % (i + 1))
        levels.append((l_xyz, l_points))
    l_xyz, l_points, _ = pointnet_sa_module(levels[-1][0], levels[-1][1], npoint=None, radius=None, nsample=None,
                                            mlp=config['global_mlp'], group_all=True, is_training=is_training,
                                            bn_decay=bn_decay, scope='layer%d' % len(levels))
    levels.append((l_xyz, l_points))
    # Feature propagation, top down: fa_layer1, fa_layer2, ...; the last takes [XYZ, normals] as skip features.
    points = levels[-1][1]
    for k, mlp in enumerate(config['fp_mlps']):
        lower_xyz, lower_points = levels[-2 - k]
        if k == len(config['fp_mlps']) - 1:
            lower_points = tf.concat([l0_xyz, l0_points], axis=-1)
        points = pointnet_fp_module(lower_xyz, levels[-1 - k][0], lower_points, points, mlp, is_training,
                                    bn_decay, scope='fa_layer%d' % (k + 1))
    net = _head(points, is_training, bn_decay, config['head_widths'], config['num_parts'])
    return net, end_points


def _head(net, is_training, bn_decay, widths, num_out):
    """ Per-point fc1 (conv1d + bn), dp1, ..., then the logits conv1d. """
    for i, width in enumerate(widths):
        net = tf_util.conv1d(net, width, 1, padding='VALID', bn=True, is_training=is_training,
                             scope='fc%d' % (i + 1), bn_decay=bn_decay)
        net = tf_util.dropout(net, keep_prob=0.5, is_training=is_training, scope='dp%d' % (i + 1))
    return tf_util.conv1d(net, num_out, 1, padding='VALID', activation_fn=None,
                          scope='fc%d' % (len(widths) + 1))


def get_loss(pred, label):
    """ pred: B x N x num_classes, label: B x N """
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label, logits=pred)
    return tf.reduce_mean(loss)

