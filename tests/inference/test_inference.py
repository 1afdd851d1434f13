"""`predict`, `load_predictor`, `load_input` and `pointnet-tf2 predict` on tiny checkpoints."""

import csv
import json
import os
import shutil

import numpy as np
import pytest
import trimesh

import pointnet_tf2
from pointnet_tf2 import cli
from pointnet_tf2 import inference
from pointnet_tf2 import viz
from pointnet_tf2.data import meshes
from pointnet_tf2.data.raw.s3dis import block_counts
from pointnet_tf2.utils import progress

NUM_POINTS = 64


@pytest.fixture(scope="module")
def cls_predictor(cls_run):
    return inference.load_predictor(cls_run.checkpoint)


def test_predict_is_exported_at_the_top_level():
    assert pointnet_tf2.predict is inference.predict


def test_classification_gives_probabilities_and_top_k(cls_predictor):
    model, names = cls_predictor.model, cls_predictor.class_names
    rng = np.random.default_rng(0)
    big, small = rng.normal(size=(500, 3)), rng.normal(size=(20, 3))
    result = inference.predict(model, big, top_k=3, class_names=names, num_votes=4)
    probabilities = result["probabilities"]
    assert probabilities.shape == (len(names),) and probabilities.dtype == np.float32
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5) and np.all(probabilities >= 0)
    assert result["label"] == int(np.argmax(probabilities)) and result["class"] == names[result["label"]]
    top = result["top_k"]
    assert [t["index"] for t in top] == list(np.argsort(-probabilities)[:3])
    assert [t["probability"] for t in top] == sorted((t["probability"] for t in top), reverse=True)
    assert top[0]["class"] == names[top[0]["index"]]

    batch = inference.predict(model, [big, small], class_names=names)
    assert isinstance(batch, list) and len(batch) == 2
    stacked = inference.predict(model, np.stack([small, small]))
    np.testing.assert_allclose(stacked[0]["probabilities"], stacked[1]["probabilities"], atol=0.2)
    again = inference.predict(model, big, top_k=3, class_names=names, num_votes=4)
    np.testing.assert_array_equal(again["probabilities"], probabilities)
    # Exactly num_points points, one vote: the model's own output, softmaxed.
    cloud = rng.normal(size=(NUM_POINTS, 3)).astype(np.float32)
    direct = inference._softmax(np.asarray(model(cloud[None], training=False))[0])
    shuffled = inference.predict(model, cloud)["probabilities"]
    np.testing.assert_allclose(shuffled, direct, atol=1e-5)  # a permutation does not change PointNet's output


