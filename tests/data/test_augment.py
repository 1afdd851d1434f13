"""Tests for pointnet_tf2.data.augment."""

import pickle

import numpy as np
import pytest

from pointnet_tf2.data import augment as A


def _batch(batch=4, points=50, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, points, channels)).astype(np.float32)


def _labelled(batch=4, points=50, seed=0):
    """4-channel clouds whose channel 3 holds the per-point label (never moved by augmentations)."""
    rng = np.random.default_rng(seed)
    points_ = rng.uniform(-1, 1, (batch, points, 4)).astype(np.float32)
    labels = rng.integers(0, 7, (batch, points))
    points_[..., 3] = labels
    return points_, labels


ALL = [
    A.RotateUp(seed=1),
    A.RotateSO3(seed=1),
    A.RotatePerturbation(seed=1),
    A.Jitter(seed=1),
    A.Scale(seed=1),
    A.Translate(seed=1),
    A.Shear(seed=1),
    A.PointDropout(seed=1),
    A.ShufflePoints(seed=1),
    A.Compose([A.ShufflePoints(seed=2), A.PointDropout(seed=3), A.RotateUp(seed=4), A.Jitter(seed=5)]),
    A.default_train_augmentation(7),
]


@pytest.mark.parametrize("augmentation", ALL, ids=lambda a: type(a).__name__)
def test_labels_stay_aligned_with_their_points(augmentation):
    points, labels = _labelled()
    out, out_labels = augmentation(points, labels, rng=np.random.default_rng(0))
    assert out.shape == points.shape and out.dtype == np.float32
    assert out_labels.shape == labels.shape
    np.testing.assert_array_equal(out[..., 3], out_labels)
    # the input is never modified in place
    np.testing.assert_array_equal(points[..., 3], labels)


@pytest.mark.parametrize("augmentation", ALL, ids=lambda a: type(a).__name__)
def test_same_rng_same_result_and_per_cloud_labels_pass_through(augmentation):
    points = _batch()
    cloud_labels = np.arange(4)
    a, la = augmentation(points, cloud_labels, rng=np.random.default_rng(5))
    b, lb = augmentation(points, cloud_labels, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, cloud_labels)


def test_own_seed_is_reproducible_and_pickles():
    points = _batch()
    first = A.Jitter(seed=3)(points)[0]
    second = A.Jitter(seed=3)(points)[0]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, A.Jitter(seed=4)(points)[0])
    restored = pickle.loads(pickle.dumps(A.default_train_augmentation(3)))
    np.testing.assert_array_equal(restored(points)[0], A.default_train_augmentation(3)(points)[0])


@pytest.mark.parametrize("augmentation", [A.RotateUp(seed=0), A.RotateSO3(seed=0)], ids=["up", "so3"])
def test_rotations_keep_norms_and_pairwise_distances(augmentation):
    points = _batch().astype(np.float64)
    out, _ = augmentation(points)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(points, axis=-1), atol=1e-6)
    np.testing.assert_allclose(
        np.linalg.norm(out[:, 0] - out[:, 1], axis=-1), np.linalg.norm(points[:, 0] - points[:, 1], axis=-1), atol=1e-6
    )
    assert not np.allclose(out, points)


def test_rotate_up_keeps_the_up_coordinate_and_matches_the_original_matrix():
    points = _batch()
    angle = 0.7
    out = A.rotate_up(points, angle)
    np.testing.assert_allclose(out[..., 1], points[..., 1], atol=1e-6)
    c, s = np.cos(angle), np.sin(angle)
    original = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # the original's rotate_point_cloud_by_angle
    np.testing.assert_allclose(out, points @ original, atol=1e-5)
    # voting: a full turn in num_votes steps comes back
    turned = points
    for _ in range(12):
        turned = A.rotate_up(turned, 2 * np.pi / 12)
    np.testing.assert_allclose(turned, points, atol=1e-4)
    # z-up data (S3DIS) keeps z
    np.testing.assert_allclose(A.rotate_up(points, angle, axis=2)[..., 2], points[..., 2], atol=1e-6)
    # a single cloud and one angle per cloud
    assert A.rotate_up(points[0], angle).shape == points[0].shape
    per_cloud = A.rotate_up(points, np.arange(4) * 0.5)
    np.testing.assert_allclose(per_cloud[2], A.rotate_up(points[2], 1.0), atol=1e-6)


