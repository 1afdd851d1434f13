import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.layers import OrthogonalRegularizer


def rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype="float32")


def test_hand_computed_values():
    # A = [[1, 1], [0, 1]]: A A^T - I = [[1, 1], [1, 0]] -> 3.  A = 2I (2x2): 3I -> 18.
    a = np.array([[[1.0, 1.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]], dtype="float32")
    reg = OrthogonalRegularizer(weight=1.0)
    np.testing.assert_allclose(reg.per_sample_penalty(a), [3.0, 18.0])
    np.testing.assert_allclose(reg(a), 21.0)
    np.testing.assert_allclose(OrthogonalRegularizer(weight=0.5)(a), 10.5)


def test_zero_for_orthogonal_matrices():
    batch = np.stack([rotation(t) for t in (0.0, 0.3, 2.0)] + [np.diag([1.0, -1.0, 1.0]).astype("float32")])
    np.testing.assert_allclose(OrthogonalRegularizer(1.0)(batch), 0.0, atol=1e-5)


def test_batch_penalty_is_sum_of_sample_penalties_without_cross_terms(rng):
    batch = rng.normal(size=(5, 4, 4)).astype("float32")
    reg = OrthogonalRegularizer(1.0)
    one_by_one = sum(float(reg(batch[i : i + 1])) for i in range(5))
    naive = sum(np.sum((m @ m.T - np.eye(4)) ** 2) for m in batch.astype("float64"))
    np.testing.assert_allclose(reg(batch), one_by_one, rtol=1e-5)
    np.testing.assert_allclose(reg(batch), naive, rtol=1e-5)
    # The public example's tensordot over a batch mixes samples: a different value.
    mixed = np.tensordot(batch, batch, axes=(2, 2))
    assert not np.isclose(float(reg(batch)), float(np.sum((mixed - np.eye(4)[None, :, None, :]) ** 2)))


def test_flattened_input_equals_matrix_input(rng):
    batch = rng.normal(size=(3, 3, 3)).astype("float32")
    reg = OrthogonalRegularizer(0.2)
    np.testing.assert_allclose(reg(batch.reshape(3, 9)), reg(batch), rtol=1e-6)


def test_original_scale_matches_tf1_l2_loss_after_keras_batch_division(rng):
    batch_size = 8
    batch = rng.normal(size=(batch_size, 4, 4)).astype("float32")
    original = 0.001 * tf.nn.l2_loss(batch @ np.transpose(batch, (0, 2, 1)) - np.eye(4, dtype="float32"))
    reg = OrthogonalRegularizer.original_scale(batch_size=batch_size)
    assert reg.weight == pytest.approx(0.0005 * batch_size)
    # Keras divides an activity regulariser's value by the batch size.
    np.testing.assert_allclose(float(reg(batch)) / batch_size, float(original), rtol=1e-5)


def test_keras_adds_the_per_sample_mean_as_activity_loss(rng):
    batch = rng.normal(size=(4, 9)).astype("float32")
    inputs = keras.Input((9,))
    outputs = keras.layers.Identity(activity_regularizer=OrthogonalRegularizer(0.001))(inputs)
    model = keras.Model(inputs, outputs)
    model(batch)
    expected = 0.001 * np.mean(OrthogonalRegularizer(1.0).per_sample_penalty(batch))
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)


def test_float32_under_mixed_precision(mixed_precision, rng):
    batch = tf.constant(rng.normal(size=(2, 3, 3)), dtype="float16")
    assert OrthogonalRegularizer()(batch).dtype == tf.float32


def test_serialization_round_trip():
    reg = OrthogonalRegularizer(0.016)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reg))
    assert isinstance(restored, OrthogonalRegularizer) and restored.weight == 0.016


@pytest.mark.parametrize("weight", [-0.1, float("nan"), "heavy"])
def test_bad_weight(weight):
    with pytest.raises(ValueError, match="weight"):
        OrthogonalRegularizer(weight)


def test_non_square_input():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        OrthogonalRegularizer()(np.zeros((2, 3, 4), "float32"))
