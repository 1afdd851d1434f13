"""Every registered model through the one loader, evaluate, predict, export and retrieve.

A tiny model of each name of `list_models()` is saved as a run folder
(`best.keras` + `config.json`), loaded with `open_checkpoint` and run through
the public functions; each command line is called once. A model a command
cannot serve must be refused in one line.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import cli
from pointnet_tf2 import retrieval
from pointnet_tf2.checkpoints import model_input_spec
from pointnet_tf2.checkpoints import open_checkpoint
from pointnet_tf2.data import generate_synthetic
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data import voxelize
from pointnet_tf2.evaluation import evaluate
from pointnet_tf2.export import export_model
from pointnet_tf2.export import model_metadata
from pointnet_tf2.inference import predict
from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models
from pointnet_tf2.models.registry import model_entry
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import save_run_config

NUM_POINTS = 32
# Builder arguments of a tiny model of every registered model (the dataset gives the class counts).
TINY = {
    "pointnet_cls": dict(mlp1=(8, 8), mlp2=(8, 16), head_widths=(16, 8), tnet_conv_widths=(8, 16), tnet_fc_widths=(16, 8)),
    "pointnet_cls_basic": dict(mlp=(8, 8, 16), head_widths=(8,)),
    "pointnet_embed": dict(embedding_dim=8, mlp1=(8,), mlp2=(16,), head_widths=(16,), tnet_conv_widths=(8,),
                           tnet_fc_widths=(8,)),
    "pointnet_part_seg": dict(mlp1=(8, 8, 8), mlp2=(16, 32), input_tnet_conv_widths=(8, 16), input_tnet_fc_widths=(8,),
                              feature_tnet_conv_widths=(8, 16), feature_tnet_fc_widths=(8,), cls_widths=(8, 8),
                              seg_widths=(16, 8, 8)),
    "pointnet_sem_seg": dict(mlp=(8, 8, 16), global_widths=(8,), seg_widths=(16, 8)),
    "voxel_cnn": dict(resolution=16, inner=12, filters=(4, 8, 8), padding="same"),
    "voxel_resnet": dict(resolution=16, inner=12, width=4, blocks_per_stage=(1, 1)),
}  # fmt: skip
# Arguments the run sets from the dataset, left out of a registry entry's tiny `test_config`.
FROM_DATA = ("num_classes", "num_parts", "num_categories", "num_points", "input_dims")
# The retrieval feature of each model: its global feature layer, its embedding, or None (refused).
FEATURES = {"pointnet_cls": ("max_pool", 16), "pointnet_cls_basic": ("max_pool", 16), "pointnet_embed": ("embedding", 8),
            "pointnet_part_seg": None, "pointnet_sem_seg": None, "voxel_cnn": ("flatten", 8 * 2 * 2 * 2),
            "voxel_resnet": ("avg_pool", 8), "dgcnn_cls": ("pooled", 32), "dgcnn_cls_tf": ("max_pool", 16),
            "dgcnn_part_seg": None, "dgcnn_sem_seg": None, "pointnet2_cls_ssg": ("global_feature", 16),
            "pointnet2_cls_msg": ("global_feature", 16), "pointnet2_part_seg": None, "pointnet2_part_seg_msg": None,
            "pointnet2_sem_seg": None}  # fmt: skip


def tiny(name):
    """Builder arguments of a tiny `name`: `TINY`, else its registry entry's `test_config` (without dataset ones)."""
    if name in TINY:
        return TINY[name]
    return {k: v for k, v in model_entry(name).test_config.items() if k not in FROM_DATA}


def test_every_registered_model_is_covered():
    assert sorted(FEATURES) == list_models()
    assert set(TINY) <= set(FEATURES)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("every_model_data")
    sizes = {"cls": dict(num_train=8, num_test=24), "part_seg": dict(num_train=4, num_val=2, num_test=4),
             "sem_seg": dict(num_train=1, num_test=1)}  # fmt: skip
    return {task: generate_synthetic(task, str(root / task), seed=0, num_points=64, **size) for task, size in sizes.items()}


