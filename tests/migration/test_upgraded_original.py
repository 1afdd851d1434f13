"""Does the tf_upgrade_v2 output of original/ run under TensorFlow 2? (subprocesses)"""

import json
import os
import shutil

import h5py
import numpy as np

from pointnet_tf2.migration import apply_post_upgrade_fixes


def test_upgraded_networks_train_save_and_keep_the_original_sizes(tf1_runs, migration_env):
    for network in migration_env.NETWORKS:
        result = tf1_runs[network]
        assert result["trainable_params"] == migration_env.ORIGINAL_PARAMS[network], network
        assert len(result["losses"]) == 5 and np.all(np.isfinite(result["losses"])), network
        for suffix in (".index", ".data-00000-of-00001", ".meta"):
            assert os.path.isfile(result["checkpoint"] + suffix), (network, suffix)
        assert result["inference_repeatable"], network
    # REFERENCE 1: 12,160 values in the classification net's BN moving averages.
    assert tf1_runs["cls"]["moving_average_params"] == 12_160
    # REFERENCE 2 names, e.g. the EMA shadows of the input T-Net.
    names = tf1_runs["cls"]["variables"]
    shadow = "transform_net1/tconv1/bn/transform_net1/tconv1/bn/moments/Squeeze/ExponentialMovingAverage"
    assert names[shadow] == [64] and names[shadow.replace("Squeeze", "Squeeze_1")] == [64]
    assert names["conv1/weights"] == [1, 3, 1, 64] and names["fc1/weights"] == [1024, 512]
    assert names["transform_net2/transform_feat/biases"] == [4096]
    assert {"beta1_power", "beta2_power", "Variable", "fc3/weights/Adam", "fc3/weights/Adam_1"} <= set(names)
    assert tf1_runs["sem_seg"]["variables"]["conv1/weights"] == [1, 9, 1, 64]
    part = tf1_runs["part_seg"]["variables"]
    assert part["transform_net2/tconv1/weights"] == [1, 1, 128, 256]
    assert part["seg/conv1/weights"] == [1, 1, 4944, 256] and part["cla/fc3/weights"] == [256, 16]
    assert "seg/conv1/bn/seg/conv1/bn/moments/Squeeze_1/ExponentialMovingAverage" in part


def test_dgcnn_references_have_the_official_sizes_and_variable_names(tf1_runs):
    # REFERENCE 10: BN moving values of the official TF graphs.
    assert {n: tf1_runs[n]["moving_average_params"] for n in ("dgcnn_cls_tf", "dgcnn_part_seg", "dgcnn_sem_seg")} \
        == {"dgcnn_cls_tf": 8_192, "dgcnn_part_seg": 8_064, "dgcnn_sem_seg": 4_224}
    cls = tf1_runs["dgcnn_cls_tf"]["variables"]
    assert cls["dgcnn1/weights"] == [1, 1, 6, 64] and cls["agg/weights"] == [1, 1, 320, 1024]
    assert cls["transform_net1/tconv1/weights"] == [1, 1, 6, 64] and cls["transform_net1/transform_XYZ/biases"] == [9]
    assert cls["dgcnn4/bn/dgcnn4/bn/moments/Squeeze_1/ExponentialMovingAverage"] == [128]
    assert not any(name.endswith("pop_mean") for name in cls)
    part = tf1_runs["dgcnn_part_seg"]["variables"]
    assert part["transform_net1/tconv1/bn/pop_mean"] == [64] and part["adj_conv7/bn/pop_var"] == [1024]
    assert part["one_hot_label_expand/weights"] == [1, 1, 16, 64] and part["seg/conv1/weights"] == [1, 1, 1280, 256]
    assert part["seg/conv4/weights"] == [1, 1, 128, 50] and "adj_conv6/weights" not in part
    assert not any(name.endswith("ExponentialMovingAverage") for name in part)
    sem = tf1_runs["dgcnn_sem_seg"]["variables"]
    assert sem["adj_conv1/weights"] == [1, 1, 18, 64] and sem["seg/conv3/weights"] == [1, 1, 256, 13]
    assert not any(name.startswith("transform_net1/") for name in sem)


def write_modelnet_like(folder, rng, points=96):
    """Two tiny h5 files in the ModelNet40 layout, listed with the authors' relative paths."""
    folder.mkdir()
    for split, count in (("train", 10), ("test", 8)):
        name = f"ply_data_{split}0.h5"
        with h5py.File(folder / name, "w") as f:
            f["data"] = rng.normal(scale=0.3, size=(count, points, 3)).astype(np.float32)
            f["label"] = rng.integers(0, 40, size=(count, 1)).astype(np.uint8)
        (folder / f"{split}_files.txt").write_text(f"data/modelnet40_ply_hdf5_2048/{name}\n")


def test_upgraded_train_script_trains_and_saves(upgrade, tmp_path, rng, migration_env):
    data = tmp_path / "modelnet40_ply_hdf5_2048"
    write_modelnet_like(data, rng)
    log = tmp_path / "log"
    proc = migration_env.run_python([os.path.join(upgrade["fixed_tree"], "train.py"), "--data_dir", str(data),
                       "--log_dir", str(log), "--num_point", "64", "--batch_size", "4", "--max_epoch", "1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (log / "log_train.txt").read_text()
    assert "**** EPOCH 000 ****" in text and "eval accuracy:" in text and "Model saved in file:" in text
    assert (log / "model.ckpt.index").is_file() and (log / "checkpoint").is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in (log / "train").iterdir())


def test_each_gap_breaks_the_upgraded_code_until_its_fix(raw_upgrade, tmp_path, migration_env):
    """Under TF2 behaviour (no v1 switch) the raw upgrade fails at each gap in turn."""
    steps = [(), ("dimension-value",), ("dimension-value", "variable-iadd"),
             ("dimension-value", "variable-iadd", "dropout"),
             ("dimension-value", "variable-iadd", "dropout", "summary-v1")]
    trees = []
    for i, kinds in enumerate(steps):
        tree = str(tmp_path / f"tree{i}")
        shutil.copytree(raw_upgrade["tree"], tree)
        applied = apply_post_upgrade_fixes(tree, kinds=kinds)
        assert {f.kind for f in applied} == set(kinds)
        trees.append(tree)
    args = [migration_env.DRIVER, "gaps"]
    for tree in trees:
        args += ["--tree", tree]
    proc = migration_env.run_python(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [o["status"] for o in outcomes] == [
        "AttributeError", "RuntimeError", "TypeError", "TypeError", "ok", "RuntimeError"]
    assert "has no attribute 'value'" in outcomes[0]["message"]
    assert "`variable += value`" in outcomes[1]["message"]
    assert "multiple values for argument 'rate'" in outcomes[2]["message"]
    assert "`fetch` = None" in outcomes[3]["message"]  # merge_all() found no TF1 summaries
    assert "eager execution" in outcomes[5]["message"]  # placeholders outside a graph
