""" Layer helpers for the TF1 PointNet++ reference (graph mode, tf.compat.v1).

Every layer opens a variable scope named after the layer and creates its
variables with tf.compat.v1.get_variable, so that checkpoint names read
<scope>/weights, <scope>/biases and, for batch norm, the
tf.contrib.layers.batch_norm names <scope>/bn/beta, <scope>/bn/gamma,
<scope>/bn/moving_mean and <scope>/bn/moving_variance (PointNet++ stores its
moving statistics in plain variables, not in ExponentialMovingAverage
shadows as PointNet does).

Kernels: conv2d [k_h, k_w, C_in, C_out], conv1d [k, C_in, C_out],
fully_connected [C_in, C_out]. Only NHWC is built here (the original's NCHW
path runs the same 1x1 convolutions).
"""

import tensorflow as tf

BN_EPSILON = 1e-3  # tf.contrib.layers.batch_norm's default


def _variable_on_cpu(name, shape, initializer, trainable=True):
    """Creates (or reuses) a float32 variable pinned to the CPU."""
    with tf.device('/cpu:0'):
        return tf.compat.v1.get_variable(name, shape, initializer=initializer, dtype=tf.float32,
                                         trainable=trainable)


def _weights(shape, use_xavier=True, stddev=1e-3):
    """The layer's 'weights': Xavier uniform (tf.contrib's xavier_initializer) or a truncated normal."""
    if use_xavier:
        initializer = tf.compat.v1.glorot_uniform_initializer()
    else:
        initializer = tf.compat.v1.truncated_normal_initializer(stddev=stddev)
    return _variable_on_cpu('weights', shape, initializer)


def batch_norm(inputs, is_training, scope, bn_decay):
    """Batch norm with tf.contrib.layers.batch_norm's variables and update rule.

    As the original calls it (center and scale on, updates_collections=None):
    in training the batch moments normalise and the moving statistics are
    updated in place (`moving -= (1 - decay) * (moving - batch)`) before the
    output is returned; at inference the moving statistics normalise. This
    reference updates the moving variance with the batch's plain (biased)
    variance; contrib's fused kernel may apply Bessel's correction there,
    which changes the trained statistics, not how a checkpoint maps.

    Args:
      inputs: tensor, channels last
      is_training: boolean tensor
      scope: variable scope ('bn' in every layer)
      bn_decay: decay of the moving statistics (float or tensor); None: 0.9
    Returns:
      the normalised tensor
    """
    decay = bn_decay if bn_decay is not None else 0.9
    channels = tf.compat.dimension_value(inputs.get_shape()[-1])
    axes = list(range(inputs.get_shape().ndims - 1))
    with tf.compat.v1.variable_scope(scope):
        beta = _variable_on_cpu('beta', [channels], tf.compat.v1.zeros_initializer())
        gamma = _variable_on_cpu('gamma', [channels], tf.compat.v1.ones_initializer())
        moving_mean = _variable_on_cpu('moving_mean', [channels], tf.compat.v1.zeros_initializer(),
                                       trainable=False)
        moving_variance = _variable_on_cpu('moving_variance', [channels], tf.compat.v1.ones_initializer(),
                                           trainable=False)

        def train():
            mean, variance = tf.nn.moments(inputs, axes)
            update_mean = tf.compat.v1.assign_sub(moving_mean, (1.0 - decay) * (moving_mean - mean))
            update_var = tf.compat.v1.assign_sub(moving_variance,
                                                 (1.0 - decay) * (moving_variance - variance))
            with tf.control_dependencies([update_mean, update_var]):
                return tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, BN_EPSILON)

        def infer():
            return tf.nn.batch_normalization(inputs, moving_mean, moving_variance, beta, gamma, BN_EPSILON)

        return tf.compat.v1.cond(is_training, train, infer)


def conv2d(inputs, num_output_channels, kernel_size, scope, stride=[1, 1], padding='SAME', use_xavier=True,
           stddev=1e-3, activation_fn=tf.nn.relu, bn=False, bn_decay=None, is_training=None):
    """2-D convolution + bias [+ batch norm] [+ activation] on B x H x W x C."""
    with tf.compat.v1.variable_scope(scope):
        num_in_channels = tf.compat.dimension_value(inputs.get_shape()[-1])
        kernel = _weights([kernel_size[0], kernel_size[1], num_in_channels, num_output_channels],
                          use_xavier, stddev)
        outputs = tf.nn.conv2d(inputs, kernel, [1, stride[0], stride[1], 1], padding=padding)
        biases = _variable_on_cpu('biases', [num_output_channels], tf.compat.v1.constant_initializer(0.0))
        outputs = tf.nn.bias_add(outputs, biases)
        if bn:
            outputs = batch_norm(outputs, is_training, 'bn', bn_decay)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def conv1d(inputs, num_output_channels, kernel_size, scope, stride=1, padding='SAME', use_xavier=True,
           stddev=1e-3, activation_fn=tf.nn.relu, bn=False, bn_decay=None, is_training=None):
    """1-D convolution + bias [+ batch norm] [+ activation] on B x L x C."""
    with tf.compat.v1.variable_scope(scope):
        num_in_channels = tf.compat.dimension_value(inputs.get_shape()[-1])
        kernel = _weights([kernel_size, num_in_channels, num_output_channels], use_xavier, stddev)
        outputs = tf.nn.conv1d(inputs, kernel, stride=stride, padding=padding)
        biases = _variable_on_cpu('biases', [num_output_channels], tf.compat.v1.constant_initializer(0.0))
        outputs = tf.nn.bias_add(outputs, biases)
        if bn:
            outputs = batch_norm(outputs, is_training, 'bn', bn_decay)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def fully_connected(inputs, num_outputs, scope, use_xavier=True, stddev=1e-3, activation_fn=tf.nn.relu,
                    bn=False, bn_decay=None, is_training=None):
    """Fully connected layer + bias [+ batch norm] [+ activation] on B x C."""
    with tf.compat.v1.variable_scope(scope):
        num_input_units = tf.compat.dimension_value(inputs.get_shape()[-1])
        weights = _weights([num_input_units, num_outputs], use_xavier, stddev)
        outputs = tf.matmul(inputs, weights)
        biases = _variable_on_cpu('biases', [num_outputs], tf.compat.v1.constant_initializer(0.0))
        outputs = tf.nn.bias_add(outputs, biases)
        if bn:
            outputs = batch_norm(outputs, is_training, 'bn', bn_decay)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def dropout(inputs, is_training, scope, keep_prob=0.5):
    """Dropout in training (keep probability keep_prob), identity at inference."""
    with tf.compat.v1.variable_scope(scope):
        return tf.compat.v1.cond(is_training, lambda: tf.compat.v1.nn.dropout(inputs, rate=1.0 - keep_prob),
                                 lambda: inputs)