@pytest.fixture(scope="module")
def runs(datasets, tmp_path_factory):
    """Model name -> a run folder holding a tiny untrained model of it."""
    folders = {}
    for name in list_models():
        entry = model_entry(name)
        task = get_task(entry.task)
        description = open_dataset(datasets[entry.task])
        from_data = task.builder_args(description, NUM_POINTS, task.input_channels(description))
        accepted = entry.defaults()
        keras.utils.set_random_seed(0)
        model = get_model(name, **{k: v for k, v in from_data.items() if k in accepted}, **tiny(name))
        folder = tmp_path_factory.mktemp(name)
        config = TrainConfig(task=entry.task, model=name, data=datasets[entry.task], num_point=NUM_POINTS,
                             log_dir=str(folder)).resolved()  # fmt: skip
        save_run_config(config, description, model, str(folder / "config.json"))
        model.save(str(folder / "best.keras"))
        folders[name] = str(folder)
    return folders


def _cloud(task, rng, n):
    if task.normalization == "s3dis_blocks":  # a room: x y z in metres, RGB 0..255
        return np.concatenate([rng.uniform(0, 2.2, size=(n, 3)), rng.integers(0, 256, size=(n, 3))], axis=1)
    return rng.normal(size=(n, 3))


@pytest.mark.parametrize("name", list_models())
def test_evaluate_predict_export_and_retrieve(name, runs, tmp_path):
    loaded = open_checkpoint(runs[name], need_data=True)
    model, description, task = loaded.model, loaded.description, loaded.task_object
    assert loaded.checkpoint == os.path.join(runs[name], "best.keras") and loaded.task == model_entry(name).task
    voxels = loaded.input_kind == "voxels"
    assert model_input_spec(model) == ((None, 3) if voxels else (NUM_POINTS, description.input_dims))
    assert loaded.num_points == NUM_POINTS  # voxel models: the points the run voxelised

    # evaluate: the task's protocol, or retrieval for an embedding model
    result = evaluate(model, description, num_points=NUM_POINTS, num_votes=2, batch_size=5)
    assert result["num_samples"] == len(description.split_rows("test"))
    for key in result["headline"]:
        assert 0.0 <= result[key] <= 1.0
    assert result["task"] == ("retrieval" if loaded.output_kind == "embedding" else description.task)

    # predict: classes or per-point labels of clouds of any size; an embedding model is refused
    rng = np.random.default_rng(0)
    clouds = [_cloud(task, rng, 50), _cloud(task, rng, 20)]
    if loaded.output_kind == "embedding":
        with pytest.raises(ValueError, match=r"^predict: \S+ gives embeddings, not class scores; rank shapes by them"):
            predict(model, clouds[0])
    else:
        category = None
        if isinstance(model.output, dict) and "category" not in model.output:  # no category classifier: give the category
            with pytest.raises(ValueError, match=r"has no category classifier .*; give each cloud's category"):
                predict(model, clouds, num_points=loaded.num_points)
            category = 1
        results = predict(model, clouds, num_points=loaded.num_points, num_votes=2, class_names=loaded.class_names,
                          category_parts=loaded.category_parts, category=category)  # fmt: skip
        for cloud, got in zip(clouds, results):
            if task.per_point:
                assert got["labels"].shape == (len(cloud),) and got["labels"].max() < len(loaded.class_names)
            else:
                assert got["probabilities"].shape == (len(loaded.class_names),) and got["class"] in loaded.class_names
            np.testing.assert_allclose(got["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
        if voxels:  # one vote of every point: the model's output on the cloud's grid
            grid = voxelize(clouds[0].astype(np.float32), TINY[name]["resolution"], TINY[name]["inner"])
            logits = np.asarray(model(grid[None], training=False), np.float64)[0]
            expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            np.testing.assert_allclose(predict(model, clouds[0])["probabilities"], expected, atol=1e-6)

    # export: a SavedModel giving the model's outputs, with the true output kind and preprocessing
    metadata = model_metadata(model, class_names=loaded.class_names, up_axis=loaded.up_axis_name,
                              num_points=loaded.num_points, format="saved_model")  # fmt: skip
    path = export_model(model, str(tmp_path / "served"), metadata=metadata)
    written = json.load(open(path + ".json"))
    assert written["outputs"] == loaded.output_kind == ("embedding" if name == "pointnet_embed" else "logits")
    expected_kind = "occupancy_grid" if voxels else task.normalization
    assert written["preprocessing"]["normalization"] == expected_kind
    if voxels:
        assert written["inputs"] == {"voxels": [-1, 16, 16, 16, 1]}
        assert (written["preprocessing"]["resolution"], written["preprocessing"]["inner"]) == (16, 12)
    inputs = {t.name: rng.random((2,) + tuple(t.shape)[1:]).astype(np.float32) for t in model.inputs}
    inputs = inputs if len(inputs) > 1 else next(iter(inputs.values()))
    served = tf.saved_model.load(path)
    got, want = served.serve(inputs), model(inputs, training=False)
    for key in (want if isinstance(want, dict) else [None]):
        pair = (got[key], want[key]) if key else (got, want)
        np.testing.assert_allclose(np.asarray(pair[0]), np.asarray(pair[1]), rtol=1e-4, atol=1e-4)

    # retrieve: the global feature (found by the kind of layer) or the embedding; segmentation models refused
    if FEATURES[name] is None:
        with pytest.raises(ValueError, match="labels points; retrieval ranks whole shapes"):
            retrieval.compute_features(model, description, num_points=NUM_POINTS)
    else:
        layer, width = FEATURES[name]
        assert retrieval.feature_name(model) == layer
        features, labels, points = retrieval.compute_features(model, description, num_points=NUM_POINTS, batch_size=5)
        assert features.shape == (len(labels), width) and points.shape == (len(labels), NUM_POINTS, 3)


def test_each_command_on_voxel_and_embedding_runs(runs, datasets, tmp_path, capsys):
    out = tmp_path / "out"
    # evaluate a voxel model's run folder with votes (its points are turned, then voxelised)
    assert cli.main(["evaluate", "--checkpoint", runs["voxel_resnet"], "--num_votes", "2",
                     "--output", str(tmp_path / "evaluation.json")]) == 0  # fmt: skip
    results = json.loads((tmp_path / "evaluation.json").read_text())
    assert results["num_votes"] == 2 and results["num_samples"] == 24 and 0 <= results["overall_accuracy"] <= 1
    # predict with a voxel model (new: it used to be refused as "not a point-cloud model")
    cloud_file = tmp_path / "scan.txt"
    np.savetxt(cloud_file, np.random.default_rng(1).normal(size=(300, 3)))
    assert cli.main(["predict", "--checkpoint", runs["voxel_cnn"], str(cloud_file), "--top_k", "2",
                     "--output", str(tmp_path / "predicted.json")]) == 0  # fmt: skip
    assert "32 points x 3 (voxelised)" in capsys.readouterr().out
    row = json.loads((tmp_path / "predicted.json").read_text())[0]
    assert row["class"] == row["top_k"][0]["class"] and len(row["top_k"]) == 2
    # export an embedding model: outputs are embeddings
    assert cli.main(["export", "--checkpoint", runs["pointnet_embed"], "--output", str(out / "embed")]) == 0
    assert json.loads((out / "embed.json").read_text())["outputs"] == "embedding"
    # retrieve with voxel_cnn's flattened feature; a part segmentation model is refused in one line
    assert cli.main(["retrieve", "--checkpoint", runs["voxel_cnn"], "--output_dir", str(out), "--num_queries", "2"]) == 0
    assert json.loads((out / "retrieval.json").read_text())["feature"] == "flatten"
    capsys.readouterr()
    assert cli.main(["retrieve", "--checkpoint", runs["pointnet_part_seg"], "--output_dir", str(out)]) == 1
    assert cli.main(["predict", "--checkpoint", runs["pointnet_embed"], str(cloud_file)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 2 and "Traceback" not in "".join(errors)
    assert "a part segmentation model labels points; retrieval ranks whole shapes" in errors[0]
    assert "gives embeddings, not classes; rank shapes by them with pointnet-tf2 retrieve" in errors[1]