def test_predict_rejects_what_the_model_cannot_take(cls_predictor):
    model = cls_predictor.model
    with pytest.raises(ValueError, match="cloud 0 has 2 channels per point, the model needs 3"):
        inference.predict(model, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="num_votes must be an integer >= 1, got 0"):
        inference.predict(model, np.zeros((10, 3)), num_votes=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        inference.predict(model, np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match=r"must be \(N, C\), \(B, N, C\)"):
        inference.predict(model, np.zeros(5))
    # Extra channels (normals) are dropped for an xyz model.
    assert inference.predict(model, np.random.default_rng(0).normal(size=(30, 6)))["probabilities"].shape == (12,)


def test_part_segmentation_labels_every_point_with_parts_of_its_category(part_seg_run):
    predictor = inference.load_predictor(part_seg_run.log_dir)
    assert predictor.task == "part_seg" and predictor.category_parts == part_seg_run.description.category_parts
    rng = np.random.default_rng(1)
    for n in (150, 20):
        result = inference.predict(predictor.model, rng.normal(size=(n, 3)), category=2, num_votes=2,
                                   category_parts=predictor.category_parts)  # fmt: skip
        assert result["labels"].shape == (n,) and result["probabilities"].shape == (n, predictor.description.num_parts)
        assert set(result["labels"].tolist()) <= set(predictor.category_parts[2])
        np.testing.assert_allclose(result["probabilities"].sum(axis=1), 1.0, atol=1e-5)
        assert result["category"] == 2
    auto = inference.predict(predictor.model, rng.normal(size=(90, 3)), category_parts=predictor.category_parts)
    assert auto["category"] == int(np.argmax(auto["category_probabilities"]))
    assert set(auto["labels"].tolist()) <= set(predictor.category_parts[auto["category"]])


def test_semantic_segmentation_of_an_xyzrgb_room(sem_seg_run):
    predictor = inference.load_predictor(sem_seg_run.checkpoint)
    rng = np.random.default_rng(2)
    room = np.concatenate([rng.uniform([0, 0, 0], [3.5, 2.2, 3.0], size=(700, 3)),
                           rng.integers(0, 256, size=(700, 3))], axis=1)  # fmt: skip
    result = inference.predict(predictor.model, room, num_votes=2)
    assert result["labels"].shape == (700,) and result["probabilities"].shape == (700, 13)
    blocks = inference.sem_seg_blocks(room, predictor.num_points, rng)
    extent = room[:, :2].max(axis=0) - room[:, :2].min(axis=0)
    assert len(blocks) == block_counts(extent[0]) * block_counts(extent[1]) == 6 * 4  # 1 m blocks, stride 0.5 m
    covered = np.concatenate([chunks.reshape(-1)[:size] for chunks, _, size in blocks])
    assert set(covered.tolist()) == set(range(700))
    features = np.concatenate([f.reshape(-1, 9) for _, f, _ in blocks])
    assert features.dtype == np.float32 and np.all(np.abs(features[:, :2]) <= 0.5 + 1e-6)
    assert np.all((features[:, 3:] >= 0) & (features[:, 3:] <= 1))
    np.testing.assert_allclose(features[:, 6:].max(axis=0), 1.0)
    rows = np.concatenate([chunks.reshape(-1) for chunks, _, _ in blocks])
    np.testing.assert_allclose(features[:, 2], room[rows, 2] - room[:, 2].min(), rtol=1e-6)
    blocks9 = inference.predict(predictor.model, features[:700])
    assert blocks9["labels"].shape == (700,)
    with pytest.raises(ValueError, match="needs 9 block features or 6"):
        inference.predict(predictor.model, room[:, :3])


def test_chunks_cover_every_point_once():
    rng = np.random.default_rng(0)
    chunks = inference.chunk_indices(130, 64, rng)
    assert chunks.shape == (3, 64)
    assert sorted(chunks.reshape(-1)[:130].tolist()) == list(range(130))
    assert set(chunks.reshape(-1)[130:].tolist()) <= set(range(130))
    padded = inference.resample_indices(10, 25, rng)
    assert len(padded) == 25 and set(padded.tolist()) == set(range(10))
    assert len(set(inference.resample_indices(100, 25, rng).tolist())) == 25


def test_a_checkpoint_needs_its_description_but_not_its_data(cls_run, tmp_path):
    copy = shutil.copytree(cls_run.log_dir, tmp_path / "run")
    config_path = copy / "config.json"
    config = json.loads(config_path.read_text())
    config["dataset"]["root"] = str(tmp_path / "gone")
    config_path.write_text(json.dumps(config))
    predictor = inference.load_predictor(str(copy))
    assert predictor.class_names == cls_run.description.class_names and predictor.num_points == NUM_POINTS
    config["dataset"]["class_names"] = config["dataset"]["class_names"][:5]
    config["dataset"]["num_classes"] = 5
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="predicts 12 classes, its saved dataset has 5"):
        inference.load_predictor(str(copy))
    os.unlink(config_path)
    assert inference.load_predictor(str(copy)).class_names[:2] == ["class_0", "class_1"]
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        inference.load_predictor(str(tmp_path / "nope.keras"))


def test_inputs_from_files_come_upright_and_normalised(cls_predictor, tmp_path):
    path = str(tmp_path / "rod.stl")
    trimesh.creation.cylinder(radius=0.1, height=5.0).export(path)
    cloud = inference.load_input(path, num_points=300)
    assert cloud.source == "mesh" and cloud.points.shape == (300, 3) and cloud.stem == "rod"
    points = inference.cloud_for_model(cloud, cls_predictor)
    extent = np.ptp(points, axis=0)
    assert extent[1] > 5 * extent[0] and np.linalg.norm(points, axis=1).max() == pytest.approx(1.0, abs=1e-5)
    row = inference.load_input(os.path.join(os.path.dirname(cls_predictor.description.shards[0].path),
                                            "ply_data_test0.h5") + ":3")  # fmt: skip
    assert row.source == "h5" and row.points.shape == (128, 3) and row.stem == "ply_data_test0_3"
    assert row.class_names == cls_predictor.class_names and row.cloud_label is not None
    np.testing.assert_array_equal(inference.cloud_for_model(row, cls_predictor), row.features.astype(np.float32))
    with pytest.raises(ValueError, match="index 99 is out of range"):
        inference.load_input(row.name.rsplit(":", 1)[0] + ":99")


