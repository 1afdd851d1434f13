import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import cli
from pointnet_tf2 import get_model
from pointnet_tf2.layers.transform_net import FlattenedIdentity
from pointnet_tf2.migration import load_tf1_checkpoint
from pointnet_tf2.migration.tf1_checkpoint import guess_tf1_network

# tf1_driver network -> (zoo model, builder arguments matching the TF1 run)
ZOO = {
    "cls": ("pointnet_cls", {"num_classes": 40}),
    "cls_basic": ("pointnet_cls_basic", {"num_classes": 40}),
    "sem_seg": ("pointnet_sem_seg", {"num_classes": 13}),
    "part_seg": ("pointnet_part_seg", {"num_parts": 50, "num_categories": 16}),
    "dgcnn_cls_tf": ("dgcnn_cls_tf", {"num_classes": 40}),
    "dgcnn_part_seg": ("dgcnn_part_seg", {"num_parts": 50, "num_categories": 16}),
    "dgcnn_sem_seg": ("dgcnn_sem_seg", {"num_classes": 13}),
}
PARITY_TOLERANCE = 1e-4  # max |keras - tf1| relative to max |tf1 logits|


def keras_outputs(model, data):
    """The converted model's inference outputs, keyed like parity.npz."""
    if "input_category" in data:
        out = model({"points": data["input_points"], "category": data["input_category"]}, training=False)
        outputs = {"output_logits": np.asarray(out["parts"])}
        if "category" in out:  # DGCNN part seg has no category classifier
            outputs["output_category_logits"] = np.asarray(out["category"])
        return outputs
    return {"output_logits": np.asarray(model(data["input_points"], training=False))}


def relative_difference(ours, reference):
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


@pytest.mark.parametrize("network", sorted(ZOO))
def test_converted_checkpoint_gives_the_tf1_logits(tf1_runs, network):
    run = tf1_runs[network]
    name, config = ZOO[network][0], dict(ZOO[network][1])
    data = dict(np.load(os.path.join(run["folder"], "parity.npz")))
    config["num_points"] = data["input_points"].shape[1]
    model = get_model(name, **config)
    mapping = load_tf1_checkpoint(model, run["checkpoint"])
    assert len(mapping.assigned) == len(model.weights)
    counters = {"beta1_power", "beta2_power", "Variable"}
    assert counters <= set(mapping.ignored)
    assert all(n.endswith(("/Adam", "/Adam_1")) for n in set(mapping.ignored) - counters)

    ours = keras_outputs(model, data)
    assert sorted(ours) == sorted(k for k in data if k.startswith("output_"))
    for key, value in ours.items():
        reference = data[key]
        assert value.shape == reference.shape
        difference = relative_difference(value, reference)
        print(f"parity {network} {key}: max |keras - tf1| = {np.max(np.abs(value - reference)):.3g}, "
              f"logit scale {np.max(np.abs(reference)):.3g}, relative {difference:.3g}")
        assert difference < PARITY_TOLERANCE, (network, key)
    # The moving averages were trained: inference differs from an unconverted model.
    fresh = keras_outputs(get_model(name, **config), data)
    assert relative_difference(fresh["output_logits"], data["output_logits"]) > 0.1


def test_convert_command_writes_a_keras_file_with_the_same_outputs(tf1_runs, tmp_path, capsys):
    run = tf1_runs["part_seg"]
    output = tmp_path / "part.keras"
    # The folder works too: its `checkpoint` state file names model.ckpt.
    status = cli.main(["convert-tf1", "--model", "pointnet_part_seg", "--checkpoint", run["folder"],
                       "--output", str(output), "--num_points", "any"])
    assert status == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().err
    model = keras.saving.load_model(output)
    assert {t.name: t.shape for t in model.inputs}["points"][1] is None
    data = dict(np.load(os.path.join(run["folder"], "parity.npz")))
    for key, value in keras_outputs(model, data).items():
        assert relative_difference(value, data[key]) < PARITY_TOLERANCE, key
    assert sorted(os.listdir(tmp_path)) == ["part.keras"]


def test_convert_command_handles_dgcnn_checkpoints_with_pop_statistics(tf1_runs, tmp_path, capsys):
    run = tf1_runs["dgcnn_sem_seg"]
    output = tmp_path / "sem.keras"
    status = cli.main(["convert-tf1", "--model", "dgcnn_sem_seg", "--checkpoint", run["checkpoint"],
                       "--output", str(output), "--num_points", "any"])
    assert status == 0, capsys.readouterr().err
    model = keras.saving.load_model(output)
    # pop_mean / pop_var became the moving statistics.
    reader = tf.train.load_checkpoint(run["checkpoint"])
    bn = model.get_layer("seg_conv1_bn")
    np.testing.assert_array_equal(bn.moving_mean.numpy(), reader.get_tensor("seg/conv1/bn/pop_mean"))
    np.testing.assert_array_equal(bn.moving_variance.numpy(), reader.get_tensor("seg/conv1/bn/pop_var"))
    data = dict(np.load(os.path.join(run["folder"], "parity.npz")))
    for key, value in keras_outputs(model, data).items():
        assert relative_difference(value, data[key]) < PARITY_TOLERANCE, key


