"""TF1 PointNet++ references (original/pointnet2/) -> checkpoints -> the zoo's Keras models, same logits.

A subprocess builds the references at a tiny configuration, trains each a
few Adam steps (batch-norm decay 0.5, so the moving statistics move), saves a
tf.train.Saver checkpoint and the is_training=False logits on fixed inputs;
each test converts one checkpoint with `load_tf1_checkpoint` and compares.
The default run checks `pointnet2_cls_ssg` (about 20 s); the other four
networks (one run of about 50 s) are marked slow.
"""

import json
import os

import keras
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2 import get_model
from pointnet_tf2.migration import load_tf1_checkpoint
from pointnet_tf2.migration.original_graph import POINTNET2_NETWORKS
from pointnet_tf2.migration.original_graph import pointnet2_input_dims
from pointnet_tf2.migration.tf1_checkpoint import guess_tf1_network

PARITY_TOLERANCE = 1e-4  # max |keras - tf1| relative to max |tf1 logits|
BATCH, POINTS = 4, 64
_SSG = dict(npoints=(16, 8), radii=(0.4, 0.8), nsamples=(8, 8), mlps=((8, 8), (8, 16)))
_MSG = dict(npoints=(16, 8), radii=((0.3, 0.6), (0.8,)), nsamples=((4, 8), (8,)), mlps=(((8,), (8, 8)), ((16,),)))
# zoo model -> keyword arguments shared by the TF1 get_model and the Keras builder
CONFIGS = {
    "pointnet2_cls_ssg": dict(num_classes=4, **_SSG, global_mlp=(16,), head_widths=(8,)),
    "pointnet2_cls_msg": dict(num_classes=4, **_MSG, global_mlp=(16,), head_widths=(8,)),
    "pointnet2_part_seg": dict(num_parts=6, **_SSG, global_mlp=(16,), fp_mlps=((8,), (8,), (8, 8)), head_widths=(8,)),
    "pointnet2_part_seg_msg": dict(num_parts=6, num_categories=3, **_MSG, global_mlp=(16,),
                                   fp_mlps=((8,), (8,), (8,)), head_widths=(8,)),
    "pointnet2_sem_seg": dict(num_classes=5, **_SSG, fp_mlps=((8,), (8, 8)), head_widths=(8,)),
}
# The Keras part segmentation models take the one-hot category (the SSG one ignores it).
KERAS_CATEGORIES = {"pointnet2_part_seg": 3, "pointnet2_part_seg_msg": 3}


FAST = ("pointnet2_cls_ssg",)
SLOW = tuple(n for n in CONFIGS if n not in FAST)


