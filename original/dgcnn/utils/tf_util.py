""" Layer helpers and graph ops for the TF1 DGCNN reference (graph mode).

The PointNet helpers of ../../utils/tf_util.py (conv2d, fully_connected,
max_pool2d, dropout, batch norm with ExponentialMovingAverage shadows), plus
what the DGCNN networks add:

- `is_dist=True` batch norm: the moving statistics are plain variables
  <scope>/bn/pop_mean and <scope>/bn/pop_var (initialised at 0 and 1),
  updated as pop = pop * decay + batch * (1 - decay) on training steps;
  beta and gamma are created with tf.get_variable (the part and semantic
  segmentation networks use it, the classifier does not);
- the dynamic graph: pairwise_distance (|x_i|^2 - 2 x_i.x_j + |x_j|^2),
  knn (the k smallest by tf.nn.top_k of the negative distances, so the
  point itself normally comes first and ties go to the lower index) and
  get_edge_feature ([x_i, x_j - x_i] for every neighbour j of i).

Written in the TensorFlow 1.x API on purpose (see ../../README.md); no custom op.
"""

import numpy as np
import tensorflow as tf


def _variable_on_cpu(name, shape, initializer, use_fp16=False, trainable=True):
    """Creates (or reuses) a variable pinned to the CPU.

    Args:
      name: variable name inside the current variable scope
      shape: list of ints
      initializer: an initializer for the variable
      use_fp16: create a float16 variable instead of float32
      trainable: whether the optimizer updates it
    Returns:
      the variable
    """
    with tf.device('/cpu:0'):
        dtype = tf.float16 if use_fp16 else tf.float32
        var = tf.get_variable(name, shape, initializer=initializer, dtype=dtype,
                              trainable=trainable)
    return var


def _variable_with_weight_decay(name, shape, stddev, wd, use_xavier=True):
    """Creates a weight variable, optionally registering an L2 weight decay.

    Args:
      name: variable name
      shape: list of ints
      stddev: standard deviation of the truncated normal (when not xavier)
      wd: weight decay factor; None adds nothing to the 'losses' collection
      use_xavier: use the Glorot/Xavier uniform initializer
    Returns:
      the variable
    """
    if use_xavier:
        initializer = tf.contrib.layers.xavier_initializer()
    else:
        initializer = tf.truncated_normal_initializer(stddev=stddev)
    var = _variable_on_cpu(name, shape, initializer)
    if wd is not None:
        decay = tf.multiply(tf.nn.l2_loss(var), wd, name='weight_loss')
        tf.add_to_collection('losses', decay)
    return var


def conv2d(inputs,
           num_output_channels,
           kernel_size,
           scope,
           stride=[1, 1],
           padding='SAME',
           use_xavier=True,
           stddev=1e-3,
           weight_decay=0.0,
           activation_fn=tf.nn.relu,
           bn=False,
           bn_decay=None,
           is_training=None,
           is_dist=False):
    """2-D convolution + bias [+ batch norm] [+ activation].

    Args:
      inputs: 4-D tensor B x H x W x C
      num_output_channels: int
      kernel_size: [kernel_h, kernel_w]
      scope: variable scope of the layer
      stride: [stride_h, stride_w]
      padding: 'SAME' or 'VALID'
      use_xavier, stddev, weight_decay: weight initialisation / decay
      activation_fn: function applied last, or None
      bn: apply batch norm after the bias
      bn_decay: decay of the batch-norm moving averages (float or tensor)
      is_training: boolean tensor, selects batch vs moving statistics
      is_dist: batch norm with pop_mean / pop_var variables instead of EMA shadows
    Returns:
      4-D tensor
    """
    with tf.variable_scope(scope) as sc:
        kernel_h, kernel_w = kernel_size
        num_in_channels = inputs.get_shape()[-1].value
        kernel = _variable_with_weight_decay(
            'weights',
            shape=[kernel_h, kernel_w, num_in_channels, num_output_channels],
            use_xavier=use_xavier,
            stddev=stddev,
            wd=weight_decay)
        stride_h, stride_w = stride
        outputs = tf.nn.conv2d(inputs, kernel,
                               [1, stride_h, stride_w, 1],
                               padding=padding)
        biases = _variable_on_cpu('biases', [num_output_channels],
                                  tf.constant_initializer(0.0))
        outputs = tf.nn.bias_add(outputs, biases)

        if bn:
            outputs = batch_norm_for_conv2d(outputs, is_training,
                                            bn_decay=bn_decay, scope='bn', is_dist=is_dist)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def fully_connected(inputs,
                    num_outputs,
                    scope,
                    use_xavier=True,
                    stddev=1e-3,
                    weight_decay=0.0,
                    activation_fn=tf.nn.relu,
                    bn=False,
                    bn_decay=None,
                    is_training=None,
                    is_dist=False):
    """Matmul + bias [+ batch norm] [+ activation].

    Args:
      inputs: 2-D tensor B x C
      num_outputs: int
      scope: variable scope of the layer
      (the other arguments as in conv2d)
    Returns:
      2-D tensor B x num_outputs
    """
    with tf.variable_scope(scope) as sc:
        num_input_units = inputs.get_shape()[-1].value
        weights = _variable_with_weight_decay('weights',
                                              shape=[num_input_units, num_outputs],
                                              use_xavier=use_xavier,
                                              stddev=stddev,
                                              wd=weight_decay)
        outputs = tf.matmul(inputs, weights)
        biases = _variable_on_cpu('biases', [num_outputs],
                                  tf.constant_initializer(0.0))
        outputs = tf.nn.bias_add(outputs, biases)

        if bn:
            outputs = batch_norm_for_fc(outputs, is_training, bn_decay, 'bn', is_dist=is_dist)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def max_pool2d(inputs,
               kernel_size,
               scope,
               stride=[2, 2],
               padding='VALID'):
    """2-D max pooling (PointNet pools over all points with [num_point, 1]).

    Args:
      inputs: 4-D tensor B x H x W x C
      kernel_size: [kernel_h, kernel_w]
      scope: name scope
      stride: [stride_h, stride_w]
      padding: 'SAME' or 'VALID'
    Returns:
      4-D tensor
    """
    with tf.variable_scope(scope) as sc:
        kernel_h, kernel_w = kernel_size
        stride_h, stride_w = stride
        outputs = tf.nn.max_pool(inputs,
                                 ksize=[1, kernel_h, kernel_w, 1],
                                 strides=[1, stride_h, stride_w, 1],
                                 padding=padding,
                                 name=sc.name)
        return outputs


