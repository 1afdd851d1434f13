"""Tests for pointnet_tf2.rotations: SO(3) uniformity, protocol augmentations and table."""

import numpy as np
import pytest

from pointnet_tf2 import rotations
from pointnet_tf2.data.augment import RotateSO3
from pointnet_tf2.data.augment import random_rotation_matrices


def _ks_statistic(samples, cdf):
    samples = np.sort(samples)
    n = len(samples)
    values = cdf(samples)
    return max(np.max(np.arange(1, n + 1) / n - values), np.max(values - np.arange(n) / n))


def _euler_rotations(count, rng):
    """Z-X-Z rotations with uniform Euler angles: NOT uniform over SO(3), the test must reject them."""
    from pointnet_tf2.data.augment import up_rotation_matrices

    a, b, c = rng.uniform(0, 2 * np.pi, size=(3, count))
    return up_rotation_matrices(a, 2) @ up_rotation_matrices(b, 0) @ up_rotation_matrices(c, 2)


def test_so3_sampler_is_uniform():
    n = 20000
    matrices = random_rotation_matrices(n, np.random.default_rng(0))
    np.testing.assert_allclose(matrices @ np.swapaxes(matrices, 1, 2), np.broadcast_to(np.eye(3), (n, 3, 3)), atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-10)
    # Haar measure: E[R] = 0, and the rotation angle has CDF (t - sin t) / pi
    assert np.abs(matrices.mean(axis=0)).max() < 0.02
    critical = 1.63 / np.sqrt(n)  # Kolmogorov-Smirnov at the 1% level
    assert _ks_statistic(rotations.rotation_angles(matrices), rotations.haar_angle_cdf) < critical
    # the statistic has power: uniform Euler angles are rejected
    euler = _euler_rotations(n, np.random.default_rng(1))
    assert _ks_statistic(rotations.rotation_angles(euler), rotations.haar_angle_cdf) > critical


def test_rotate_so3_moves_every_cloud_rigidly():
    points = np.random.default_rng(2).normal(size=(5, 20, 3)).astype(np.float32)
    rotated, _ = RotateSO3(seed=0)(points)
    np.testing.assert_allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(points, axis=-1), rtol=1e-5)
    assert not np.allclose(rotated, points)


def test_rotation_augmentations():
    from pointnet_tf2.data.augment import Jitter
    from pointnet_tf2.data.augment import RotateUp

    assert rotations.rotation_augmentation("none") is None
    z = rotations.rotation_augmentation("z", up_axis=2, seed=0)
    assert isinstance(z, RotateUp) and z.axis == 2
    assert isinstance(rotations.rotation_augmentation("so3"), RotateSO3)
    train = rotations.train_augmentation("so3", seed=0)
    assert [type(step) for step in train.augmentations] == [RotateSO3, Jitter]
    assert [type(step) for step in rotations.train_augmentation("none").augmentations] == [Jitter]
    assert [type(step) for step in rotations.train_augmentation("z").augmentations] == [RotateUp, Jitter]
    with pytest.raises(ValueError, match="--train_rotation must be one of none, z, so3, got 'x'"):
        rotations.train_augmentation("x")


def test_rotation_protocol_table_on_a_tiny_model(tmp_path):
    from pointnet_tf2.data import open_dataset
    from pointnet_tf2.data.synthetic import generate_synthetic
    from pointnet_tf2.models import get_model

    root = generate_synthetic("cls", tmp_path / "data", seed=0, num_train=8, num_test=16, num_points=32)
    description = open_dataset(root, task="cls")
    model = get_model("pointnet_cls_basic", num_classes=description.num_classes, num_points=32, mlp=(8, 8),
                      head_widths=(8,))
    rows = rotations.rotation_protocol_table({"z": model}, description, batch_size=8)
    assert [row["protocol"] for row in rows] == ["z/z", "z/SO3", "SO3/SO3"]
    for row in rows[:2]:
        assert 0.0 <= row["overall_accuracy"] <= 1.0 and 0.0 <= row["mean_class_accuracy"] <= 1.0
    assert "overall_accuracy" not in rows[2]
    text = rotations.format_protocol_table(rows)
    assert text.splitlines()[0].split() == ["protocol", "overall_accuracy", "mean_class_accuracy"]
    assert text.splitlines()[3].split() == ["SO3/SO3", "n/a", "n/a"]


def test_test_rotation_changes_what_the_model_sees(tmp_path):
    from pointnet_tf2.data import open_dataset
    from pointnet_tf2.evaluation import predict_split

    class Spy:
        builder_config = {}

        def __init__(self):
            self.seen = []

        def __call__(self, points, training=False):
            self.seen.append(np.asarray(points))
            return np.zeros((len(points), 2), np.float32)

    from pointnet_tf2.data.synthetic import generate_synthetic

    description = open_dataset(generate_synthetic("cls", tmp_path, seed=0, num_train=4, num_test=6, num_points=16),
                               task="cls")
    plain, turned = Spy(), Spy()
    predict_split(plain, description, batch_size=6)
    predict_split(turned, description, batch_size=6, rotation="so3", seed=3)
    a, b = plain.seen[0], turned.seen[0]
    np.testing.assert_allclose(np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1), rtol=1e-5)
    assert not np.allclose(a, b)