def train_references(migration_env, out, networks):
    """Runs tf1_driver.py on `networks`; returns `{zoo model: result dict}` (checkpoint, folder with parity.npz)."""
    configs = out / "configs.json"
    configs.write_text(json.dumps({n: CONFIGS[n] for n in networks}))
    proc = migration_env.run_python([migration_env.DRIVER, "pointnet2", "--tree", migration_env.ORIGINAL,
                                     "--out", str(out), "--configs", str(configs), "--steps", "3",
                                     "--batch", str(BATCH), "--points", str(POINTS)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return migration_env.read_results(out, networks)


@pytest.fixture(scope="module")
def fast_runs(migration_env, tmp_path_factory):
    return train_references(migration_env, tmp_path_factory.mktemp("tf1_pointnet2_fast"), FAST)


@pytest.fixture(scope="module")
def slow_runs(migration_env, tmp_path_factory):
    return train_references(migration_env, tmp_path_factory.mktemp("tf1_pointnet2_slow"), SLOW)


def keras_model(network, num_points=POINTS):
    config = {k: v for k, v in CONFIGS[network].items() if k != "num_categories"}
    if network in KERAS_CATEGORIES:
        config["num_categories"] = KERAS_CATEGORIES[network]
    return get_model(network, num_points=num_points, input_dims=pointnet2_input_dims(network), **config)


def keras_logits(model, network, data):
    if network in KERAS_CATEGORIES:
        categories = data.get("input_category", np.zeros(len(data["input_points"]), np.int32))
        one_hot = np.eye(KERAS_CATEGORIES[network], dtype=np.float32)[categories]
        return np.asarray(model({"points": data["input_points"], "category": one_hot}, training=False)["parts"])
    return np.asarray(model(data["input_points"], training=False))


def relative_difference(ours, reference):
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


def test_every_zoo_pointnet2_model_has_a_reference():
    assert sorted(CONFIGS) == sorted(POINTNET2_NETWORKS)


def check_parity(run, network):
    """Converts the run's checkpoint into the Keras model and compares the logits."""
    assert run["inference_repeatable"]
    data = dict(np.load(os.path.join(run["folder"], "parity.npz")))
    model = keras_model(network)
    assert run["trainable_params"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    mapping = load_tf1_checkpoint(model, run["checkpoint"])
    assert len(mapping.assigned) == len(model.weights)
    # PointNet++ keeps its batch-norm statistics as contrib's moving_mean / moving_variance.
    assigned = dict(mapping.assigned)
    assert assigned["layer1/" + ("conv0_0" if "msg" in network else "conv0") + "/bn/moving_variance"].endswith(
        "_bn/moving_variance")
    assert {"beta1_power", "beta2_power", "Variable"} <= set(mapping.ignored)

    ours = keras_logits(model, network, data)
    reference = data["output_logits"]
    assert ours.shape == reference.shape
    difference = relative_difference(ours, reference)
    print(f"parity {network}: max |keras - tf1| = {np.max(np.abs(ours - reference)):.3g}, "
          f"logit scale {np.max(np.abs(reference)):.3g}, relative {difference:.3g}")
    assert difference < PARITY_TOLERANCE
    # The trained moving statistics matter: an unconverted model is far off.
    assert relative_difference(keras_logits(keras_model(network), network, data), reference) > 0.1


def test_converted_pointnet2_cls_ssg_checkpoint_gives_the_tf1_logits(fast_runs):
    check_parity(fast_runs["pointnet2_cls_ssg"], "pointnet2_cls_ssg")


@pytest.mark.slow
@pytest.mark.parametrize("network", SLOW)
def test_converted_pointnet2_checkpoint_gives_the_tf1_logits(slow_runs, network):
    check_parity(slow_runs[network], network)


def shapes(run):
    return {name: tuple(shape) for name, shape in run["variables"].items()}


def test_guess_names_a_pointnet2_checkpoint(fast_runs):
    assert guess_tf1_network(shapes(fast_runs["pointnet2_cls_ssg"])) == "pointnet2_cls_ssg with num_classes=4"


@pytest.mark.slow
def test_guess_names_every_pointnet2_checkpoint(slow_runs):
    assert guess_tf1_network(shapes(slow_runs["pointnet2_cls_msg"])) == "pointnet2_cls_msg with num_classes=4"
    assert guess_tf1_network(shapes(slow_runs["pointnet2_part_seg"])) == "pointnet2_part_seg with num_parts=6"
    assert guess_tf1_network(shapes(slow_runs["pointnet2_part_seg_msg"])) == \
        "pointnet2_part_seg_msg with num_parts=6, num_categories=3"
    # Two set abstraction levels + two feature propagations: not told apart from a truncated network.
    assert guess_tf1_network(shapes(slow_runs["pointnet2_sem_seg"])) is None


def test_wrong_pointnet2_model_gives_one_line_error(fast_runs, tmp_path, capsys):
    output = tmp_path / "model.keras"
    status = cli.main(["convert-tf1", "--model", "pointnet2_cls_msg", "--num_classes", "4", "--checkpoint",
                       fast_runs["pointnet2_cls_ssg"]["checkpoint"], "--output", str(output)])
    err = capsys.readouterr().err.strip()
    assert status == 1 and err.count("\n") == 0 and err.startswith("pointnet-tf2 convert-tf1: error: ")
    assert "(the checkpoint looks like pointnet2_cls_ssg with num_classes=4)" in err
    assert "model weight(s) not in the checkpoint: layer1_conv0_0/kernel [3, 32]" in err
    assert "checkpoint variable(s) not used by the model: layer1/conv0/biases [8]" in err
    assert not output.exists()


def test_mapping_reads_conv1d_kernels_and_contrib_moving_statistics(tmp_path, rng):
    import tensorflow as tf

    values = {
        "fc1/weights": rng.normal(size=(1, 4, 8)).astype(np.float32),  # tf_util.conv1d
        "fc1/biases": rng.normal(size=8).astype(np.float32),
        "fc1/bn/beta": rng.normal(size=8).astype(np.float32),
        "fc1/bn/gamma": rng.normal(size=8).astype(np.float32),
        "fc1/bn/moving_mean": rng.normal(size=8).astype(np.float32),
        "fc1/bn/moving_variance": rng.uniform(0.5, 2, size=8).astype(np.float32),
        "fc2/weights": rng.normal(size=(1, 1, 8, 3)).astype(np.float32),  # tf_util.conv2d [1, 1]
        "fc2/biases": rng.normal(size=3).astype(np.float32),
        "fc1/bn/moving_mean/Adam": np.zeros(8, np.float32),
    }
    with tf.Graph().as_default():
        saved = [tf.compat.v1.get_variable(n, initializer=tf.constant(v)) for n, v in values.items()]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = tf.compat.v1.train.Saver(saved).save(sess, str(tmp_path / "model.ckpt"))
    inputs = keras.Input((5, 4))
    x = keras.layers.Dense(8, name="fc1")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="fc1_bn")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="fc2")(x))

    mapping = load_tf1_checkpoint(model, prefix)
    assert mapping.ignored == ["fc1/bn/moving_mean/Adam"]
    np.testing.assert_array_equal(model.get_layer("fc1").kernel.numpy(), values["fc1/weights"][0])
    np.testing.assert_array_equal(model.get_layer("fc2").kernel.numpy(), values["fc2/weights"][0, 0])
    bn = model.get_layer("fc1_bn")
    np.testing.assert_array_equal(bn.moving_mean.numpy(), values["fc1/bn/moving_mean"])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), values["fc1/bn/moving_variance"])
    np.testing.assert_array_equal(bn.beta.numpy(), values["fc1/bn/beta"])


