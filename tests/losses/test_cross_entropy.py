import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy


def reference_ce(labels, logits):
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]


def test_equals_tf_sparse_softmax_cross_entropy(rng):
    logits = rng.normal(size=(6, 5)).astype("float32")
    labels = rng.integers(0, 5, 6)
    expected = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    np.testing.assert_allclose(float(SparseCrossEntropy(5)(labels, logits)), float(expected), rtol=1e-6)


def test_per_point_labels(rng):
    logits = rng.normal(size=(2, 7, 3)).astype("float32")
    labels = rng.integers(0, 3, (2, 7))
    np.testing.assert_allclose(float(SparseCrossEntropy(3)(labels, logits)), reference_ce(labels, logits).mean(), rtol=1e-5)


def test_label_smoothing(rng):
    logits = rng.normal(size=(4, 3)).astype("float32")
    labels = np.array([0, 1, 2, 1])
    smoothing = 0.3
    target = np.full((4, 3), smoothing / 3) + (1 - smoothing) * np.eye(3)[labels]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -(target * log_probs).sum(-1).mean()
    np.testing.assert_allclose(float(SparseCrossEntropy(3, label_smoothing=smoothing)(labels, logits)), expected, rtol=1e-5)


def test_class_weights_give_a_weighted_mean(rng):
    logits = rng.normal(size=(5, 3)).astype("float32")
    labels = np.array([0, 0, 1, 2, 2])
    weights = np.array([1.0, 2.0, 0.5])
    per_sample = reference_ce(labels, logits)
    expected = (per_sample * weights[labels]).sum() / weights[labels].sum()
    loss = SparseCrossEntropy(3, class_weights=weights)
    np.testing.assert_allclose(float(loss(labels, logits)), expected, rtol=1e-5)
    uniform = SparseCrossEntropy(3, class_weights=[2.0, 2.0, 2.0])
    np.testing.assert_allclose(float(uniform(labels, logits)), per_sample.mean(), rtol=1e-5)


def test_serialization_round_trip():
    loss = SparseCrossEntropy(4, label_smoothing=0.1, class_weights=[1, 2, 3, 4])
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.get_config() == loss.get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\), got 1.0"),
    ({"class_weights": [1.0, 2.0]}, "class_weights must be 3 non-negative numbers, got 2"),
    ({"class_weights": [1.0, -1.0, 1.0]}, "class_weights must be 3 non-negative numbers"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparseCrossEntropy(3, **kwargs)
