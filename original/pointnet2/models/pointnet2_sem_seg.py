""" PointNet++ semantic segmentation (TF1 reference of models/pointnet2_sem_seg.py, the ScanNet network). """

import os
import sys

import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(BASE_DIR)
sys.path.append(os.path.join(ROOT_DIR, 'utils'))
import tf_util
from pointnet_util import pointnet_fp_module, pointnet_sa_module, pointnet_sa_module_msg

DEFAULTS = dict(num_classes=13, npoints=(1024, 256, 64, 16), radii=(0.1, 0.2, 0.4, 0.8), nsamples=(32, 32, 32, 32),
                mlps=((32, 32, 64), (64, 64, 128), (128, 128, 256), (256, 256, 512)),
                fp_mlps=((256, 256), (256, 256), (256, 128), (128, 128, 128)), head_widths=(128,))


def placeholder_inputs(batch_size, num_point):
    pointclouds_pl = tf.compat.v1.placeholder(tf.float32, shape=(batch_size, num_point, 3))
    labels_pl = tf.compat.v1.placeholder(tf.int32, shape=(batch_size, num_point))
    return pointclouds_pl, labels_pl


def get_model(point_cloud, is_training, num_class=None, bn_decay=None, **config):
    """ Semantic segmentation PointNet++: B x N x 3 -> B x N x num_classes logits. """
    config = dict(DEFAULTS, **config)
    if num_class is not None:
        config['num_classes'] = num_class
    end_points = {}
    levels = [(point_cloud, None)]
    for i, (npoint, radius, nsample, mlp) in enumerate(zip(config['npoints'], config['radii'],
                                                           config['nsamples'], config['mlps'])):
        l_xyz, l_points, _ = pointnet_sa_module(levels[-1][0], levels[-1][1], npoint=npoint, radius=radius,
                                                nsample=nsample, mlp=mlp, group_all=False, is_training=is_training,
                                                bn_decay=bn_decay, scope='layer%d' % (i + 1))
        levels.append((l_xyz, l_points))
    points = levels[-1][1]
    for k, mlp in enumerate(config['fp_mlps']):
        lower_xyz, lower_points = levels[-2 - k]
        points = pointnet_fp_module(lower_xyz, levels[-1 - k][0], lower_points, points, mlp, is_training,
                                    bn_decay, scope='fa_layer%d' % (k + 1))
    net = _head(points, is_training, bn_decay, config['head_widths'], config['num_classes'])
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

