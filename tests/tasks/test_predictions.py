"""The tasks' part of prediction: sampling clouds, folding outputs back, what predict prints and writes."""

import types

import numpy as np
import pytest

from pointnet_tf2.data.raw.s3dis import block_counts
from pointnet_tf2.tasks import get_task
from pointnet_tf2.tasks.predictions import chunked
from pointnet_tf2.tasks.predictions import scatter_mean
from pointnet_tf2.tasks.predictions import softmax


class FakeLoop:
    """A prediction loop over a made-up model: per point its x as logit 0 and its vote as logit 1."""

    def __init__(self, num_votes=1, categories=3, classifies=True):
        self.num_votes = num_votes
        self.name = "fake"
        self.input_shapes = {"points": (None, None, 3), "category": (None, categories)}
        self.output_names = ("parts", "category") if classifies else ("parts",)
        self.votes = []

    def run(self, inputs, *, vote=0):
        self.votes.append(vote)
        points = inputs["points"] if isinstance(inputs, dict) else inputs
        per_point = np.stack([points[..., 0], np.full(points.shape[:2], float(vote))], axis=-1).astype(np.float64)
        if isinstance(inputs, dict):  # part segmentation: 4 parts, and category logits favouring category 2
            parts = np.concatenate([per_point, -per_point], axis=-1)
            return {"parts": parts, "category": np.tile([0.0, 1.0, 3.0], (len(points), 1))}
        return per_point.mean(axis=1) if per_point.ndim == 3 and self.per_cloud else per_point

    per_cloud = False


def test_classification_averages_the_votes_of_each_cloud():
    loop = FakeLoop(num_votes=3)
    loop.per_cloud = True
    clouds = [np.full((10, 3), 2.0, np.float32), np.full((4, 3), -1.0, np.float32)]
    results = get_task("cls").predict_clouds(loop, clouds, num_points=6, input_dims=3, rng=np.random.default_rng(0),
                                             top_k=1, class_names=["a", "b"])  # fmt: skip
    assert loop.votes == [0, 1, 2]  # one model call per vote, the clouds together
    np.testing.assert_allclose(results[0]["probabilities"], softmax([2.0, 1.0]), rtol=1e-6)  # mean vote (0+1+2)/3
    assert results[0]["class"] == "a" and results[1]["class"] == "b"
    assert results[1]["top_k"] == [{"index": 1, "probability": pytest.approx(float(softmax([-1.0, 1.0])[1])),
                                    "class": "b"}]  # fmt: skip


def test_chunks_scatter_back_to_every_point():
    rng = np.random.default_rng(1)
    cloud = rng.normal(size=(11, 3))
    samples = chunked(cloud, 4, rng)
    assert samples.points.shape == (3, 4, 3) and sorted(samples.flat_rows().tolist()) == list(range(11))
    logits = samples.points[..., :1]  # each point's own x
    np.testing.assert_allclose(scatter_mean(11, [(samples, logits), (samples, logits + 2)]), cloud[:, :1] + 1)


def test_part_segmentation_predicts_the_category_and_keeps_to_its_parts():
    task = get_task("part_seg")
    cloud = np.random.default_rng(2).normal(size=(9, 3)).astype(np.float32)
    parts = [[0], [1], [2, 3]]
    result = task.predict_clouds(FakeLoop(num_votes=2), [cloud], num_points=4, input_dims=3,
                                 rng=np.random.default_rng(0), category_parts=parts)[0]  # fmt: skip
    assert result["category"] == 2 and set(result["labels"].tolist()) <= {2, 3}
    np.testing.assert_allclose(result["probabilities"][:, :2], 0.0)
    # Parts 2 and 3 have logits -x and -(vote): the mean vote is 0.5.
    expected = softmax(np.stack([-cloud[:, 0], np.full(9, -0.5)], axis=1))
    np.testing.assert_allclose(result["probabilities"][:, 2:], expected, rtol=1e-5)
    given = task.predict_clouds(FakeLoop(), [cloud], num_points=None, input_dims=3, rng=np.random.default_rng(0),
                                category=0, category_parts=parts)[0]  # fmt: skip
    assert given["category"] == 0 and set(given["labels"].tolist()) == {0}
    with pytest.raises(ValueError, match=r"category 5 is outside \[0, 3\)"):
        task.predict_clouds(FakeLoop(), [cloud], num_points=4, input_dims=3, rng=np.random.default_rng(0), category=5)