# Trainable parameters and batch-norm moving values of the original graphs (REFERENCE 9).
ORIGINAL_COUNTS = {
    "pointnet2_cls_ssg": (1_475_688, 6_656),
    "pointnet2_cls_msg": (1_747_368, 9_024),
    "pointnet2_part_seg": (1_409_202, 7_936),
    "pointnet2_part_seg_msg": (1_740_958, 9_672),
    "pointnet2_sem_seg": (967_981, 7_680),
}


@pytest.mark.slow
def test_references_at_the_original_sizes_have_the_original_counts(migration_env):
    proc = migration_env.run_python([migration_env.DRIVER, "pointnet2-count", "--tree", migration_env.ORIGINAL])
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = {r["network"]: (r["trainable_params"], r["moving_values"])
              for r in map(json.loads, proc.stdout.splitlines())}
    assert counts == ORIGINAL_COUNTS


@pytest.mark.slow
def test_convert_command_on_an_original_size_checkpoint(migration_env, tmp_path, capsys):
    """`convert-tf1 --model pointnet2_cls_ssg` with every default, on a checkpoint of the original-size graph."""
    out = tmp_path / "tf1"
    out.mkdir()
    configs = out / "configs.json"
    configs.write_text(json.dumps({"pointnet2_cls_ssg": {}}))
    proc = migration_env.run_python([migration_env.DRIVER, "pointnet2", "--tree", migration_env.ORIGINAL,
                                     "--out", str(out), "--configs", str(configs), "--steps", "1",
                                     "--batch", "2", "--points", "128"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = tmp_path / "pn2.keras"
    status = cli.main(["convert-tf1", "--model", "pointnet2_cls_ssg", "--checkpoint", str(out / "pointnet2_cls_ssg"),
                       "--output", str(output), "--num_points", "any"])
    assert status == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().err
    model = keras.saving.load_model(output)
    data = dict(np.load(out / "pointnet2_cls_ssg" / "parity.npz"))
    ours = np.asarray(model(data["input_points"], training=False))
    assert ours.shape == (2, 40)
    assert relative_difference(ours, data["output_logits"]) < PARITY_TOLERANCE
