import keras
import numpy as np
import pytest

from pointnet_tf2.layers import ApplyTransform
from pointnet_tf2.layers import BroadcastToPoints
from pointnet_tf2.layers import transform_net


def small_tnet(k, channels, **kwargs):
    inputs = keras.Input((None, channels))
    transform = transform_net(inputs, k, conv_widths=(8, 16), fc_widths=(8,), **kwargs)
    return keras.Model(inputs, transform)


@pytest.mark.parametrize("k, channels", [(3, 3), (8, 8)])
def test_identity_before_training(k, channels, rng):
    model = small_tnet(k, channels)
    points = rng.normal(size=(4, 50, channels)).astype("float32")
    for training in (False, True):
        out = np.asarray(model(points, training=training))
        assert out.shape == (4, k, k)
        np.testing.assert_array_equal(out, np.broadcast_to(np.eye(k), (4, k, k)))


def test_layer_names_follow_the_original_scopes():
    model = small_tnet(3, 3, name="transform_net1", output_name="transform_XYZ")
    names = {layer.name for layer in model.layers}
    assert {"transform_net1_tconv1", "transform_net1_tconv1_bn", "transform_net1_tconv2",
            "transform_net1_tfc1", "transform_net1_transform_XYZ"} <= names
    final = model.get_layer("transform_net1_transform_XYZ")
    np.testing.assert_array_equal(final.kernel.numpy(), 0.0)
    np.testing.assert_array_equal(final.bias.numpy(), np.eye(3).ravel())


def test_apply_transform_multiplies_row_vectors(rng):
    points = rng.normal(size=(2, 5, 3)).astype("float32")
    transform = rng.normal(size=(2, 3, 3)).astype("float32")
    out = np.asarray(ApplyTransform()([points, transform]))
    expected = np.stack([points[b] @ transform[b] for b in range(2)])
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_apply_transform_passes_extra_channels_through(rng):
    points = rng.normal(size=(2, 5, 6)).astype("float32")
    transform = rng.normal(size=(2, 3, 3)).astype("float32")
    out = np.asarray(ApplyTransform()([points, transform]))
    np.testing.assert_allclose(out[..., :3], np.einsum("bnk,bkj->bnj", points[..., :3], transform), rtol=1e-5)
    np.testing.assert_array_equal(out[..., 3:], points[..., 3:])


def test_broadcast_to_points_with_variable_point_count(rng):
    vector = keras.Input((4,))
    points = keras.Input((None, 3))
    model = keras.Model([vector, points], BroadcastToPoints()([vector, points]))
    v = rng.normal(size=(2, 4)).astype("float32")
    for n in (7, 11):
        out = np.asarray(model([v, np.zeros((2, n, 3), "float32")]))
        assert out.shape == (2, n, 4)
        np.testing.assert_array_equal(out, np.repeat(v[:, None], n, axis=1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be a positive integer, got 0"),
        ({"k": 3, "conv_widths": (64, -1)}, r"conv_widths must be positive integers, got \(64, -1\)"),
        ({"k": 3, "fc_widths": (0,)}, r"fc_widths must be positive integers, got \(0,\)"),
        ({"k": 2.5}, "k must be a positive integer, got 2.5"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        transform_net(keras.Input((None, 3)), **kwargs)