def test_so3_matrices_are_rotations_and_cover_all_directions():
    matrices = A.random_rotation_matrices(2000, np.random.default_rng(0))
    np.testing.assert_allclose(matrices @ np.transpose(matrices, (0, 2, 1)), np.broadcast_to(np.eye(3), matrices.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-9)
    # uniform over SO(3): the image of a fixed axis is uniform on the sphere (mean near 0)
    assert np.all(np.abs((np.array([0.0, 0.0, 1.0]) @ matrices).mean(axis=0)) < 0.06)


def test_jitter_is_clipped_and_only_moves_xyz():
    points = _batch(channels=9)
    out, _ = A.Jitter(sigma=1.0, clip=0.05, seed=0)(points)
    delta = out - points
    assert np.abs(delta[..., :3]).max() <= 0.05 + 1e-6
    assert np.abs(delta[..., :3]).max() > 0.04
    np.testing.assert_array_equal(delta[..., 3:], 0)


def test_normals_rotate_with_the_points():
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(3, 20, 3))
    normals = rng.normal(size=(3, 20, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    points = np.concatenate([xyz, normals], axis=-1)
    for augmentation in (A.RotateUp(seed=0), A.RotateSO3(seed=0), A.RotatePerturbation(seed=0), A.Scale(seed=0),
                         A.Shear(seed=0)):
        out, _ = augmentation(points)
        np.testing.assert_allclose(np.linalg.norm(out[..., 3:], axis=-1), 1.0, atol=1e-6)
        # a plane through the origin with this normal stays such a plane: x . n == 0 is preserved
        on_plane = xyz - (xyz * normals).sum(-1, keepdims=True) * normals
        moved, _ = augmentation(np.concatenate([on_plane, normals], axis=-1), rng=np.random.default_rng(1))
        np.testing.assert_allclose((moved[..., :3] * moved[..., 3:]).sum(-1), 0.0, atol=1e-6)
    # normals=False leaves channels 3-5 alone
    out, _ = A.RotateUp(normals=False, seed=0)(points)
    np.testing.assert_array_equal(out[..., 3:], points[..., 3:])


def test_s3dis_like_nine_channels_only_xyz_moves():
    points = _batch(channels=9)
    for augmentation in ALL[:6]:
        out, _ = augmentation(points)
        np.testing.assert_array_equal(out[..., 3:], points[..., 3:])


def test_scale_translate_shear_ranges():
    points = _batch()
    scaled, _ = A.Scale(0.5, 0.5, seed=0)(points)
    np.testing.assert_allclose(scaled, points * 0.5, atol=1e-6)
    moved, _ = A.Translate(0.3, seed=0)(points)
    shift = moved - points
    assert np.abs(shift).max() <= 0.3 + 1e-6
    np.testing.assert_allclose(shift, np.broadcast_to(shift[:, :1], shift.shape), atol=1e-6)  # one shift per cloud
    sheared, _ = A.Shear(0.0, seed=0)(points)
    np.testing.assert_allclose(sheared, points, atol=1e-6)


def test_point_dropout_and_shuffle_keep_the_set_of_points():
    points, labels = _labelled()
    shuffled, _ = A.ShufflePoints(seed=0)(points, labels)
    np.testing.assert_array_equal(np.sort(shuffled[..., 0], axis=1), np.sort(points[..., 0], axis=1))
    assert not np.array_equal(shuffled, points)
    dropped, _ = A.PointDropout(0.5, seed=0)(points, labels)
    changed = (dropped != points).any(-1)
    assert changed.any()
    np.testing.assert_array_equal(dropped[changed], np.broadcast_to(points[:, :1], points.shape)[changed])


def test_default_augmentation_per_task():
    assert [type(a) for a in A.default_train_augmentation(0).augmentations] == [A.RotateUp, A.Jitter]
    assert len(A.default_train_augmentation(0, task="sem_seg")) == 0
    assert len(A.default_train_augmentation(0, task="part_seg")) == 0
    assert A.default_train_augmentation(0, up_axis=2).augmentations[0].axis == 2


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: A.Jitter(sigma=-1), "sigma"),
        (lambda: A.Jitter(clip=0), "clip"),
        (lambda: A.Scale(2.0, 1.0), "low"),
        (lambda: A.Shear(0.7), "amount"),
        (lambda: A.PointDropout(1.0), "max_ratio"),
        (lambda: A.RotateUp(axis=3), "axis"),
        (lambda: A.RotatePerturbation(sigma=-0.1), "sigma"),
        (lambda: A.RotatePerturbation(clip=0), "clip"),
        (lambda: A.augmentation_from_steps([("Flip", {})]), "unknown augmentation 'Flip'"),
        (lambda: A.augmentation_from_steps([("Jitter", {"amount": 1})]), "Jitter"),
        (lambda: A.augmentation_from_steps(["Jitter"]), r"\(name, kwargs\)"),
        (lambda: A.RotateUp(normals="yes"), "normals"),
        (lambda: A.Jitter(seed=-1), "seed"),
        (lambda: A.default_train_augmentation(0, task="detect"), "task"),
        (lambda: A.Jitter()(np.zeros((2, 5, 2))), r"\(B, N, C\)"),
        (lambda: A.Jitter()(np.zeros((2, 5, 3)), np.zeros((3, 5))), "labels"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def _reference_rotate_perturbation(batch, normals, angles):
    """charlesq34/pointnet2 utils/provider.py rotate_perturbation_point_cloud(_with_normal), one cloud at a time,
    with the angles given instead of drawn."""
    out = np.zeros_like(batch)
    for k in range(batch.shape[0]):
        a = angles[k]
        rx = np.array([[1, 0, 0], [0, np.cos(a[0]), -np.sin(a[0])], [0, np.sin(a[0]), np.cos(a[0])]])
        ry = np.array([[np.cos(a[1]), 0, np.sin(a[1])], [0, 1, 0], [-np.sin(a[1]), 0, np.cos(a[1])]])
        rz = np.array([[np.cos(a[2]), -np.sin(a[2]), 0], [np.sin(a[2]), np.cos(a[2]), 0], [0, 0, 1]])
        r = np.dot(rz, np.dot(ry, rx))
        out[k, :, 0:3] = np.dot(batch[k, :, 0:3].reshape((-1, 3)), r)
        if normals:
            out[k, :, 3:6] = np.dot(batch[k, :, 3:6].reshape((-1, 3)), r)
    return out


@pytest.mark.parametrize("channels", [3, 6])
def test_rotate_perturbation_matches_the_original(channels):
    points = _batch(5, 40, channels, seed=3).astype(np.float64)
    if channels == 6:
        points[..., 3:] /= np.linalg.norm(points[..., 3:], axis=-1, keepdims=True)
    sigma, clip = 0.3, 0.4  # large enough that some angles are clipped
    out, _ = A.RotatePerturbation(sigma, clip)(points, rng=np.random.default_rng(9))
    angles = np.clip(sigma * np.random.default_rng(9).standard_normal((5, 3)), -clip, clip)
    assert np.any(np.abs(angles) == clip) and np.any(np.abs(angles) < clip)
    np.testing.assert_allclose(out, _reference_rotate_perturbation(points, channels == 6, angles), atol=1e-12)


def test_steps_build_composes_and_train_rotation_replaces_the_rotation_part():
    steps = [["Scale", {"low": 0.8, "high": 1.25, "anisotropic": False}], ["RotateUp", {}], ["Jitter", {}]]
    pipeline = A.augmentation_from_steps(steps, up_axis=2, seed=4)
    assert [type(s).__name__ for s in pipeline.augmentations] == ["Scale", "RotateUp", "Jitter"]
    assert pipeline.augmentations[1].axis == 2 and pipeline.augmentations[0].anisotropic is False
    assert A.steps_rotation(steps) == "z" and A.steps_rotation(steps[:1]) == "none"
    assert A.with_train_rotation(steps, "none") == [steps[0], steps[2]]
    assert A.with_train_rotation(steps, "z") == steps
    assert A.with_train_rotation(steps, "so3") == [steps[0], ["RotateSO3", {}], steps[2]]
    assert A.with_train_rotation([["Jitter", {}]], "z") == [["RotateUp", {}], ["Jitter", {}]]
    # the original PointNet's steps build today's default classifier augmentation, draw for draw
    points = _batch(3, 30, 3)
    built, _ = A.augmentation_from_steps(A.POINTNET_CLS_STEPS)(points, rng=np.random.default_rng(2))
    default, _ = A.default_train_augmentation(0)(points, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(built, default)
