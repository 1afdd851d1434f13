""" PointNet++ classification, multi-scale grouping (TF1 reference of models/pointnet2_cls_msg.py).

The intended network: every convolution runs over the channels. The
original passes use_nchw=True to its first level without giving the
convolutions a data format (upstream issue #68); this reference builds the
use_nchw=False network, whose checkpoints map onto pointnet2_cls_msg.
"""

import os
import sys

import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(BASE_DIR)
sys.path.append(os.path.join(ROOT_DIR, 'utils'))
import tf_util
from pointnet_util import pointnet_fp_module, pointnet_sa_module, pointnet_sa_module_msg

DEFAULTS = dict(num_classes=40, npoints=(512, 128), radii=((0.1, 0.2, 0.4), (0.2, 0.4, 0.8)),
                nsamples=((16, 32, 128), (32, 64, 128)),
                mlps=(((32, 32, 64), (64, 64, 128), (64, 96, 128)),
                      ((64, 64, 128), (128, 128, 256), (128, 128, 256))),
                global_mlp=(256, 512, 1024), head_widths=(512, 256))


def placeholder_inputs(batch_size, num_point):
    pointclouds_pl = tf.compat.v1.placeholder(tf.float32, shape=(batch_size, num_point, 3))
    labels_pl = tf.compat.v1.placeholder(tf.int32, shape=(batch_size))
    return pointclouds_pl, labels_pl


def get_model(point_cloud, is_training, bn_decay=None, **config):
    """ Classification PointNet++ (MSG), input B x N x 3, output B x num_classes logits. """
    config = dict(DEFAULTS, **config)
    end_points = {}
    l_xyz, l_points = point_cloud, None
    for i, (npoint, radii, nsamples, mlps) in enumerate(zip(config['npoints'], config['radii'],
                                                            config['nsamples'], config['mlps'])):
        l_xyz, l_points = pointnet_sa_module_msg(l_xyz, l_points, npoint, radii, nsamples, mlps, is_training,
                                                 bn_decay, scope='layer%d' % (i + 1))
    net = _classify(l_xyz, l_points, is_training, bn_decay, config, keep_prob=0.4)
    return net, end_points


def _classify(l_xyz, l_points, is_training, bn_decay, config, keep_prob):
    """ The group-all level, then fc1, dp1, fc2, dp2 (head_widths) and the logits. """
    level = len(config['npoints']) + 1
    l_xyz, l_points, _ = pointnet_sa_module(l_xyz, l_points, npoint=None, radius=None, nsample=None,
                                            mlp=config['global_mlp'], group_all=True, is_training=is_training,
                                            bn_decay=bn_decay, scope='layer%d' % level)
    batch_size = tf.compat.dimension_value(l_points.get_shape()[0])
    net = tf.reshape(l_points, [batch_size, -1])
    for i, width in enumerate(config['head_widths']):
        net = tf_util.fully_connected(net, width, bn=True, is_training=is_training, scope='fc%d' % (i + 1),
                                      bn_decay=bn_decay)
        net = tf_util.dropout(net, keep_prob=keep_prob, is_training=is_training, scope='dp%d' % (i + 1))
    return tf_util.fully_connected(net, config['num_classes'], activation_fn=None,
                                   scope='fc%d' % (len(config['head_widths']) + 1))


def get_loss(pred, label, end_points=None):
    """ pred: B x num_classes, label: B """
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label, logits=pred)
    return tf.reduce_mean(loss)

