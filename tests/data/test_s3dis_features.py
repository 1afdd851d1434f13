"""S3DIS block features: one function for the converter, the built-in generator and predict."""

import math

import keras
import numpy as np

from pointnet_tf2 import inference
from pointnet_tf2.data.datasets.s3dis import BlockOptions
from pointnet_tf2.data.datasets.s3dis import room_blocks
from pointnet_tf2.data.datasets.s3dis import room_to_blocks
from pointnet_tf2.data.synthetic import rooms

NUM_POINTS = 512


def small_room(seed=0):
    """A 3.2 m x 2.6 m x 2.8 m room: floor, ceiling, two walls, a table and two boxes, colours 0..255.

    Coordinates are float32 values (predict reads clouds as float32) and the
    minimum corner is the origin, as the converter has it after its shift.
    """
    rng = np.random.default_rng(seed)

    def patch(count, low, high, label, color):
        xyz = rng.uniform(low, high, (count, 3))
        rgb = np.clip(np.round(rng.normal(color, 12.0, (count, 3))), 0, 255)
        return np.concatenate([xyz, rgb], axis=1), np.full(count, label)

    parts = [
        patch(900, (0, 0, 0), (3.2, 2.6, 0), 1, (120, 100, 90)),  # floor
        patch(700, (0, 0, 2.8), (3.2, 2.6, 2.8), 0, (220, 220, 210)),  # ceiling
        patch(400, (0, 0, 0), (0, 2.6, 2.8), 2, (190, 185, 175)),  # wall x = 0
        patch(400, (0, 2.6, 0), (3.2, 2.6, 2.8), 2, (190, 185, 175)),  # wall y = 2.6
        patch(250, (1.2, 0.8, 0.7), (2.2, 1.5, 0.75), 7, (150, 110, 70)),  # table top
        patch(120, (2.5, 0.2, 0.0), (2.9, 0.6, 0.5), 12, (80, 80, 200)),  # box
        patch(120, (0.3, 1.8, 0.0), (0.6, 2.2, 1.2), 10, (130, 110, 85)),  # bookcase
    ]
    points = np.concatenate([p for p, _ in parts]).astype(np.float32).astype(np.float64)
    labels = np.concatenate([lab for _, lab in parts])
    points[:, :3] -= points[:, :3].min(axis=0)
    return points, labels


def reference_members(xyz, block_size=1.0, stride=0.5, minimum=100):
    """The original's blocks: ceil((max - size) / stride) + 1 per axis, closed intervals, x-major."""
    limit = xyz.max(axis=0)
    num_x = int(math.ceil((limit[0] - block_size) / stride)) + 1
    num_y = int(math.ceil((limit[1] - block_size) / stride)) + 1
    blocks = []
    for i in range(num_x):
        for j in range(num_y):
            x0, y0 = i * stride, j * stride
            rows = [r for r in range(len(xyz))
                    if x0 <= xyz[r, 0] <= x0 + block_size and y0 <= xyz[r, 1] <= y0 + block_size]  # fmt: skip
            if len(rows) >= minimum:
                blocks.append(rows)
    return blocks


def reference_features(xyz, rgb, rows, block_size=1.0, color_scale=255.0):
    """The original's room2blocks_plus_normalized formula for one sampled block, point by point."""
    max_x, max_y, max_z = (max(xyz[:, a]) for a in range(3))
    min_x = min(xyz[r, 0] for r in rows)
    min_y = min(xyz[r, 1] for r in rows)
    out = []
    for r in rows:
        x, y, z = xyz[r]
        red, green, blue = rgb[r]
        out.append([x - (min_x + block_size / 2), y - (min_y + block_size / 2), z,
                    red / color_scale, green / color_scale, blue / color_scale,
                    x / max_x, y / max_y, z / max_z])  # fmt: skip
    return np.array(out)


