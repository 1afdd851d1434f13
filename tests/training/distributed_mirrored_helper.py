"""Run by test_distribute.py in a subprocess: `mirrored` on 2 logical CPU devices.

The logical devices must be configured before TensorFlow initialises its
devices, hence a fresh process. Usage:

    python distributed_mirrored_helper.py DATA_DIR LOG_DIR OUT_JSON

It writes a JSON report of the checks to OUT_JSON (the test asserts on it):

1. One training step, same global batch (8 clouds) and same weights, on one
   device and on 2 replicas x 4 clouds. Dropout is switched off in both
   (its masks cannot match across devices). The model is the full
   `pointnet_cls` (T-Nets + orthogonality regulariser), so the loss scaling of
   both the cross-entropy and the regulariser is covered.
   - with synchronised batch norm the math is the same: loss, regulariser and
     weights after an SGD step must agree;
   - with per-replica batch norm (the default) each replica normalises with
     the statistics of its own 4 clouds, so the loss is the MEAN of the
     single-device losses of the two half batches; after the epoch-end
     averaging every replica holds the same moving statistics, and the first
     BN layer (whose input does not depend on any other BN layer) holds
     exactly the single-device moving mean of the global batch.
2. `train_cls.py --distribute mirrored` for 2 short epochs, then `--resume` for a third.
"""

import contextlib
import io
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pointnet_tf2.compat import flatten_layers  # noqa: E402
from pointnet_tf2.data import PointCloudSequence  # noqa: E402
from pointnet_tf2.layers import set_fused_kernels  # noqa: E402
from pointnet_tf2.data import open_dataset  # noqa: E402
from pointnet_tf2.training import distribute as dist  # noqa: E402
from pointnet_tf2.training.callbacks import batch_norm_layers  # noqa: E402
from pointnet_tf2.training.cli import main  # noqa: E402
from pointnet_tf2.training.trainer import TrainConfig  # noqa: E402
from pointnet_tf2.training.trainer import build_model  # noqa: E402
from pointnet_tf2.training.trainer import compile_model  # noqa: E402


def no_dropout(model):
    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    return model


def step(model, x, y):
    # model.fit splits the global batch over the replicas; train_on_batch
    # would give every replica the whole batch.
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return {k: float(v[-1]) for k, v in history.history.items()}


def replica_values(variable):
    return [np.asarray(v) for v in variable.value.values]


def one_step_checks(data):
    report = {}
    # Per-replica BN with the full model (T-Nets + regulariser); synchronised BN
    # with the regulariser off (see distribute.set_synchronized_batch_norm).
    for case, weight in (("per_replica", None), ("sync", 0.0)):
        config = TrainConfig(task="cls", data=data, model="pointnet_cls", num_point=64, batch_size=8,
                             optimizer="momentum", learning_rate=0.01, orthogonal_weight=weight,
                             lr_schedule="staircase").resolved()
        report[case] = _one_step_checks(data, config, case)
    return report


