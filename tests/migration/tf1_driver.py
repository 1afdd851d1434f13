"""Runs the tf_upgrade_v2-upgraded TF1 reference (original/) under TensorFlow 2.

Run as a separate process by tests/migration (never imported by them), so
that the TF1 switches (`disable_v2_behavior`) do not leak into other tests.

    python tf1_driver.py train --tree UPGRADED --out DIR [--networks cls,sem_seg]
        Builds each network from the upgraded tree in its own graph, trains a
        few Adam steps on seeded random data with is_training=True, saves a
        tf.train.Saver checkpoint DIR/<network>/model.ckpt and writes
        DIR/<network>/result.json (parameter counts, losses, variables) and
        DIR/<network>/parity.npz (fixed inputs and the is_training=False
        outputs of the trained graph).

    python tf1_driver.py pointnet2 --tree ORIGINAL --out DIR --configs JSON
        The same for the TF1 PointNet++ references (ORIGINAL/pointnet2/, run
        as written: they are tf.compat.v1 code), one per zoo model name in
        the JSON `{model: get_model keyword arguments}`; the MSG part
        segmentation network is fed category ids.

    python tf1_driver.py pointnet2-count --tree ORIGINAL
        Builds every TF1 PointNet++ reference at the original sizes (graph
        only) and prints one JSON line per network with its trainable
        parameters and batch-norm moving values.

    python tf1_driver.py gaps --tree A --tree B ...
        Builds the classification network from each tree under TF2 behaviour
        (inside a tf.Graph) and prints one JSON line per tree: "ok" or the
        exception type and message.
"""

import argparse
import json
import os

import numpy as np

from pointnet_tf2.migration.original_graph import NETWORKS
from pointnet_tf2.migration.original_graph import POINTNET2_NETWORKS
from pointnet_tf2.migration.original_graph import build_pointnet2
from pointnet_tf2.migration.original_graph import load_pointnet2_module
from pointnet_tf2.migration.original_graph import random_pointnet2_feed
from pointnet_tf2.migration.original_graph import build_network as build
from pointnet_tf2.migration.original_graph import load_network_module as load_module
from pointnet_tf2.migration.original_graph import random_feed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

def train(args):
    import tensorflow as tf

    if args.v2_behavior == "off":
        tf.compat.v1.disable_v2_behavior()
    for network in args.networks.split(","):
        if network not in NETWORKS:
            raise SystemExit(f"unknown network {network!r}")
        module = load_module(args.tree, network)
        out = os.path.join(args.out, network)
        os.makedirs(out, exist_ok=True)
        rng = np.random.default_rng(args.seed)
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.set_random_seed(args.seed)
            step = tf.Variable(0)  # the original's global step (named "Variable")
            feeds, outputs, loss = build(tf, module, network, args.batch, args.points, args.bn_decay)
            train_op = tf.compat.v1.train.AdamOptimizer(args.learning_rate).minimize(loss, global_step=step)
            saver = tf.compat.v1.train.Saver()
            trainable = int(sum(np.prod(v.shape.as_list()) for v in tf.compat.v1.trainable_variables()
                                if v.dtype.base_dtype.is_floating))  # not the int32 step counter
            # BN moving statistics: EMA shadows, or pop_mean / pop_var (DGCNN segmentation).
            averages = int(sum(np.prod(v.shape.as_list()) for v in tf.compat.v1.global_variables()
                               if v.op.name.endswith(("/ExponentialMovingAverage", "/bn/pop_mean", "/bn/pop_var"))))
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                losses = []
                for _ in range(args.steps):
                    values = random_feed(network, rng, args.batch, args.points)
                    feed = {feeds[k]: v for k, v in values.items()}
                    feed[feeds["is_training"]] = True
                    loss_value, _ = sess.run([loss, train_op], feed)
                    losses.append(float(loss_value))
                record_run(tf, sess, saver, out, feeds, outputs, random_feed(network, rng, args.batch, args.points),
                           {"network": network, "trainable_params": trainable, "moving_average_params": averages,
                            "losses": losses})  # fmt: skip


def record_run(tf, sess, saver, out, feeds, outputs, values, result):
    """Saves the trained graph's checkpoint, runs inference on `values` twice, and writes what the tests read.

    `out/parity.npz` holds the inputs and outputs; `out/result.json` is
    `result` plus the checkpoint path, whether the second inference gave the
    same outputs (it must not move the moving averages) and every variable's
    shape.
    """
    checkpoint = saver.save(sess, os.path.join(out, "model.ckpt"))
    feed = {feeds[k]: v for k, v in values.items()}
    feed[feeds["is_training"]] = False
    results = sess.run(outputs, feed)
    again = sess.run(outputs, feed)
    np.savez(os.path.join(out, "parity.npz"), **{f"input_{k}": v for k, v in values.items()},
             **{f"output_{k}": v for k, v in results.items()})
    result = dict(result, checkpoint=checkpoint,
                  inference_repeatable=all(np.array_equal(results[k], again[k]) for k in results),
                  variables={v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()})
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(json.dumps({k: result[k] for k in ("network", "trainable_params", "losses")}), flush=True)