def convert_error(args, output, capsys):
    """Runs a failing convert-tf1 and returns its one-line error."""
    status = cli.main(["convert-tf1", *args, "--output", str(output)])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert err.count("\n") == 0 and err.startswith("pointnet-tf2 convert-tf1: error: ")
    return err


def test_bad_checkpoints_give_one_line_errors_and_write_nothing(tf1_runs, tmp_path, capsys):
    output = tmp_path / "model.keras"
    output.write_bytes(b"a good model from before")
    cls = tf1_runs["cls"]["checkpoint"]

    err = convert_error(["--model", "pointnet_cls", "--checkpoint", cls[: -len(".ckpt")]], output, capsys)
    assert "model.index: checkpoint index file is missing (found model.ckpt.data-00000-of-00001" in err

    truncated = tmp_path / "truncated"
    truncated.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(cls + suffix, truncated / ("model.ckpt" + suffix))
    data_file = truncated / "model.ckpt.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    err = convert_error(["--model", "pointnet_cls", "--checkpoint", str(truncated / "model.ckpt")], output, capsys)
    assert "cannot read the checkpoint" in err and "is it complete?" in err

    err = convert_error(["--model", "pointnet_cls", "--checkpoint", tf1_runs["cls_basic"]["checkpoint"]], output, capsys)
    assert "(the checkpoint looks like pointnet_cls_basic with num_classes=40)" in err
    assert "64 model weight(s) not in the checkpoint: transform_net1_tconv1/kernel [3, 64]" in err

    err = convert_error(["--model", "pointnet_cls", "--num_classes", "10", "--checkpoint", cls], output, capsys)
    assert "2 shape mismatch(es): fc3/weights [256, 40] vs model fc3/kernel [256, 10]" in err

    err = convert_error(["--model", "pointnet_cls_basic", "--checkpoint", cls], output, capsys)
    assert "64 checkpoint variable(s) not used by the model: transform_net1/tconv1/biases [64]" in err

    err = convert_error(["--model", "pointnet_sem_seg", "--checkpoint", tf1_runs["part_seg"]["checkpoint"]],
                        output, capsys)
    assert "looks like pointnet_part_seg with num_parts=50, num_categories=16" in err

    err = convert_error(["--model", "dgcnn_sem_seg", "--checkpoint", tf1_runs["dgcnn_part_seg"]["checkpoint"]],
                        output, capsys)
    assert "looks like dgcnn_part_seg with num_parts=50, num_categories=16" in err
    assert "checkpoint variable(s) not used by the model: one_hot_label_expand/biases [64]" in err

    err = convert_error(["--model", "pointnet_cls", "--checkpoint", tf1_runs["dgcnn_cls_tf"]["checkpoint"]],
                        output, capsys)
    assert "(the checkpoint looks like dgcnn_cls_tf with num_classes=40)" in err

    assert output.read_bytes() == b"a good model from before"
    assert sorted(os.listdir(tmp_path)) == ["model.keras", "truncated"]


def write_tf1_checkpoint(path, variables, sharded=False):
    """Saves `{name: value}` with a tf.compat.v1 Saver (names exactly as given)."""
    with tf.Graph().as_default():
        saved = [tf.compat.v1.get_variable(name, initializer=tf.constant(value)) for name, value in variables.items()]
        saver = tf.compat.v1.train.Saver(saved, sharded=sharded)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return saver.save(sess, str(path))


def tiny_model():
    inputs = keras.Input((6, 4))
    x = keras.layers.Dense(8, name="net_conv1")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="net_conv1_bn")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dense(9, kernel_initializer="zeros", bias_initializer=FlattenedIdentity(),
                           name="net_transform_XYZ")(x)
    return keras.Model(inputs, x)


def tiny_checkpoint(rng):
    shadow = "net/conv1/bn/net/conv1/bn/moments/{}/ExponentialMovingAverage"
    return {
        "net/conv1/weights": rng.normal(size=(1, 1, 4, 8)).astype(np.float32),
        "net/conv1/biases": rng.normal(size=8).astype(np.float32),
        "net/conv1/bn/beta": rng.normal(size=8).astype(np.float32),
        "net/conv1/bn/gamma": rng.normal(size=8).astype(np.float32),
        shadow.format("Squeeze"): rng.normal(size=8).astype(np.float32),
        shadow.format("Squeeze_1"): rng.uniform(0.5, 2, size=8).astype(np.float32),
        "net/transform_XYZ/weights": rng.normal(size=(8, 9)).astype(np.float32),
        "net/transform_XYZ/biases": rng.normal(size=9).astype(np.float32),
        "net/conv1/weights/Adam": np.zeros((1, 1, 4, 8), np.float32),
        "beta1_power": np.float32(0.9),
        "Variable": np.int32(12),
    }


