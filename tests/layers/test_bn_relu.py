"""BatchNormReLU (issue 19 prototype) against Keras BatchNormalization + ReLU."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.layers.bn_relu import BatchNormReLU


def _pair(channels, jit_compile, seed=0):
    """The prototype and the Keras reference with the same random gamma, beta and moving statistics."""
    rng = np.random.default_rng(seed)
    ours = BatchNormReLU(momentum=0.9, epsilon=1e-3, jit_compile=jit_compile)
    reference = keras.Sequential([keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3), keras.layers.ReLU()])
    ours.build((None, None, channels))
    reference.build((None, None, channels))
    weights = [rng.normal(1.0, 0.3, channels), rng.normal(0.0, 0.5, channels), rng.normal(0.0, 0.2, channels),
               rng.uniform(0.5, 2.0, channels)]  # fmt: skip
    weights = [w.astype("float32") for w in weights]
    ours.set_weights(weights)
    reference.layers[0].set_weights(weights)
    return ours, reference


def _run(layer, x, upstream, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(y * upstream)
    return y, tape.gradient(loss, [x, *layer.trainable_variables])


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_outputs_gradients_and_moving_statistics_match_keras(jit_compile, training):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(0.5, 2.0, (4, 64, 8)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(4, 64, 8)).astype("float32"))
    ours, reference = _pair(8, jit_compile)
    y_ours, g_ours = _run(ours, x, upstream, training)
    y_ref, g_ref = _run(reference, x, upstream, training)
    assert y_ours.shape == (4, 64, 8)
    assert 0 < np.mean(y_ref.numpy() > 0) < 1  # the ReLU masks some values
    np.testing.assert_allclose(y_ours, y_ref, atol=1e-5, rtol=1e-5)
    assert len(g_ours) == len(g_ref) == 3  # input, gamma, beta
    for a, b in zip(g_ours, g_ref):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(ours.non_trainable_weights, reference.layers[0].non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, rtol=1e-6)
    moved = not np.allclose(ours.non_trainable_weights[0].numpy(), _pair(8, False)[0].non_trainable_weights[0].numpy())
    assert moved == training


def test_inside_a_compiled_training_step():
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(2, 32, 4)).astype("float32"))
    ours, reference = _pair(4, False)
    step = tf.function(lambda layer: _run(layer, x, tf.ones_like(x), True))
    for a, b in zip(step(ours)[1], step(reference)[1]):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_config_round_trip_and_bad_arguments():
    layer = BatchNormReLU(jit_compile=True, momentum=0.5, name="b")
    clone = BatchNormReLU.from_config(layer.get_config())
    assert clone.jit_compile is True and clone.momentum == 0.5 and clone.name == "b"
    with pytest.raises(ValueError, match="axis=1"):
        BatchNormReLU(axis=1)
    with pytest.raises(ValueError, match="'yes'"):
        BatchNormReLU(jit_compile="yes")