def pointnet2(args):
    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    with open(args.configs) as f:
        configs = json.load(f)
    for network, config in configs.items():
        module = load_pointnet2_module(args.tree, network)
        out = os.path.join(args.out, network)
        os.makedirs(out, exist_ok=True)
        rng = np.random.default_rng(args.seed)
        sizes = dict(module.DEFAULTS, **config)  # an empty config: the original's sizes
        classes = sizes.get("num_classes", sizes.get("num_parts"))

        def feed_values():
            return random_pointnet2_feed(network, rng, args.batch, args.points, num_classes=classes,
                                         num_categories=sizes.get("num_categories"))

        with tf.Graph().as_default():
            tf.compat.v1.set_random_seed(args.seed)
            step = tf.Variable(0)  # the original's global step ("Variable")
            feeds, outputs, loss = build_pointnet2(tf, module, network, args.batch, args.points, args.bn_decay,
                                                   config)
            train_op = tf.compat.v1.train.AdamOptimizer(args.learning_rate).minimize(loss, global_step=step)
            saver = tf.compat.v1.train.Saver()
            trainable = int(sum(np.prod(v.shape.as_list()) for v in tf.compat.v1.trainable_variables()
                                if v.dtype.base_dtype.is_floating))
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                losses = []
                for _ in range(args.steps):
                    feed = {feeds[k]: v for k, v in feed_values().items()}
                    feed[feeds["is_training"]] = True
                    losses.append(float(sess.run([loss, train_op], feed)[0]))
                record_run(tf, sess, saver, out, feeds, outputs, feed_values(),
                           {"network": network, "trainable_params": trainable, "losses": losses})


def pointnet2_count(args):
    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    for network in POINTNET2_NETWORKS:
        module = load_pointnet2_module(args.tree, network)
        with tf.Graph().as_default():
            build_pointnet2(tf, module, network, 2, 256, 0.5)
            trainable = sum(int(np.prod(v.shape.as_list())) for v in tf.compat.v1.trainable_variables())
            moving = sum(int(np.prod(v.shape.as_list())) for v in tf.compat.v1.global_variables()
                         if v.op.name.endswith(("/bn/moving_mean", "/bn/moving_variance")))
        print(json.dumps({"network": network, "trainable_params": trainable, "moving_values": moving}), flush=True)


def gaps(args):
    import tensorflow as tf

    for tree in args.tree:
        try:
            module = load_module(tree, "cls")
            with tf.Graph().as_default():
                step = tf.Variable(0)
                feeds, _, loss = build(tf, module, "cls", args.batch, args.points, 0.5)
                train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=step)
                merged = tf.compat.v1.summary.merge_all()  # as train.py does
                values = random_feed("cls", np.random.default_rng(0), args.batch, args.points)
                feed = {feeds[k]: v for k, v in values.items()}
                feed[feeds["is_training"]] = True
                with tf.compat.v1.Session() as sess:
                    sess.run(tf.compat.v1.global_variables_initializer())
                    sess.run([merged, train_op], feed)
            outcome = {"tree": tree, "status": "ok"}
        except Exception as error:  # noqa: BLE001 - reported to the test
            outcome = {"tree": tree, "status": type(error).__name__, "message": str(error).splitlines()[0]}
        print(json.dumps(outcome), flush=True)
    # Outside any tf.Graph, TF2 runs eagerly and the original's placeholders fail.
    module = load_module(args.tree[-1], "cls")
    try:
        module.placeholder_inputs(args.batch, args.points)
        outcome = {"tree": "eager", "status": "ok"}
    except Exception as error:  # noqa: BLE001
        outcome = {"tree": "eager", "status": type(error).__name__, "message": str(error).splitlines()[0]}
    print(json.dumps(outcome), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--tree", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--networks", default=",".join(NETWORKS))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--points", type=int, default=64)
    p.add_argument("--bn_decay", type=float, default=0.5)
    p.add_argument("--learning_rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--v2_behavior", choices=("off", "on"), default="off")
    p.set_defaults(func=train)
    p = sub.add_parser("pointnet2")
    p.add_argument("--tree", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--configs", required=True, help="JSON file {zoo model: get_model keyword arguments}")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--points", type=int, default=64)
    p.add_argument("--bn_decay", type=float, default=0.5)
    p.add_argument("--learning_rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=pointnet2)
    p = sub.add_parser("pointnet2-count")
    p.add_argument("--tree", required=True)
    p.set_defaults(func=pointnet2_count)
    p = sub.add_parser("gaps")
    p.add_argument("--tree", action="append", required=True)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--points", type=int, default=32)
    p.set_defaults(func=gaps)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