def test_mapping_reshapes_kernels_adds_the_identity_and_reads_ema_shadows(tmp_path, rng):
    values = tiny_checkpoint(rng)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt", values)
    model = tiny_model()
    mapping = load_tf1_checkpoint(model, prefix + ".index")  # a file of the checkpoint works too
    assert mapping.ignored == ["Variable", "beta1_power", "net/conv1/weights/Adam"]
    conv, bn, tnet = (model.get_layer(n) for n in ("net_conv1", "net_conv1_bn", "net_transform_XYZ"))
    np.testing.assert_array_equal(conv.kernel.numpy(), values["net/conv1/weights"].reshape(4, 8))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), values[
        "net/conv1/bn/net/conv1/bn/moments/Squeeze/ExponentialMovingAverage"])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), values[
        "net/conv1/bn/net/conv1/bn/moments/Squeeze_1/ExponentialMovingAverage"])
    np.testing.assert_array_equal(bn.gamma.numpy(), values["net/conv1/bn/gamma"])
    np.testing.assert_allclose(tnet.bias.numpy(), values["net/transform_XYZ/biases"] + np.eye(3).ravel(), rtol=1e-6)
    np.testing.assert_array_equal(tnet.kernel.numpy(), values["net/transform_XYZ/weights"])


def test_mapping_reads_pop_statistics_and_one_d_kernels(tmp_path, rng):
    values = {
        "net/conv1/weights": rng.normal(size=(1, 4, 8)).astype(np.float32),  # a tf_util.conv1d kernel
        "net/conv1/biases": rng.normal(size=8).astype(np.float32),
        "net/conv1/bn/beta": rng.normal(size=8).astype(np.float32),
        "net/conv1/bn/gamma": rng.normal(size=8).astype(np.float32),
        "net/conv1/bn/pop_mean": rng.normal(size=8).astype(np.float32),
        "net/conv1/bn/pop_var": rng.uniform(0.5, 2, size=8).astype(np.float32),
    }
    # Sharded, as DGCNN's train_multi_gpu.py saves.
    prefix = write_tf1_checkpoint(tmp_path / "epoch_0.ckpt", values, sharded=True)
    inputs = keras.Input((6, 4))
    x = keras.layers.Dense(8, name="net_conv1")(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization(epsilon=1e-3, name="net_conv1_bn")(x))
    mapping = load_tf1_checkpoint(model, prefix)
    assert len(mapping.assigned) == 6 and mapping.ignored == []
    conv, bn = model.get_layer("net_conv1"), model.get_layer("net_conv1_bn")
    np.testing.assert_array_equal(conv.kernel.numpy(), values["net/conv1/weights"][0])
    np.testing.assert_array_equal(bn.moving_mean.numpy(), values["net/conv1/bn/pop_mean"])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), values["net/conv1/bn/pop_var"])


def test_unknown_variables_fail_and_nothing_is_assigned(tmp_path, rng):
    values = tiny_checkpoint(rng)
    values["net/conv2/kernel"] = np.zeros((3, 3), np.float32)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt", values)
    model = tiny_model()
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match=r"1 checkpoint variable\(s\) not used by the model: net/conv2/kernel \[3, 3\]"):
        load_tf1_checkpoint(model, prefix)
    for old, weight in zip(before, model.weights):
        np.testing.assert_array_equal(old, weight.numpy())


def test_guess_network_from_shapes():
    assert guess_tf1_network({"fc3/weights": (256, 10)}) == "pointnet_cls_basic with num_classes=10"
    assert guess_tf1_network({"conv8/weights": (1, 1, 256, 13), "fc2/weights": (256, 128)}) == \
        "pointnet_sem_seg with num_classes=13"
    assert guess_tf1_network({"dgcnn1/weights": (1, 1, 6, 64), "fc3/weights": (256, 10)}) == \
        "dgcnn_cls_tf with num_classes=10"
    assert guess_tf1_network({"adj_conv7/weights": (1, 1, 192, 1024), "one_hot_label_expand/weights": (1, 1, 4, 64),
                              "seg/conv4/weights": (1, 1, 128, 7)}) == "dgcnn_part_seg with num_parts=7, num_categories=4"
    assert guess_tf1_network({"adj_conv7/weights": (1, 1, 192, 1024), "seg/conv3/weights": (1, 1, 256, 13)}) == \
        "dgcnn_sem_seg with num_classes=13"
    assert guess_tf1_network({"a/b": (1,)}) is None