def test_predict_command_classification_writes_json_and_csv(cls_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "DEFAULT_INTERVAL", 0.0)  # a progress line per file, however fast
    mesh_path = str(tmp_path / "ball.off")
    trimesh.creation.icosphere(subdivisions=2).export(mesh_path)
    points_path = str(tmp_path / "scan.txt")
    np.savetxt(points_path, np.random.default_rng(0).normal(size=(500, 3)), delimiter=",")
    bad = str(tmp_path / "bad.off")
    open(bad, "w").write("OFF\n3 1 0\nnan 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    h5_row = os.path.join(cls_run.data, "ply_data_test0.h5") + ":0"
    out_json = str(tmp_path / "results.json")
    status = cli.main(["predict", "--checkpoint", cls_run.checkpoint, mesh_path, points_path, bad, h5_row,
                       "--top_k", "3", "--num_votes", "2", "--output", out_json])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 1
    assert f"{bad}: 1 of 3 vertices have NaN or inf coordinates" in captured.err
    assert "1 of 4 input(s) failed" in captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("predict: [")]
    assert [line.split("] ")[1].split(" (")[0] for line in lines] == ["1/4", "2/4", "3/4", "4/4", "4/4"]
    assert " files/s, took " in lines[-1]
    rows = json.load(open(out_json))
    assert [row["file"] for row in rows] == [mesh_path, points_path, bad, h5_row.replace(":0", ":0")]
    assert "error" in rows[2]
    for row in (rows[0], rows[1], rows[3]):
        probabilities = [t["probability"] for t in row["top_k"]]
        assert len(probabilities) == 3 and 0 < sum(probabilities) <= 1.0 + 1e-6
        assert row["class"] == row["top_k"][0]["class"] in cls_run.description.class_names
        assert f"{row['file']}: {row['class']} (" in captured.out
    out_csv = str(tmp_path / "results.csv")
    assert cli.main(["predict", "--checkpoint", cls_run.log_dir, mesh_path, "--output", out_csv]) == 0
    table = list(csv.DictReader(open(out_csv)))
    assert [r["rank"] for r in table] == ["1", "2", "3", "4", "5"] and table[0]["file"] == mesh_path


def test_predict_command_segmentation_writes_a_ply_and_png_per_input(part_seg_run, tmp_path, capsys):
    mesh_path = str(tmp_path / "plane.obj")
    trimesh.creation.box(extents=(2.0, 0.2, 0.5)).export(mesh_path)
    cloud_path = str(tmp_path / "plane.ply")
    trimesh.PointCloud(np.random.default_rng(0).normal(size=(150, 3))).export(cloud_path)
    output_dir = str(tmp_path / "predictions")
    status = cli.main(["predict", "--checkpoint", part_seg_run.checkpoint, mesh_path, cloud_path,
                       "--category", "Chair", "--num_point", "100", "--output_dir", output_dir,
                       "--output", str(tmp_path / "seg.json")])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert sorted(os.listdir(output_dir)) == ["plane.ply", "plane.png", "plane_2.ply", "plane_2.png"]
    chair = part_seg_run.description.category_names.index("Chair")
    allowed = set(part_seg_run.description.category_parts[chair])
    for name, count in (("plane.ply", 100), ("plane_2.ply", 150)):
        path = os.path.join(output_dir, name)
        loaded = trimesh.load(path)
        assert len(loaded.vertices) == count
        read = meshes.read_geometry(path)
        assert read.labels.shape == (count,) and set(read.labels.tolist()) <= allowed
        np.testing.assert_allclose(read.colors, viz.label_colors(read.labels) / 255.0)
        assert read.up_axis == "z"
    for name in ("plane.png", "plane_2.png"):
        assert open(os.path.join(output_dir, name), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    rows = json.load(open(tmp_path / "seg.json"))
    assert rows[0]["category"] == "Chair" and sum(rows[0]["label_counts"].values()) == 100
    assert "category Chair" in captured.out
    assert cli.main(["predict", "--checkpoint", part_seg_run.checkpoint, mesh_path, "--category", "Boat"]) == 1
    assert "--category 'Boat': not one of the model's categories" in capsys.readouterr().err


def test_predict_command_semantic_segmentation_of_a_room_file(sem_seg_run, tmp_path, capsys):
    rng = np.random.default_rng(3)
    room = np.concatenate([rng.uniform(0, 2.5, size=(400, 3)), rng.integers(0, 256, size=(400, 3))], axis=1)
    path = str(tmp_path / "room.txt")
    np.savetxt(path, room, fmt="%.4f %.4f %.4f %d %d %d")
    output_dir = str(tmp_path / "out")
    assert cli.main(["predict", "--checkpoint", sem_seg_run.checkpoint, path, "--output_dir", output_dir]) == 0
    read = meshes.read_geometry(os.path.join(output_dir, "room.ply"))
    np.testing.assert_allclose(read.points, room[:, :3], atol=1e-4)
    assert read.labels.shape == (400,) and read.labels.max() < 13
    assert "room.txt: 400 points" in capsys.readouterr().out