def batch_norm_template(inputs, is_training, scope, moments_dims, bn_decay):
    """Batch normalisation whose moving statistics are EMA shadows.

    While training, the batch statistics normalise the input and the
    ExponentialMovingAverage of the batch mean/variance is updated; at test
    time the averages are used instead.

    Args:
      inputs: tensor, 4-D for conv and 2-D for fc outputs
      is_training: boolean tensor
      scope: variable scope ('bn')
      moments_dims: axes the statistics are computed over
      bn_decay: decay of the moving averages (float or tensor); None -> 0.9
    Returns:
      the normalised tensor
    """
    with tf.variable_scope(scope) as sc:
        num_channels = inputs.get_shape()[-1].value
        beta = tf.Variable(tf.constant(0.0, shape=[num_channels]),
                           name='beta', trainable=True)
        gamma = tf.Variable(tf.constant(1.0, shape=[num_channels]),
                            name='gamma', trainable=True)
        batch_mean, batch_var = tf.nn.moments(inputs, moments_dims, name='moments')
        decay = bn_decay if bn_decay is not None else 0.9
        ema = tf.train.ExponentialMovingAverage(decay=decay)
        # The averages are only updated on training steps.
        ema_apply_op = tf.cond(is_training,
                               lambda: ema.apply([batch_mean, batch_var]),
                               lambda: tf.no_op())

        def mean_var_with_update():
            with tf.control_dependencies([ema_apply_op]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        mean, var = tf.cond(is_training,
                            mean_var_with_update,
                            lambda: (ema.average(batch_mean), ema.average(batch_var)))
        normed = tf.nn.batch_normalization(inputs, mean, var, beta, gamma, 1e-3)
    return normed


def batch_norm_dist_template(inputs, is_training, scope, moments_dims, bn_decay):
    """Batch normalisation whose moving statistics are plain variables.

    The statistics live in <scope>/pop_mean (starts at 0) and <scope>/pop_var
    (starts at 1), which a training step moves towards the batch statistics:
    pop = pop * decay + batch * (1 - decay). At test time they normalise the
    input. Every variable is made with tf.get_variable, so towers that share
    variables share these too.

    Args:
      inputs: tensor, 4-D for conv and 2-D for fc outputs
      is_training: boolean tensor
      scope: variable scope ('bn')
      moments_dims: axes the statistics are computed over
      bn_decay: decay of the moving statistics (float or tensor); None -> 0.9
    Returns:
      the normalised tensor
    """
    with tf.variable_scope(scope) as sc:
        num_channels = inputs.get_shape()[-1].value
        beta = _variable_on_cpu('beta', [num_channels], tf.zeros_initializer())
        gamma = _variable_on_cpu('gamma', [num_channels], tf.ones_initializer())
        pop_mean = _variable_on_cpu('pop_mean', [num_channels], tf.zeros_initializer(),
                                    trainable=False)
        pop_var = _variable_on_cpu('pop_var', [num_channels], tf.ones_initializer(),
                                   trainable=False)
        decay = bn_decay if bn_decay is not None else 0.9

        def training():
            batch_mean, batch_var = tf.nn.moments(inputs, moments_dims, name='moments')
            update_mean = tf.assign(pop_mean, pop_mean * decay + batch_mean * (1 - decay))
            update_var = tf.assign(pop_var, pop_var * decay + batch_var * (1 - decay))
            with tf.control_dependencies([update_mean, update_var]):
                return tf.nn.batch_normalization(inputs, batch_mean, batch_var, beta, gamma, 1e-3)

        def inference():
            return tf.nn.batch_normalization(inputs, pop_mean, pop_var, beta, gamma, 1e-3)

        return tf.cond(is_training, training, inference)


def batch_norm_for_fc(inputs, is_training, bn_decay, scope, is_dist=False):
    """Batch norm for B x C inputs (statistics over the batch)."""
    if is_dist:
        return batch_norm_dist_template(inputs, is_training, scope, [0, ], bn_decay)
    return batch_norm_template(inputs, is_training, scope, [0, ], bn_decay)


def batch_norm_for_conv2d(inputs, is_training, bn_decay, scope, is_dist=False):
    """Batch norm for B x H x W x C inputs (statistics over B, H and W)."""
    if is_dist:
        return batch_norm_dist_template(inputs, is_training, scope, [0, 1, 2], bn_decay)
    return batch_norm_template(inputs, is_training, scope, [0, 1, 2], bn_decay)


def dropout(inputs,
            is_training,
            scope,
            keep_prob=0.5,
            noise_shape=None):
    """Dropout while training, identity otherwise.

    Args:
      inputs: tensor
      is_training: boolean tensor
      scope: name scope
      keep_prob: probability of keeping a unit
      noise_shape: optional shape of the random keep mask
    Returns:
      tensor of the input's shape
    """
    with tf.variable_scope(scope) as sc:
        outputs = tf.cond(is_training,
                          lambda: tf.nn.dropout(inputs, keep_prob, noise_shape),
                          lambda: inputs)
        return outputs


def _points(point_cloud):
    """B x N x C points from a B x N x C or B x N x 1 x C tensor."""
    if point_cloud.get_shape().ndims == 4:
        point_cloud = tf.squeeze(point_cloud, axis=[2])
    return point_cloud


def pairwise_distance(point_cloud):
    """Squared distances between all points of each cloud.

    Args:
      point_cloud: B x N x C (or B x N x 1 x C) tensor
    Returns:
      B x N x N tensor: |x_i|^2 + (-2 x_i.x_j) + |x_j|^2, added in that order
    """
    point_cloud = _points(point_cloud)
    inner = -2 * tf.matmul(point_cloud, tf.transpose(point_cloud, perm=[0, 2, 1]))
    square = tf.reduce_sum(tf.square(point_cloud), axis=-1, keep_dims=True)
    return square + inner + tf.transpose(square, perm=[0, 2, 1])


def knn(adj_matrix, k=20):
    """Indices of the k nearest points (smallest distances first).

    Args:
      adj_matrix: B x N x N distances from pairwise_distance
      k: number of neighbours
    Returns:
      B x N x k int32 indices
    """
    _, nn_idx = tf.nn.top_k(-adj_matrix, k=k)
    return nn_idx


def get_edge_feature(point_cloud, nn_idx, k=20):
    """Edge features [x_i, x_j - x_i] of each point i and its neighbours j.

    Args:
      point_cloud: B x N x C (or B x N x 1 x C) tensor
      nn_idx: B x N x k indices from knn
      k: number of neighbours
    Returns:
      B x N x k x 2C tensor
    """
    point_cloud = _points(point_cloud)
    batch_size = point_cloud.get_shape()[0].value
    num_points = point_cloud.get_shape()[1].value
    num_dims = point_cloud.get_shape()[2].value

    # Neighbour j of cloud b is row b * N + j of the flattened clouds.
    offsets = tf.reshape(tf.range(batch_size) * num_points, [batch_size, 1, 1])
    flat = tf.reshape(point_cloud, [-1, num_dims])
    neighbours = tf.gather(flat, nn_idx + offsets)
    central = tf.tile(tf.expand_dims(point_cloud, axis=-2), [1, 1, k, 1])
    return tf.concat([central, neighbours - central], axis=-1)
