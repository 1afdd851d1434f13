""" PointNet++ layers (TF1 reference): set abstraction (single- and multi-scale) and feature propagation.

Scopes and concatenation orders are the original's (utils/pointnet_util.py
of charlesq34/pointnet2): single-scale grouping concatenates
[grouped_xyz, grouped_points], multi-scale [grouped_points, grouped_xyz],
feature propagation [interpolated_points, points1]; convolutions conv0,
conv1, ... (conv{scale}_{j} for MSG, conv_0, conv_1, ... in feature
propagation), each with a 'bn' batch norm.
"""

import os
import sys

import numpy as np
import tensorflow as tf

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(BASE_DIR)
sys.path.append(os.path.join(ROOT_DIR, 'tf_ops'))
import tf_util
from tf_grouping import group_point, query_ball_point
from tf_interpolate import three_interpolate, three_nn
from tf_sampling import farthest_point_sample, gather_point


def sample_and_group(npoint, radius, nsample, xyz, points, use_xyz=True):
    """
    Args:
      npoint: int, centres sampled by farthest point sampling
      radius: float, ball radius
      nsample: int, points per ball
      xyz: B x N x 3
      points: B x N x C features, or None
      use_xyz: concatenate the relative xyz to the features
    Returns:
      new_xyz: B x npoint x 3
      new_points: B x npoint x nsample x (3 + C)
      idx: B x npoint x nsample
      grouped_xyz: B x npoint x nsample x 3, relative to the centres
    """
    new_xyz = gather_point(xyz, farthest_point_sample(npoint, xyz))
    idx, pts_cnt = query_ball_point(radius, nsample, xyz, new_xyz)
    grouped_xyz = group_point(xyz, idx)
    grouped_xyz -= tf.tile(tf.expand_dims(new_xyz, 2), [1, 1, nsample, 1])  # translation normalization
    if points is not None:
        grouped_points = group_point(points, idx)
        if use_xyz:
            new_points = tf.concat([grouped_xyz, grouped_points], axis=-1)
        else:
            new_points = grouped_points
    else:
        new_points = grouped_xyz
    return new_xyz, new_points, idx, grouped_xyz


def sample_and_group_all(xyz, points, use_xyz=True):
    """ One group of every point, centred at the origin.

    Returns:
      new_xyz: B x 1 x 3 zeros
      new_points: B x 1 x N x (3 + C)
      idx: B x 1 x N
      grouped_xyz: B x 1 x N x 3
    """
    batch_size = tf.compat.dimension_value(xyz.get_shape()[0])
    nsample = tf.compat.dimension_value(xyz.get_shape()[1])
    new_xyz = tf.constant(np.zeros((batch_size, 1, 3)), dtype=tf.float32)
    idx = tf.constant(np.tile(np.arange(nsample).reshape((1, 1, nsample)), (batch_size, 1, 1)))
    grouped_xyz = tf.reshape(xyz, (batch_size, 1, nsample, 3))
    if points is not None:
        if use_xyz:
            new_points = tf.concat([xyz, points], axis=2)
        else:
            new_points = points
        new_points = tf.expand_dims(new_points, 1)
    else:
        new_points = grouped_xyz
    return new_xyz, new_points, idx, grouped_xyz


def pointnet_sa_module(xyz, points, npoint, radius, nsample, mlp, group_all, is_training, bn_decay, scope,
                       bn=True, use_xyz=True):
    """ Set abstraction: sample and group, shared MLP (conv0, conv1, ...), max over each group.

    Returns:
      new_xyz: B x npoint x 3 (B x 1 x 3 with group_all)
      new_points: B x npoint x mlp[-1]
      idx: B x npoint x nsample
    """
    with tf.compat.v1.variable_scope(scope):
        if group_all:
            new_xyz, new_points, idx, grouped_xyz = sample_and_group_all(xyz, points, use_xyz)
        else:
            new_xyz, new_points, idx, grouped_xyz = sample_and_group(npoint, radius, nsample, xyz, points,
                                                                     use_xyz)
        for i, num_out_channel in enumerate(mlp):
            new_points = tf_util.conv2d(new_points, num_out_channel, [1, 1], padding='VALID', stride=[1, 1],
                                        bn=bn, is_training=is_training, scope='conv%d' % (i), bn_decay=bn_decay)
        new_points = tf.reduce_max(new_points, axis=[2], keepdims=True, name='maxpool')
        new_points = tf.squeeze(new_points, [2])
        return new_xyz, new_points, idx


def pointnet_sa_module_msg(xyz, points, npoint, radius_list, nsample_list, mlp_list, is_training, bn_decay,
                           scope, bn=True, use_xyz=True):
    """ Multi-scale set abstraction: one sampling, per scale a ball query, an MLP (conv{i}_{j}) and a max.

    Returns:
      new_xyz: B x npoint x 3
      new_points: B x npoint x sum(mlp[-1] for mlp in mlp_list)
    """
    with tf.compat.v1.variable_scope(scope):
        new_xyz = gather_point(xyz, farthest_point_sample(npoint, xyz))
        new_points_list = []
        for i in range(len(radius_list)):
            radius = radius_list[i]
            nsample = nsample_list[i]
            idx, pts_cnt = query_ball_point(radius, nsample, xyz, new_xyz)
            grouped_xyz = group_point(xyz, idx)
            grouped_xyz -= tf.tile(tf.expand_dims(new_xyz, 2), [1, 1, nsample, 1])
            if points is not None:
                grouped_points = group_point(points, idx)
                if use_xyz:
                    grouped_points = tf.concat([grouped_points, grouped_xyz], axis=-1)
            else:
                grouped_points = grouped_xyz
            for j, num_out_channel in enumerate(mlp_list[i]):
                grouped_points = tf_util.conv2d(grouped_points, num_out_channel, [1, 1], padding='VALID',
                                                stride=[1, 1], bn=bn, is_training=is_training,
                                                scope='conv%d_%d' % (i, j), bn_decay=bn_decay)
            new_points = tf.reduce_max(grouped_points, axis=[2])
            new_points_list.append(new_points)
        new_points_concat = tf.concat(new_points_list, axis=-1)
        return new_xyz, new_points_concat


def pointnet_fp_module(xyz1, xyz2, points1, points2, mlp, is_training, bn_decay, scope, bn=True):
    """ Feature propagation: interpolate points2 (at xyz2) at xyz1, concatenate points1, shared MLP.

    Args:
      xyz1: B x N x 3, xyz2: B x M x 3
      points1: B x N x C1 skip features, or None
      points2: B x M x C2
    Returns:
      B x N x mlp[-1]
    """
    with tf.compat.v1.variable_scope(scope):
        dist, idx = three_nn(xyz1, xyz2)
        dist = tf.maximum(dist, 1e-10)
        norm = tf.reduce_sum((1.0 / dist), axis=2, keepdims=True)
        norm = tf.tile(norm, [1, 1, 3])
        weight = (1.0 / dist) / norm
        interpolated_points = three_interpolate(points2, idx, weight)
        if points1 is not None:
            new_points1 = tf.concat(axis=2, values=[interpolated_points, points1])
        else:
            new_points1 = interpolated_points
        new_points1 = tf.expand_dims(new_points1, 2)
        for i, num_out_channel in enumerate(mlp):
            new_points1 = tf_util.conv2d(new_points1, num_out_channel, [1, 1], padding='VALID', stride=[1, 1],
                                         bn=bn, is_training=is_training, scope='conv_%d' % (i),
                                         bn_decay=bn_decay)
        new_points1 = tf.squeeze(new_points1, [2])
        return new_points1
