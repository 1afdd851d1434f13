"""The one prediction loop: votes, voxel inputs, batching, lists of clouds, dict inputs."""

import keras
import numpy as np
import pytest

from pointnet_tf2.data import rotate_up
from pointnet_tf2.data import voxelize
from pointnet_tf2.evaluation.loop import PredictionLoop
from pointnet_tf2.models import get_model


class Recorder:
    """A plain callable model: remembers its inputs, gives each sample's coordinate sums."""

    def __init__(self):
        self.seen = []

    def __call__(self, inputs, training=False):
        self.seen.append(inputs)
        points = inputs["points"] if isinstance(inputs, dict) else inputs
        return points.sum(axis=1)


def test_votes_turn_the_points_about_the_up_axis():
    points = np.random.default_rng(0).normal(size=(5, 7, 3)).astype(np.float32)
    model = Recorder()
    loop = PredictionLoop(model, num_votes=4, up_axis=1, batch_size=2)
    np.testing.assert_allclose(loop.run(points, vote=0), points.sum(axis=1), rtol=1e-6)
    turned = loop.run(points, vote=1)
    np.testing.assert_allclose(turned, rotate_up(points, np.pi / 2, axis=1).sum(axis=1), rtol=1e-5, atol=1e-6)
    assert [len(x) for x in model.seen[-3:]] == [2, 2, 1]  # batches of batch_size
    np.testing.assert_allclose(turned[:, 1], points.sum(axis=1)[:, 1], rtol=1e-5)  # the up axis stays
    still = PredictionLoop(model, num_votes=4, rotate_votes=False)
    np.testing.assert_allclose(still.run(points, vote=1), points.sum(axis=1), rtol=1e-6)


def test_dict_inputs_turn_only_the_points():
    points = np.random.default_rng(1).normal(size=(3, 4, 3)).astype(np.float32)
    category = np.eye(3, dtype=np.float32)
    model = Recorder()
    PredictionLoop(model, num_votes=2).run({"points": points, "category": category}, vote=1)
    seen = model.seen[-1]
    np.testing.assert_array_equal(seen["category"], category)
    np.testing.assert_allclose(seen["points"], rotate_up(points, np.pi, axis=1), rtol=1e-6, atol=1e-6)


def test_a_list_of_clouds_of_different_sizes():
    rng = np.random.default_rng(2)
    clouds = [rng.normal(size=(n, 3)).astype(np.float32) for n in (5, 9)]
    out = PredictionLoop(Recorder()).run(clouds)
    assert isinstance(out, list) and [o.shape for o in out] == [(3,), (3,)]
    np.testing.assert_allclose(out[1], clouds[1].sum(axis=0), rtol=1e-6)


def test_voxel_models_get_grids_of_their_size_after_the_vote_turns_the_points():
    keras.utils.set_random_seed(0)
    model = get_model("voxel_cnn", num_classes=3, resolution=12, inner=8, filters=(4, 4, 4), padding="same")
    rng = np.random.default_rng(3)
    clouds = [rng.normal(size=(n, 3)).astype(np.float32) for n in (30, 50)]
    loop = PredictionLoop(model, num_votes=3, batch_size=1)
    got = loop.run(clouds, vote=2)  # a list of clouds: voxelised one by one, then run as one batch
    turned = [rotate_up(c, 4 * np.pi / 3, axis=1) for c in clouds]
    want = np.asarray(model(np.stack([voxelize(c, 12, 8) for c in turned]), training=False))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    grids = np.stack([voxelize(c, 12, 8) for c in clouds])
    np.testing.assert_allclose(loop.run(grids, grids=True), np.asarray(model(grids, training=False)), rtol=1e-5,
                               atol=1e-6)  # fmt: skip


def test_bad_votes_and_batch_sizes_are_refused():
    with pytest.raises(ValueError, match="num_votes must be an integer >= 1, got 0"):
        PredictionLoop(Recorder(), num_votes=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 2.5"):
        PredictionLoop(Recorder(), batch_size=2.5)