def test_part_segmentation_without_a_category_classifier_needs_the_category():
    task = get_task("part_seg")
    cloud = np.random.default_rng(2).normal(size=(9, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"^predict: fake has no category classifier .*give each cloud's category"):
        task.predict_clouds(FakeLoop(classifies=False), [cloud], num_points=4, input_dims=3,
                            rng=np.random.default_rng(0))  # fmt: skip
    given = task.predict_clouds(FakeLoop(classifies=False), [cloud], num_points=4, input_dims=3,
                                rng=np.random.default_rng(0), category=1, category_parts=[[0], [1], [2, 3]])[0]
    assert given["category"] == 1 and set(given["labels"].tolist()) == {1}
    assert "category_probabilities" not in given


def test_semantic_segmentation_does_not_turn_rooms_and_takes_xyzrgb():
    task = get_task("sem_seg")
    assert not task.vote_rotation and task.predict_up_axis == 2 and task.normalization == "s3dis_blocks"
    room = np.concatenate([np.random.default_rng(3).uniform(0, 1.8, size=(40, 3)), np.full((40, 3), 128.0)], axis=1)
    assert task.check_cloud(room.astype(np.float32), 9).shape == (40, 6)
    samples = task.prediction_samples(room, 16, 9, np.random.default_rng(0))
    extent = np.ptp(room[:, :2], axis=0)
    assert len(samples) == block_counts(extent[0]) * block_counts(extent[1])  # 1 m blocks, stride 0.5 m
    assert all(s.points.shape[1:] == (16, 9) for s in samples)
    result = task.predict_clouds(FakeLoop(num_votes=2), [room], num_points=16, input_dims=9,
                                 rng=np.random.default_rng(0))[0]  # fmt: skip
    assert result["labels"].shape == (40,)
    with pytest.raises(ValueError, match="cloud 0 has 4 channels; this model needs 9 block features or 6"):
        task.check_cloud(np.zeros((5, 4), np.float32), 9)
    with pytest.raises(ValueError, match="cloud 0 has NaN or inf values"):
        task.check_cloud(np.full((5, 3), np.nan, np.float32), 9)


def test_what_predict_prints_and_writes_per_task():
    cls = get_task("cls")
    result = {"label": 1, "class": "b", "probabilities": np.array([0.25, 0.75], np.float32),
              "top_k": [{"index": 1, "probability": 0.75, "class": "b"}, {"index": 0, "probability": 0.25, "class": "a"}]}
    row = cls.prediction_row("x.off", result, label_names=["a", "b"], notes=["non_manifold"])
    assert row == {"file": "x.off", "class": "b", "label": 1, "top_k": result["top_k"], "notes": ["non_manifold"]}
    assert cls.prediction_lines(row, "  [non_manifold]") == ["x.off: b (0.750)  [non_manifold]",
                                                             f"   1. {'b':<24} 0.7500", f"   2. {'a':<24} 0.2500"]
    header, table = cls.prediction_table([row, {"file": "bad.off", "error": "broken"}])
    assert header[:3] == ["file", "rank", "class"] and table[-1] == ["bad.off", "", "", "", "", "broken"] and len(table) == 3
    part = get_task("part_seg")
    seg = {"labels": np.array([2, 2, 0]), "probabilities": np.full((3, 3), 1 / 3), "category": 1}
    row = part.prediction_row("p.ply", seg, label_names=["u", "v", "w"], category_names=["Mug", "Lamp"],
                              files={"ply": "o/p.ply", "png": "o/p.png"})  # fmt: skip
    assert row["category"] == "Lamp" and row["label_counts"] == {"w": 2, "u": 1} and row["points"] == 3
    assert part.prediction_lines(row) == ["p.ply: 3 points, category Lamp -> o/p.ply, o/p.png; w 67%, u 33%"]
    assert part.prediction_title("p.ply", seg, category_names=["Mug", "Lamp"]) == "p.ply  (Lamp)"
    assert part.prediction_table([row])[1] == [["p.ply", "o/p.ply", "o/p.png", 3, "Lamp", "w", ""]]
    assert part.parse_category("lamp", category_names=["Mug", "Lamp"]) == 1
    assert part.parse_category("0", category_names=["Mug", "Lamp"], num_categories=2) == 0
    with pytest.raises(ValueError, match="--category 'Boat': not one of the model's categories \\(Mug, Lamp\\)"):
        part.parse_category("Boat", category_names=["Mug", "Lamp"], num_categories=2)
    with pytest.raises(ValueError, match="--category is for part segmentation models; m.keras is a sem_seg model"):
        get_task("sem_seg").parse_category("Mug", where="m.keras")


def test_label_names_of_files_and_targets_follow_the_task():
    description = types.SimpleNamespace(class_names=["c"], part_names=["p"], category_names=["k"])
    assert get_task("cls").file_label_names(description) == (None, ["c"])
    assert get_task("sem_seg").file_label_names(description) == (["c"], None)
    assert get_task("part_seg").file_label_names(description) == (["p"], ["k"])
    assert get_task("part_seg").split_targets({"parts": 1, "category": 2}) == (1, 2)
    assert get_task("cls").split_targets(3) == (3, None)