def _one_step_checks(data, config, case):
    description = open_dataset(data, task="cls")
    seq = PointCloudSequence(description, batch_size=8, num_points=64, augment=False, shuffle=False)
    x, y = seq[0]
    strategy = dist.create_strategy("mirrored")
    keras.utils.set_random_seed(0)
    reference = no_dropout(compile_model(build_model(config, description), config, description))
    # A few steps move the feature transform away from the identity, where the regulariser is 0.
    for index in range(1, 4):
        reference.train_on_batch(*seq[index])
    weights = reference.get_weights()
    single = no_dropout(compile_model(build_model(config, description), config, description))
    single.set_weights(weights)
    with strategy.scope():
        mirrored = no_dropout(compile_model(build_model(config, description), config, description))
        mirrored.optimizer.build(mirrored.trainable_variables)
    mirrored.set_weights(weights)
    report = {"replicas": strategy.num_replicas_in_sync}

    if case == "sync":  # identical math: same loss, same weights after the step
        dist.prepare_model(strategy, mirrored, sync_batch_norm=True)
        report["single"] = step(single, x, y)
        report["mirrored"] = step(mirrored, x, y)
        # Trainable weights after one SGD step; the difference is compared with
        # the size of the step (float32 sums run in another order, and a few
        # gradients are pure rounding noise, e.g. a BN beta followed by another BN).
        trainable = [i for i, w in enumerate(single.weights) if w.trainable]
        after_single, after_mirrored = single.get_weights(), mirrored.get_weights()
        report["max_update"] = max(float(np.max(np.abs(after_single[i] - weights[i]))) for i in trainable)
        report["max_trainable_diff"] = max(float(np.max(np.abs(after_single[i] - after_mirrored[i])))
                                           for i in trainable)
        moving = [i for i, w in enumerate(single.weights) if "moving" in w.path]
        report["max_moving_relative_diff"] = max(
            float(np.max(np.abs(after_single[i] - after_mirrored[i]) / (np.abs(after_single[i]) + 1e-3)))
            for i in moving)
        return report

    try:
        dist.set_synchronized_batch_norm(mirrored, local_replicas=2)
        report["sync_refused"] = None
    except ValueError as error:
        report["sync_refused"] = str(error)
    sync = dist.prepare_model(strategy, mirrored)
    halves, gradients = [], []
    for part in (slice(0, 4), slice(4, 8)):
        probe = no_dropout(compile_model(build_model(config, description), config, description))
        probe.set_weights(weights)
        with tf.GradientTape() as tape:
            y_pred = probe(x[part], training=True)
            loss = probe.compute_loss(x=x[part], y=y[part], y_pred=y_pred, training=True)
        gradients.append([np.asarray(g) for g in tape.gradient(loss, probe.trainable_weights)])
        halves.append({"loss": float(loss), "regularization_loss": float(sum(probe.losses))})
    step(single, x, y)
    b = step(mirrored, x, y)
    # SGD with momentum, first step: w - lr * g, with g the mean of the replicas' gradients.
    trainable = [i for i, w in enumerate(mirrored.weights) if w.trainable]
    after = mirrored.get_weights()
    expected = [weights[i] - config.learning_rate * (g0 + g1) / 2
                for i, g0, g1 in zip(trainable, *gradients)]
    report["max_update"] = max(float(np.max(np.abs(after[i] - weights[i]))) for i in trainable)
    report["max_diff_to_mean_half_gradient_step"] = max(
        float(np.max(np.abs(after[i] - e))) for i, e in zip(trainable, expected))
    first_bn = batch_norm_layers(mirrored)[0]
    before = replica_values(first_bn.moving_mean)
    sync.average_moving_statistics()
    after = [replica_values(v) for layer in batch_norm_layers(mirrored) for v in (layer.moving_mean, layer.moving_variance)]
    report.update({
        "halves": halves,
        "mirrored": b,
        "replicas_differed_before": float(np.max(np.abs(before[0] - before[1]))),
        "replicas_differ_after": max(float(np.max(np.abs(v[0] - v[1]))) for v in after),
        "first_bn": first_bn.name,
        "first_bn_moving_mean_diff": float(np.max(np.abs(
            replica_values(first_bn.moving_mean)[0] - np.asarray(batch_norm_layers(single)[0].moving_mean)))),
    })
    return report


def short_run(data, log_dir):
    args = ["--data", data, "--log_dir", log_dir, "--num_point", "64", "--batch_size", "16", "--verbose", "2",
            "--visuals_every", "0", "--model", "pointnet_cls_basic", "--distribute", "mirrored", "--no_test"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main("cls", args + ["--max_epoch", "2"])
        resumed = main("cls", args + ["--max_epoch", "3", "--resume"])
    return {"status": status, "resume_status": resumed, "stdout": out.getvalue()}


if __name__ == "__main__":
    # Synchronised batch norm runs the Keras path; compare it with the same path on one device.
    set_fused_kernels(False)
    data, log_dir, out_path = sys.argv[1:4]
    report = one_step_checks(data)
    report["run"] = short_run(data, log_dir)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)