def test_converter_blocks_follow_the_original_formula():
    points, labels = small_room()
    options = BlockOptions(num_points=NUM_POINTS)
    blocks = list(room_blocks(points[:, :3], points[:, 3:6], np.random.default_rng(1), options))
    data, label = room_to_blocks(points, labels, np.random.default_rng(1), options)  # the converter's path
    np.testing.assert_array_equal(data, np.stack([f for _, f in blocks]))
    np.testing.assert_array_equal(label, np.stack([labels[rows] for rows, _ in blocks]))
    expected = reference_members(points[:, :3])
    assert len(blocks) == len(expected) >= 20
    for (rows, features), members in zip(blocks, expected):
        assert set(rows.tolist()) == set(members)
        want = reference_features(points[:, :3], points[:, 3:6], rows)
        np.testing.assert_allclose(features, want.astype(np.float32), rtol=0, atol=1e-6)


def test_predict_blocks_give_the_converters_features():
    points, _ = small_room()
    converted = list(room_blocks(points[:, :3], points[:, 3:6], np.random.default_rng(1),
                                 BlockOptions(num_points=NUM_POINTS)))  # fmt: skip
    served = inference.sem_seg_blocks(points.astype(np.float32), NUM_POINTS, np.random.default_rng(2))
    covered = np.concatenate([chunks.reshape(-1)[:size] for chunks, _, size in served])
    assert set(covered.tolist()) == set(range(len(points)))  # every point is in a block
    by_members = {frozenset(chunks.reshape(-1)[:size].tolist()): (chunks, f) for chunks, f, size in served}
    assert len(served) >= len(converted)  # predict also keeps blocks of fewer than 100 points
    for rows, features in converted:
        members = frozenset(rows.tolist())
        assert len(members) < NUM_POINTS  # so both samples hold every point of the block
        chunks, served_features = by_members[members]
        assert chunks.shape == (1, NUM_POINTS)
        # Compare point by point: each point's features in the converter's block and in predict's.
        unique, first = np.unique(rows, return_index=True)
        served_unique, served_first = np.unique(chunks[0], return_index=True)
        np.testing.assert_array_equal(unique, served_unique)
        np.testing.assert_allclose(served_features[0][served_first], features[first], rtol=0, atol=1e-6)


def test_predict_averages_the_logits_of_overlapping_blocks():
    points, _ = small_room()
    cloud = points.astype(np.float32)
    inputs = keras.Input((NUM_POINTS, 9), name="points")
    model = keras.Model(inputs, keras.layers.Dense(13)(inputs))
    result = inference.predict(model, cloud, seed=3)
    assert result["labels"].shape == (len(points),) and result["probabilities"].shape == (len(points), 13)
    weights, bias = (np.asarray(w, np.float64) for w in model.get_weights())
    total, counts = np.zeros((len(points), 13)), np.zeros(len(points))
    for chunks, features, size in inference.sem_seg_blocks(cloud, NUM_POINTS, np.random.default_rng(3)):
        rows = chunks.reshape(-1)[:size]
        total[rows] += features.reshape(-1, 9)[:size] @ weights + bias
        counts[rows] += 1
    assert counts.min() >= 1 and counts.max() >= 4  # blocks overlap: stride 0.5 m
    logits = total / counts[:, None]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(result["labels"], np.argmax(result["probabilities"], axis=1))


def test_generator_blocks_follow_the_original_formula():
    rng = np.random.default_rng(4)
    room = rooms._Room(rng, 3.0, 2.6, 2.8)
    rooms._room_shell(room)
    rooms._furnish(room, "office")
    xyz, rgb, labels = rooms._room_points(room, 150.0)
    blocks, block_labels = rooms._room_blocks(rng, xyz, rgb, labels, 128)
    expected = reference_members(xyz)
    assert len(blocks) == len(expected) >= 20
    room_max = xyz.max(axis=0)
    for features, block_label, members in zip(blocks, block_labels, expected):
        # Find each sampled point in the room from its room-normalised coordinates (nearest room point).
        found = features[:, 6:9].astype(np.float64) * room_max
        squared = ((found[:, None, :] - xyz[None, :, :]) ** 2).sum(axis=-1)
        rows = squared.argmin(axis=1)
        assert np.sqrt(squared[np.arange(len(rows)), rows]).max() < 1e-5
        assert set(rows.tolist()) <= set(members)
        np.testing.assert_array_equal(block_label, labels[rows])
        want = reference_features(xyz, rgb, rows, color_scale=1.0)
        np.testing.assert_allclose(features, want.astype(np.float32), rtol=0, atol=1e-6)
