"""Performance benchmark: pointnet-tf2 against the original TF1 graph and the machine's GEMM ceiling.

One run measures, on this machine, with every figure from its own child
process (so peak RSS is that measurement's own):

1. the fp32 GEMM rate through TensorFlow (4096^3: the ceiling) and on a
   PointNet-shaped product (32768 x 128 by 128 x 1024);
2. training samples/s of each task's default model through the real trainer
   (`pointnet_tf2.training.train`: `model.fit` on the `PointCloudSequence`
   with the original's augmentation, checkpoints and logs; float32, and
   with `--bf16_products`) and of the upgraded `original/` graph (tf_upgrade_v2 + post-upgrade fixes, run with
   `tf.compat.v1` sessions) on the same data and batches, as the original's
   train.py feeds it;
3. inference samples/s: the original graph, our model as built (plain), with
   batch norm folded (`fold_batch_norm`, the fast path, and without its
   Dense + max-pool fusion) and the exported SavedModel, with the largest output difference of each from the plain path;
4. achieved GFLOP/s (2 x the multiply-adds counted by
   `pointnet_tf2.utils.flops`, x3 for a training step) and the fraction of
   the ceiling;
5. data-pipeline samples/s (the training Sequence alone) next to training;
6. peak RSS of a training run and of streaming a dataset larger than the
   sequence's memory budget;
7. (not with --quick) levers: the plain Keras path (fused kernels off),
   steps_per_execution, XLA, one inter-op thread, and per-layer micro
   benchmarks (Dense vs Conv1D vs PointwiseDense, Keras vs fused batch norm,
   reduce_max vs max pool).

Tasks: cls (1024 points, batch 32), sem_seg (4096 points, batch 24) and
part_seg (2048 points, batch 32), on the built-in synthetic datasets.

The families section (`--sections families` runs it alone) measures, on
random clouds: DGCNN's kNN alone, direct and chunked (batch 8 x 1024 points
and 24 x 4096, 64 channels, k = 20) with peak memory; `pointnet_cls`,
`pointnet2_cls_ssg` and `dgcnn_cls` training and inference samples/s and
peak RSS (batch 32 x 1024 points); the kNN share of a `dgcnn_cls` training
step; PointNet++'s ops alone (farthest point sampling 16 x 1024 -> 512,
ball query, grouping, three-NN interpolation) against one 1024-wide
shared-MLP layer on the same batch; the share of FPS and the ball query in
a `pointnet2_cls_ssg` training step (batch 16, its recipe's); and peak
memory of a `dgcnn_sem_seg` forward at 24 x 4096 points with
`knn_chunk_size` unset and set.

The levers section (`--sections levers`, issue 19) measures per PointNet
cls layer (64->64, 64->128, 128->1024 shared MLP, fc 1024->512; batch 32 x
1024 points) forward + backward, alternated in one process: the fp32
product against bf16 operands, and the training block Dense + batch norm +
ReLU as built against the `BatchNormReLU` prototype (with and without XLA).

    python benchmarks/run.py --quick --json perf.json   # about 8 minutes on 2 cores
    python benchmarks/run.py --sections pointnet --json perf.json           # about 28 minutes
    python benchmarks/run.py --sections families --json families.json   # about 18 minutes (under load)
    python benchmarks/run.py --sections levers --json levers.json        # a few minutes

Run it on a quiet machine: every figure is a rate.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bench_data  # benchmarks/ is the script's folder, so on sys.path
import numpy as np

from pointnet_tf2.utils.progress import Progress

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TASKS = {  # task -> points, batch, dataset sizes (full, quick)
    "cls": {"points": 1024, "batch": 32, "sizes": ({"num_train": 480, "num_test": 32}, {"num_train": 320, "num_test": 32})},
    "sem_seg": {"points": 4096, "batch": 24, "sizes": ({"num_train": 2, "num_test": 1}, {"num_train": 1, "num_test": 1})},
    "part_seg": {"points": 2048, "batch": 32, "sizes": ({"num_train": 192, "num_val": 8, "num_test": 8},
                                                        {"num_train": 96, "num_val": 8, "num_test": 8})},
}  # fmt: skip
TARGETS = {  # issue 19; "_bf16": trained with --bf16_products
    "train_speedup_vs_original": 2.0,
    "train_fraction_of_gemm": 0.6,
    "sem_seg_train_speedup_vs_original": 1.8,
    "part_seg_train_speedup_vs_original": 1.8,
    "train_speedup_vs_original_bf16": 2.0,
    "train_fraction_of_gemm_bf16": 0.6,
    "sem_seg_train_speedup_vs_original_bf16": 1.8,
    "part_seg_train_speedup_vs_original_bf16": 1.8,
    "infer_speedup_vs_original": 2.7,
    "infer_fraction_of_gemm": 0.88,
    "pipeline_over_train": 20.0,
}


def _peak_rss_mb(*seen):
    """The process's peak RSS (VmHWM), and at least any RSS `seen` earlier.

    The kernel updates VmHWM lazily: memory handed back with madvise (as
    malloc trims do) can lower the RSS without raising the recorded peak
    first, so an earlier VmRSS reading may exceed a later VmHWM.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return max([int(line.split()[1]) / 1024, *seen])
    return float("nan")


def _timed(function, repeats):
    """Median seconds of `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- children: each prints one JSON line -------------------------------------------------


def child_gemm(options):
    import tensorflow as tf

    matmul = tf.function(lambda a, b: tf.matmul(a, b))
    result = {}
    for name, (m, k, n), repeats in (("square_4096", (4096, 4096, 4096), options["repeats"]),
                                     ("pointnet_32768x128x1024", (32768, 128, 1024), 3 * options["repeats"])):  # fmt: skip
        a, b = tf.random.normal((m, k)), tf.random.normal((k, n))
        seconds = _timed(lambda: matmul(a, b).numpy(), repeats)
        result[name] = 2 * m * k * n / seconds / 1e9
    # The bf16 ceiling (--bf16_products): bf16 operands, float32 accumulation, a bf16 result.
    a, b = tf.cast(tf.random.normal((4096, 4096)), tf.bfloat16), tf.cast(tf.random.normal((4096, 4096)), tf.bfloat16)
    result["square_4096_bf16"] = 2 * 4096**3 / _timed(lambda: matmul(a, b).numpy(), options["repeats"]) / 1e9
    return result


def _dataset(options):
    from pointnet_tf2.data import open_dataset

    return open_dataset(options["data"], task=options["task"])


def _run_config(options):
    """The trainer's resolved `TrainConfig` for the task's points and batch, and the dataset description."""
    from pointnet_tf2.training.trainer import TrainConfig

    task = TASKS[options["task"]]
    config = TrainConfig(task=options["task"], data=options["data"], num_point=task["points"], batch_size=task["batch"],
                         lr_schedule="staircase")  # the original's; the benchmark times steps, not epochs
    return config.resolved(), _dataset(options)


def _batches(options, count, augment):
    """`count` batches of the task's training Sequence (as fed to both implementations)."""
    from pointnet_tf2.data import PointCloudSequence

    task = TASKS[options["task"]]
    seq = PointCloudSequence(_dataset(options), batch_size=task["batch"], num_points=task["points"], split="train",
                             augment=None if augment else False, shuffle=augment, drop_remainder=True, seed=0)  # fmt: skip
    return [seq[i % len(seq)] for i in range(count)]


def child_keras_train(options):
    """The real trainer for a few epochs; samples/s from log.csv (epochs after the first)."""
    import tensorflow as tf

    if options.get("inter_op"):
        tf.config.threading.set_inter_op_parallelism_threads(options["inter_op"])
    from pointnet_tf2.layers import set_fused_kernels
    from pointnet_tf2.training.trainer import TrainConfig
    from pointnet_tf2.training.trainer import train

    set_fused_kernels(not options.get("plain", False))
    task = TASKS[options["task"]]
    log_dir = os.path.join(options["workdir"], f"train_{options['task']}_{options['label']}")
    config = TrainConfig(task=options["task"], data=options["data"], max_epoch=options["epochs"], log_dir=log_dir,
                         num_point=task["points"], batch_size=task["batch"], validate_on="none", visuals_every=0,
                         test=False, verbose=0, steps_per_execution=options.get("steps_per_execution", 1),
                         jit_compile=options.get("jit_compile", False),
                         bf16_products=options.get("bf16_products", False))  # fmt: skip
    start = time.perf_counter()
    train(config)
    seconds = time.perf_counter() - start
    with open(os.path.join(log_dir, "log.csv")) as f:
        rates = [float(row["steps_per_second"]) * task["batch"] for row in csv.DictReader(f)]
    shutil.rmtree(log_dir, ignore_errors=True)
    return {"samples_per_s": statistics.median(rates[1:]), "epoch_rates": rates, "seconds": seconds,
            "peak_rss_mb": _peak_rss_mb()}  # fmt: skip


def _original_feed(task_name, feeds, batch):
    """The original's feed dict of one Sequence batch."""
    inputs, targets = batch
    if task_name == "part_seg":
        return {feeds["points"]: inputs["points"], feeds["category"]: inputs["category"],
                feeds["labels"]: targets["category"], feeds["seg"]: targets["parts"]}  # fmt: skip
    return {feeds["points"]: inputs, feeds["labels"]: targets}


def child_original(options):
    """The upgraded original graph: Adam training steps and inference, fed from the Sequence."""
    import tensorflow as tf

    from pointnet_tf2.migration.original_graph import build_network
    from pointnet_tf2.migration.original_graph import load_network_module

    tf.compat.v1.disable_v2_behavior()
    task_name = options["task"]
    task = TASKS[task_name]
    description = _dataset(options)
    counts = ({"num_categories": description.num_categories, "num_parts": description.num_parts}
              if task_name == "part_seg" else {"num_classes": description.num_classes})  # fmt: skip
    module = load_network_module(options["tree"], task_name)
    train_batches = _batches(options, options["steps"], augment=True)
    test_batches = _batches(options, options["steps"], augment=False)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)
        step = tf.Variable(0)
        feeds, outputs, loss = build_network(tf, module, task_name, task["batch"], task["points"], 0.5, **counts)
        train_op = tf.compat.v1.train.AdamOptimizer(0.001).minimize(loss, global_step=step)
        fetch_train = [train_op, loss, outputs["logits"]]  # as the original's train.py
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())

            def run(batches, fetches, training):
                for batch in batches:
                    feed = _original_feed(task_name, feeds, batch)
                    feed[feeds["is_training"]] = training
                    sess.run(fetches, feed)

            run(train_batches[:2], fetch_train, True)  # warm-up
            start = time.perf_counter()
            run(train_batches, fetch_train, True)
            train_rate = len(train_batches) * task["batch"] / (time.perf_counter() - start)
            infer = list(outputs.values())
            run(test_batches[:2], infer, False)
            start = time.perf_counter()
            run(test_batches, infer, False)
            infer_rate = len(test_batches) * task["batch"] / (time.perf_counter() - start)
    return {"train_samples_per_s": train_rate, "infer_samples_per_s": infer_rate, "peak_rss_mb": _peak_rss_mb()}


def child_keras_infer(options):
    """Inference: the model as built (plain), batch norm folded (with and without the max-pool fusion), SavedModel."""
    import tensorflow as tf

    from pointnet_tf2.export import export_model
    from pointnet_tf2.models import fold_batch_norm
    from pointnet_tf2.training.trainer import build_model
    from pointnet_tf2.utils.flops import count_multiply_adds

    task_name = options["task"]
    task = TASKS[task_name]
    config, description = _run_config(options)
    model = build_model(config, description)
    # Moving statistics away from their initial values, so folding has something to fold.
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if hasattr(layer, "moving_variance"):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape).astype("float32"))
    batches = [inputs for inputs, _ in _batches(options, options["steps"], augment=False)]
    folded = fold_batch_norm(model)
    folded_unfused = fold_batch_norm(model, fuse_max_pool=False)
    export_dir = os.path.join(options["workdir"], f"saved_model_{task_name}")
    export_model(model, export_dir, overwrite=True)
    served = tf.saved_model.load(export_dir)

    def first(outputs):
        outputs = outputs["parts"] if isinstance(outputs, dict) else outputs
        return np.asarray(outputs)

    paths = {
        "plain": tf.function(lambda x: model(x, training=False)),
        "folded_unfused": tf.function(lambda x: folded_unfused(x, training=False)),
        "folded": tf.function(lambda x: folded(x, training=False)),
        "saved_model": served.serve,
    }
    result = {"multiply_adds": count_multiply_adds(model, num_points=task["points"])}
    reference = first(paths["plain"](batches[0]))
    for name, function in paths.items():
        seconds = _timed(lambda f=function: [first(f(b)) for b in batches], options["repeats"])
        result[f"{name}_samples_per_s"] = len(batches) * task["batch"] / seconds
        result[f"{name}_max_abs_diff"] = float(np.abs(first(function(batches[0])) - reference).max())
    result["logit_scale"] = float(np.abs(reference).max())
    result["peak_rss_mb"] = _peak_rss_mb()
    shutil.rmtree(export_dir, ignore_errors=True)
    return result


def child_training_parity(options):
    """The fast path against plain Keras from the same weights: inference, training forward, loss, gradients."""
    import keras
    import tensorflow as tf

    from pointnet_tf2.layers import set_fused_kernels
    from pointnet_tf2.training.trainer import build_model
    from pointnet_tf2.training.trainer import compile_model

    config, description = _run_config(options)
    inputs, targets = _batches(options, 1, augment=True)[0]
    keras.utils.set_random_seed(0)
    initial = build_model(config, description).get_weights()
    results = {}
    for name, fused in (("plain", False), ("fused", True)):
        set_fused_kernels(fused)
        keras.utils.set_random_seed(0)  # the same dropout masks in both
        model = compile_model(build_model(config, description), config, description)
        model.set_weights(initial)
        inference = model(inputs, training=False)
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = model.compute_loss(x=inputs, y=targets, y_pred=outputs, training=True)
        gradients = tape.gradient(loss, model.trainable_variables)
        results[name] = (inference, outputs, float(loss), gradients)

    def diff(a, b):
        return max(float(np.abs(np.asarray(x) - np.asarray(y)).max()) for x, y in zip(keras.tree.flatten(a), keras.tree.flatten(b)))

    def scale(a):
        return max(float(np.abs(np.asarray(x)).max()) for x in keras.tree.flatten(a))

    plain, fused = results["plain"], results["fused"]
    return {"inference_max_abs_diff": diff(plain[0], fused[0]), "training_output_max_abs_diff": diff(plain[1], fused[1]),
            "logit_scale": scale(plain[1]), "loss_plain": plain[2], "loss_fused": fused[2],
            "gradient_max_abs_diff": diff(plain[3], fused[3]), "gradient_scale": scale(plain[3])}  # fmt: skip


def child_pipeline(options):
    """The training Sequence alone (same options as the trainer), direct __getitem__."""
    from pointnet_tf2.data import PointCloudSequence

    task = TASKS[options["task"]]
    seq = PointCloudSequence(_dataset(options), batch_size=task["batch"], num_points=task["points"], split="train", seed=0)
    seq[0]
    samples = 0
    start = time.perf_counter()
    for _ in range(options["epochs"]):
        for index in range(len(seq)):
            samples += len(seq[index][1])
        seq.on_epoch_end()
    return {"samples_per_s": samples / (time.perf_counter() - start), "peak_rss_mb": _peak_rss_mb()}


def _max_with_argmax(x):
    """Max over points keeping the arg-max (a lever tried: its backward scatters, its forward is slow)."""
    import tensorflow as tf

    pooled, _ = tf.nn.max_pool_with_argmax(tf.expand_dims(x, 2), ksize=[1, x.shape[1], 1, 1], strides=[1, 1, 1, 1],
                                           padding="VALID")  # fmt: skip
    return tf.reshape(pooled, (-1, x.shape[-1]))


def _covariance_normalized_dense(units):
    """Dense + training-mode batch norm + ReLU as ONE matmul (a lever tried).

    The batch statistics of `x W + b` follow from `x`'s mean and covariance
    (`mean(x) W + b`, `diag(W^T cov(x) W)`), so the normalisation folds into
    the weights before the product and the (B * N, units) activation is
    written once, by a fused matmul + bias + ReLU.
    """
    import keras
    import tensorflow as tf

    class CovarianceNormalizedDense(keras.layers.Layer):
        def build(self, input_shape):
            channels = input_shape[-1]
            self.kernel = self.add_weight(shape=(channels, units), initializer="glorot_uniform")
            self.bias = self.add_weight(shape=(units,), initializer="zeros")
            self.gamma = self.add_weight(shape=(units,), initializer="ones")
            self.beta = self.add_weight(shape=(units,), initializer="zeros")

        def call(self, x, training=None):
            flat = tf.reshape(x, (-1, x.shape[-1]))
            mean = tf.reduce_mean(flat, axis=0)
            centred = flat - mean
            covariance = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(flat)[0], flat.dtype)
            variance = tf.reduce_sum(self.kernel * tf.matmul(covariance, self.kernel), axis=0)
            scale = self.gamma * tf.math.rsqrt(variance + 1e-3)
            shift = (self.bias - (tf.linalg.matvec(self.kernel, mean, transpose_a=True) + self.bias)) * scale + self.beta
            return tf.nn.relu(tf.nn.bias_add(tf.matmul(flat, self.kernel * scale), shift))

    return CovarianceNormalizedDense()


def child_layers(options):
    """Forward + backward milliseconds of one per-point block in its variants (batch 32 x 1024 points)."""
    import keras
    import tensorflow as tf

    from pointnet_tf2.layers import FusedBatchNormalization
    from pointnet_tf2.layers import PointMaxPooling
    from pointnet_tf2.layers import PointwiseDense

    x128 = tf.random.normal((32, 1024, 128))
    x1024 = tf.random.normal((32, 1024, 1024))
    variants = {
        "128->1024 Dense (Keras)": (keras.layers.Dense(1024), x128),
        "128->1024 Conv1D kernel 1": (keras.layers.Conv1D(1024, 1), x128),
        "128->1024 PointwiseDense": (PointwiseDense(1024), x128),
        "128->1024 Dense + BN + ReLU (our layers)": (
            keras.Sequential([PointwiseDense(1024), FusedBatchNormalization(), keras.layers.ReLU()]), x128),
        "128->1024 Dense + BN + ReLU (BN from input covariance)": (_covariance_normalized_dense(1024), x128),
        "batch norm 1024 (Keras)": (keras.layers.BatchNormalization(), x1024),
        "batch norm 1024 (fused)": (FusedBatchNormalization(), x1024),
        "max over points (Keras GlobalMaxPooling1D)": (keras.layers.GlobalMaxPooling1D(), x1024),
        "max over points (max_pool_with_argmax)": (keras.layers.Lambda(_max_with_argmax), x1024),
        "max over points (PointMaxPooling)": (PointMaxPooling(), x1024),
    }
    result = {}
    for name, (layer, x) in variants.items():
        layer.build(x.shape)

        @tf.function
        def step(layer=layer, x=x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x, training=True))
            return tape.gradient(loss, [x] + layer.trainable_variables)

        result[name] = 1000 * _timed(lambda s=step: [g.numpy() for g in s()], options["repeats"])
    return result


def child_stream(options):
    """Streaming a dataset larger than the Sequence's memory budget (bench_data's child)."""
    return bench_data.run_child(child="stream_rss", source=options["source"], epochs=1, budget_mb=options["budget_mb"],
                                buffer_mb=16)  # fmt: skip


# -- the PointNet++ and DGCNN families (`--sections families`) --------------------------------

# Sizes of the families section: kNN alone (batch, points, channels, k, chunk), the classifiers (batch, points),
# DGCNN sem seg (batch, points, chunk), steps and repeats. "tiny" is for the tests, not a measurement.
FAMILY_SIZES = {
    "full": {"knn": [(8, 1024, 64, 20, 256), (24, 4096, 64, 20, 512)], "cls": (32, 1024), "sem_seg": (24, 4096, 512),
             "pn2_ops": (16, 1024, 512), "pn2_step": (16, 1024), "steps": 5, "repeats": 5},
    "quick": {"knn": [(8, 1024, 64, 20, 256), (24, 4096, 64, 20, 512)], "cls": (32, 1024), "sem_seg": (24, 4096, 512),
              "pn2_ops": (16, 1024, 512), "pn2_step": (16, 1024), "steps": 2, "repeats": 2},
    "tiny": {"knn": [(2, 64, 8, 4, 16), (2, 128, 8, 4, 32)], "cls": (2, 64), "sem_seg": (2, 128, 32),
             "pn2_ops": (2, 64, 32), "pn2_step": (2, 64), "steps": 1, "repeats": 1},
}  # fmt: skip
FAMILY_MODELS = ("pointnet_cls", "pointnet2_cls_ssg", "dgcnn_cls")
KNN_SHARE_TARGET = 0.25  # issue 18: the kNN within 25% of a DGCNN training step
SAMPLING_SHARE_TARGET = 0.20  # issue 16: sampling, grouping and interpolation within 20% of a PointNet++ step
FPS_OVER_MLP_TARGET = 10.0  # issue 16: FPS 1024 -> 512 within 10x one 1024-wide shared-MLP layer, same batch


def _rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _fixed_neighbours(queries, points, k, **_):
    """Stand-in for `sampling.knn` without the search: k random points per query (a fixed draw, as scattered in memory)."""
    import tensorflow as tf

    shape = tf.stack([tf.shape(queries)[0], tf.shape(queries)[1], k])
    return tf.random.stateless_uniform(shape, seed=[0, 0], minval=0, maxval=tf.shape(points)[1], dtype=tf.int32)


def child_knn(options):
    """`sampling.knn` alone on random features: ms per call (median) and peak RSS above the process before it.

    `channels` may be a list (one timing each, as the EdgeConvs of a network);
    the peak is then the largest of them.
    """
    import tensorflow as tf

    from pointnet_tf2.layers import sampling

    batch, points, k, chunk = options["batch"], options["points"], options["k"], options["chunk_size"]
    channels = options["channels"] if isinstance(options["channels"], list) else [options["channels"]]
    rng = np.random.default_rng(0)
    inputs = [tf.constant(rng.normal(size=(batch, points, c)).astype(np.float32)) for c in channels]
    search = tf.function(lambda x: sampling.knn(x, x, k, chunk_size=chunk))
    ready = _rss_mb()
    ms = [1000 * _timed(lambda x=x: search(x).numpy(), options["repeats"]) for x in inputs]
    peak = _peak_rss_mb(ready)
    distances_mb = batch * (chunk or points) * points * 4 / 2**20  # one (B, chunk, N) float32 distance matrix
    return {"ms": ms, "rss_ready_mb": ready, "peak_rss_mb": peak, "peak_above_ready_mb": peak - ready,
            "distance_matrix_mb": distances_mb}  # fmt: skip


def _step_function(model, mode, x, y):
    """A no-argument function running one training step (Adam) or one inference of `model` on `x`."""
    import keras
    import tensorflow as tf

    if mode == "train":
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        return lambda: model.train_on_batch(x, y)
    infer = tf.function(lambda clouds: model(clouds, training=False))
    return lambda: infer(x).numpy()


def _first_points(points, npoint):
    """Stand-in for `sampling.farthest_point_sample` without the search: the first `npoint` indices (cycling)."""
    import tensorflow as tf

    first = tf.range(npoint) % tf.shape(points)[1]
    return tf.tile(first[None, :], tf.stack([tf.shape(points)[0], 1]))


def _fixed_ball(points, centres, radius, nsample, **_):
    """Stand-in for `sampling.ball_query` without the search: `nsample` random points per centre, full counts."""
    import tensorflow as tf

    idx = _fixed_neighbours(centres, points, nsample)
    return idx, tf.fill(tf.shape(idx)[:2], nsample)


# The searches each share measurement replaces by a stand-in (same output shapes and gathers).
STAND_INS = {"dgcnn_cls": {"knn": _fixed_neighbours},
             "pointnet2_cls_ssg": {"farthest_point_sample": _first_points, "ball_query": _fixed_ball}}  # fmt: skip


def _searches_alone(model, batch, points, k, rng):
    """A no-argument function running the model's neighbour work alone, at the network's sizes.

    `dgcnn_cls`: the four kNN searches (3, 64, 64 and 128 channels).
    `pointnet2_cls_ssg`: both set-abstraction levels' sampling, ball query
    and grouping, forward and the grouping's gradient, plus the last level's
    grouping of every point.
    """
    import tensorflow as tf

    from pointnet_tf2.layers import sampling

    if model == "dgcnn_cls":
        features = [tf.constant(rng.normal(size=(batch, points, c)).astype(np.float32)) for c in (3, 64, 64, 128)]
        alone = tf.function(lambda *xs: [sampling.knn(f, f, k) for f in xs])
        return lambda: [t.numpy() for t in alone(*features)]
    # The original's levels: 512 centres (radius 0.2, 32 per ball) over XYZ, then 128 (0.4, 64) over 128
    # channels, then every point with 256 channels; the features stand for the levels' MLP outputs.
    xyz = tf.constant(rng.uniform(-1, 1, size=(batch, points, 3)).astype(np.float32))
    features1 = tf.Variable(rng.normal(size=(batch, 512, 128)).astype(np.float32))
    features2 = tf.Variable(rng.normal(size=(batch, 128, 256)).astype(np.float32))

    @tf.function
    def alone():
        with tf.GradientTape() as tape:
            xyz1, grouped1, _, _ = sampling.sample_and_group(xyz, None, 512, 0.2, 32)
            xyz2, grouped2, _, _ = sampling.sample_and_group(xyz1, features1, 128, 0.4, 64)
            _, grouped3, _, _ = sampling.sample_and_group_all(xyz2, features2)
            total = tf.reduce_sum(grouped1) + tf.reduce_sum(grouped2) + tf.reduce_sum(grouped3)
        return tape.gradient(total, [features1, features2])

    return lambda: [g.numpy() for g in alone()]


def child_op_share(options):
    """The share of a model's neighbour searches in its training step: steps with and without them, alternated.

    `dgcnn_cls`: the kNN; `pointnet2_cls_ssg`: farthest point sampling and
    the ball query. The step without is the same network with stand-ins of
    the same shapes (`STAND_INS`: a fixed random draw of neighbours, the
    first points), so it keeps every gather; alternating the two keeps a
    changing machine load out of the difference. Also times the model's
    neighbour work alone (`_searches_alone`, which includes the gathers).
    Shares are medians over the rounds of each round's own share, in wall
    time and in the process's CPU time (which a busy machine disturbs less).
    """
    import tensorflow as tf

    import pointnet_tf2
    from pointnet_tf2.layers import sampling

    name, batch, points, k = options["model"], options["batch"], options["points"], options.get("k", 20)
    kwargs = {"k": k} if name == "dgcnn_cls" else {}
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, size=(batch, points, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, 40, size=(batch,)))
    steps = {"with": _step_function(pointnet_tf2.get_model(name, num_points=points, **kwargs), "train", x, y)}
    steps["with"]()  # traced with the searches
    originals = {attr: getattr(sampling, attr) for attr in STAND_INS[name]}
    for attr, stand_in in STAND_INS[name].items():
        setattr(sampling, attr, stand_in)
    try:
        steps["without"] = _step_function(pointnet_tf2.get_model(name, num_points=points, **kwargs), "train", x, y)
        steps["without"]()  # traced without them
    finally:
        for attr, function in originals.items():
            setattr(sampling, attr, function)
    steps["alone"] = _searches_alone(name, batch, points, k, rng)
    steps["alone"]()
    times, cpu = ({name: [] for name in steps} for _ in range(2))
    for _ in range(options["steps"]):
        for step_name, step in steps.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            times[step_name].append(1000 * (time.perf_counter() - start))
            cpu[step_name].append(1000 * (time.process_time() - start_cpu))

    def share(values, part):
        return statistics.median(part(i) / w for i, w in enumerate(values["with"]))

    return {"model": name, "step_ms": statistics.median(times["with"]),
            "step_without_search_ms": statistics.median(times["without"]),
            "alone_ms": statistics.median(times["alone"]),
            "share_by_difference": share(times, lambda i: times["with"][i] - times["without"][i]),
            "share_alone": share(times, lambda i: times["alone"][i]),
            "cpu_share_by_difference": share(cpu, lambda i: cpu["with"][i] - cpu["without"][i]),
            "cpu_share_alone": share(cpu, lambda i: cpu["alone"][i]), "times_ms": times, "cpu_ms": cpu}  # fmt: skip


def child_pn2_ops(options):
    """PointNet++'s ops alone (ms, median) and one 1024-wide shared-MLP layer on the same batch.

    FPS `points -> npoint`; the ball query of the `npoint` centres (radius
    0.2, 32 per ball, as the first level); grouping 64 channels by those
    indices; three-NN interpolation of 128 channels from the `npoint` points
    back to all (as the last feature propagation); and the reference, a
    PointNet layer 128 -> 1024 (Dense + ReLU) over every point.
    """
    import keras
    import tensorflow as tf

    from pointnet_tf2.layers import sampling

    batch, points, npoint, repeats = options["batch"], options["points"], options["npoint"], options["repeats"]
    rng = np.random.default_rng(0)
    xyz = tf.constant(rng.uniform(-1, 1, size=(batch, points, 3)).astype(np.float32))
    features = tf.constant(rng.normal(size=(batch, points, 64)).astype(np.float32))
    wide = tf.constant(rng.normal(size=(batch, points, 128)).astype(np.float32))
    idx = sampling.farthest_point_sample(xyz, npoint)
    centres = sampling.gather_points(xyz, idx)
    ball, _ = sampling.ball_query(xyz, centres, 0.2, 32)
    known = tf.constant(rng.normal(size=(batch, npoint, 128)).astype(np.float32))
    layer = keras.layers.Dense(1024, activation="relu")
    layer.build((None, None, 128))

    def interpolate(unknown, known_xyz, values):
        dist, nn = sampling.three_nn(unknown, known_xyz)
        return sampling.three_interpolate(values, nn, sampling.interpolation_weights(dist))

    ops = {"fps": (lambda p: sampling.farthest_point_sample(p, npoint), (xyz,)),
           "ball_query": (lambda p, c: sampling.ball_query(p, c, 0.2, 32)[0], (xyz, centres)),
           "group": (sampling.group_points, (features, ball)),
           "interpolate": (interpolate, (xyz, centres, known)),
           "mlp_1024": (lambda x: layer(x), (wide,))}  # fmt: skip
    ms = {}
    for name, (function, args) in ops.items():
        compiled = tf.function(function)
        ms[name] = 1000 * _timed(lambda c=compiled, a=args: c(*a).numpy(), repeats)
    return {"batch": batch, "points": points, "npoint": npoint, "ms": ms, "fps_over_mlp": ms["fps"] / ms["mlp_1024"]}


def child_family_model(options):
    """One registered model on random clouds: training steps (Adam, `train_on_batch`) or inference samples/s.

    The median seconds per step after one warm-up step (which traces and
    builds the optimizer's variables); peak RSS of the process, also above
    its RSS before the first step.
    """
    import tensorflow as tf

    import pointnet_tf2

    batch, points = options["batch"], options["points"]
    kwargs = dict(options.get("kwargs", {}))
    model = pointnet_tf2.get_model(options["model"], num_points=points, **kwargs)
    rng = np.random.default_rng(0)
    dims = model.inputs[0].shape[-1]
    classes = model.outputs[0].shape[-1]
    x = tf.constant(rng.normal(size=(batch, points, dims)).astype(np.float32))
    per_point = len(model.outputs[0].shape) == 3
    y = tf.constant(rng.integers(0, classes, size=(batch, points) if per_point else (batch,)))
    step = _step_function(model, options["mode"], x, y)
    ready = _rss_mb()
    seconds = _timed(step, options["steps"])  # its warm-up call traces (and builds the optimizer's variables)
    peak = _peak_rss_mb(ready)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"ms_per_step": 1000 * seconds, "samples_per_s": batch / seconds, "params": params, "rss_ready_mb": ready,
            "peak_rss_mb": peak, "peak_above_ready_mb": peak - ready}  # fmt: skip


class SectionSteps:
    """A `say` that also counts a section's steps in a progress line (rate and time left).

    Each message starts a step and ends the one before; `close()` ends the last.
    """

    def __init__(self, say, total, label):
        self.say, self.started = say, False
        self.bar = Progress(total, label, unit="steps", always_final=True)

    def __call__(self, message):
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.clear()
        self.say(message)

    def note(self, message):
        """Says `message` without starting a step."""
        self.bar.clear()
        self.say(message)

    def close(self):
        """Ends the last step and prints the section's final progress line."""
        if self.started:
            self.bar.update(1)
        self.bar.close()


def measure_families(sizes, say):
    """The families section: kNN alone, the classifiers side by side, the kNN share, DGCNN sem seg memory."""
    size = FAMILY_SIZES[sizes]
    # kNN direct and chunked per size, train and infer per model, the kNN share, PointNet++'s ops and share,
    # DGCNN sem seg unchunked and chunked.
    say = SectionSteps(say, 2 * len(size["knn"]) + 2 * len(FAMILY_MODELS) + 3 + 2, "families")
    try:
        return _measure_families(size, sizes, say)
    finally:
        say.close()


def _measure_families(size, sizes, say):
    steps, repeats = size["steps"], size["repeats"]
    results = {"sizes": sizes, "knn": [], "models": {}, "dgcnn_sem_seg": {}}
    for batch, points, channels, k, chunk in size["knn"]:
        for chunk_size in (None, chunk):
            say(f"families: kNN B={batch} N={points} C={channels} k={k} chunk={chunk_size} ...")
            row = run_child("knn", batch=batch, points=points, channels=channels, k=k, chunk_size=chunk_size,
                            repeats=repeats)  # fmt: skip
            results["knn"].append({"batch": batch, "points": points, "channels": channels, "k": k,
                                   "chunk_size": chunk_size, **row, "ms": row["ms"][0]})  # fmt: skip
    batch, points = size["cls"]
    for model in FAMILY_MODELS:
        entry = {"batch": batch, "points": points}
        for mode in ("train", "infer"):
            say(f"families: {model} {mode} B={batch} N={points} ...")
            entry[mode] = run_child("family_model", model=model, mode=mode, batch=batch, points=points, steps=steps)
        results["models"][model] = entry
    say("families: dgcnn_cls training steps with and without the kNN search, alternated ...")
    share = run_child("op_share", model="dgcnn_cls", batch=batch, points=points, k=20, steps=steps)
    results["knn_share"] = {**share, "target": KNN_SHARE_TARGET}
    batch, points, npoint = size["pn2_ops"]
    say(f"families: PointNet++ ops alone B={batch} N={points} -> {npoint} ...")
    results["pn2_ops"] = {**run_child("pn2_ops", batch=batch, points=points, npoint=npoint, repeats=repeats),
                          "target": FPS_OVER_MLP_TARGET}  # fmt: skip
    batch, points = size["pn2_step"]
    say("families: pointnet2_cls_ssg training steps with and without FPS and the ball query, alternated ...")
    share = run_child("op_share", model="pointnet2_cls_ssg", batch=batch, points=points, steps=steps)
    results["sampling_share"] = {**share, "target": SAMPLING_SHARE_TARGET}
    batch, points, chunk = size["sem_seg"]
    for chunk_size in (None, chunk):
        say(f"families: dgcnn_sem_seg forward B={batch} N={points} knn_chunk_size={chunk_size} ...")
        results["dgcnn_sem_seg"][str(chunk_size)] = {
            "batch": batch, "points": points, "knn_chunk_size": chunk_size,
            **run_child("family_model", model="dgcnn_sem_seg", mode="infer", batch=batch, points=points,
                        steps=max(1, steps // 2), kwargs={"knn_chunk_size": chunk_size}),
        }  # fmt: skip
    return results


def report_families(results):
    """The families section as printable lines."""
    lines = ["PointNet++ and DGCNN (random clouds; peak = peak RSS of the measuring process, above it before)", "",
             "kNN alone (sampling.knn, float32):"]  # fmt: skip
    for row in results["knn"]:
        chunk = "direct" if row["chunk_size"] is None else f"chunk {row['chunk_size']}"
        lines.append(f"  B={row['batch']:<3} N={row['points']:<5} C={row['channels']:<4} k={row['k']:<3} {chunk:<10} "
                     f"{row['ms']:>9.1f} ms  peak +{row['peak_above_ready_mb']:>6.0f} MB  "
                     f"(one distance matrix {row['distance_matrix_mb']:.0f} MB)")  # fmt: skip
    first = next(iter(results["models"].values()))
    lines += ["", f"classifiers, batch {first['batch']} x {first['points']} points (train: Adam train_on_batch):",
              f"  {'model':<20} {'params':>10} {'train/s':>8} {'peak MB':>8} {'infer/s':>8} {'peak MB':>8}"]  # fmt: skip
    for model, entry in results["models"].items():
        train, infer = entry["train"], entry["infer"]
        lines.append(f"  {model:<20} {train['params']:>10,} {train['samples_per_s']:>8.1f} {train['peak_rss_mb']:>8.0f} "
                     f"{infer['samples_per_s']:>8.1f} {infer['peak_rss_mb']:>8.0f}")  # fmt: skip
    lines.append("")
    for key, searches, alone in (("knn_share", "the kNN search", "the four searches alone"),
                                 ("sampling_share", "FPS and the ball query",
                                  "sampling, ball query and grouping alone (with the grouping's gradient)")):  # fmt: skip
        if key not in results:
            continue
        share = results[key]
        met = "within" if max(share["share_by_difference"], share["share_alone"]) <= share["target"] else "NOT within"
        lines.append(f"share of a {share['model']} training step (alternated in one process): step {share['step_ms']:.0f} "
                     f"ms, without {searches} {share['step_without_search_ms']:.0f} ms -> "
                     f"{share['share_by_difference']:.0%}; {alone} {share['alone_ms']:.0f} ms = {share['share_alone']:.0%} "
                     f"({met} {share['target']:.0%}); in CPU time {share['cpu_share_by_difference']:.0%} and "
                     f"{share['cpu_share_alone']:.0%} (shares: medians of each round's)")  # fmt: skip
    if "pn2_ops" in results:
        ops = results["pn2_ops"]
        met = "within" if ops["fps_over_mlp"] <= ops["target"] else "NOT within"
        lines.append(f"PointNet++ ops alone, B={ops['batch']} N={ops['points']} -> {ops['npoint']}: "
                     + ", ".join(f"{name} {ms:.1f} ms" for name, ms in ops["ms"].items())
                     + f"; FPS / one 1024-wide shared-MLP layer = {ops['fps_over_mlp']:.1f}x ({met} {ops['target']:.0f}x)")
    lines.append("dgcnn_sem_seg forward:")
    for row in results["dgcnn_sem_seg"].values():
        lines.append(f"  B={row['batch']} N={row['points']} knn_chunk_size={row['knn_chunk_size']}: "
                     f"{row['ms_per_step']:.0f} ms, {row['samples_per_s']:.1f} samples/s, peak RSS "
                     f"{row['peak_rss_mb']:.0f} MB (+{row['peak_above_ready_mb']:.0f} MB)")  # fmt: skip
    return lines


# -- issue 19's levers per PointNet layer (`--sections levers`) ---------------------------------

LEVER_LAYERS = (("64->64", 64, 64, "point"), ("64->128", 64, 128, "point"), ("128->1024", 128, 1024, "point"),
                ("fc 1024->512", 1024, 512, "fc"))  # fmt: skip
# variant -> the variant it is compared with (its speed-up is base time / variant time, per round)
LEVER_BASES = {"product bf16 (conv)": "product fp32", "product bf16 (matmul)": "product fp32",
               "block BatchNormReLU": "block fused (default)", "block BatchNormReLU (XLA)": "block fused (default)",
               "block bf16 product": "block fused (default)"}  # fmt: skip


def _product(tf, x, kernel, dtype, op):
    """`x @ kernel` in `dtype` (cast back to float32), as PointwiseDense's training path ("conv") or one matmul."""
    x, kernel = tf.cast(x, dtype), tf.cast(kernel, dtype)
    if op == "conv" and len(x.shape) == 3:
        y = tf.squeeze(tf.nn.conv2d(tf.expand_dims(x, 1), tf.reshape(kernel, (1, 1, *kernel.shape)), 1, "VALID"), 1)
    else:
        y = tf.reshape(tf.matmul(tf.reshape(x, (-1, x.shape[-1])), kernel), (*x.shape[:-1], kernel.shape[-1]))
    return tf.cast(y, tf.float32)


def _lever_steps(tf, keras, cin, cout, kind, batch, points):
    """The forward + backward steps of one layer's variants (name -> step returning the first output)."""
    from pointnet_tf2.layers import FusedBatchNormalization
    from pointnet_tf2.layers import PointwiseDense
    from pointnet_tf2.layers.bn_relu import BatchNormReLU

    rng = np.random.default_rng(0)
    shape = (batch, points, cin) if kind == "point" else (batch, cin)
    x = tf.constant(rng.normal(size=shape).astype(np.float32))
    kernel = tf.Variable(rng.normal(0, cin**-0.5, (cin, cout)).astype(np.float32))
    steps = {}

    def add(name, forward, variables):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = forward()
                loss = tf.reduce_sum(y)
            return [y, *tape.gradient(loss, [x, *variables])]

        steps[name] = step

    add("product fp32", lambda: _product(tf, x, kernel, tf.float32, "conv"), [kernel])
    add("product bf16 (conv)", lambda: _product(tf, x, kernel, tf.bfloat16, "conv"), [kernel])
    add("product bf16 (matmul)", lambda: _product(tf, x, kernel, tf.bfloat16, "matmul"), [kernel])
    for name, normalization in (("block fused (default)", None), ("block BatchNormReLU", False),
                                ("block BatchNormReLU (XLA)", True)):  # fmt: skip
        norm = [FusedBatchNormalization(), keras.layers.ReLU()] if normalization is None else [BatchNormReLU(jit_compile=normalization)]
        block = keras.Sequential([PointwiseDense(cout), *norm])
        block.build(shape)
        add(name, lambda block=block: block(x, training=True), block.trainable_variables)
    # The default block with its product in bf16 (the bias, batch norm and ReLU in float32).
    bias = tf.Variable(tf.zeros((cout,)))
    norm = keras.Sequential([FusedBatchNormalization(), keras.layers.ReLU()])
    norm.build((*shape[:-1], cout))
    add("block bf16 product", lambda: norm(tf.nn.bias_add(_product(tf, x, kernel, tf.bfloat16, "conv"), bias), training=True),
        [kernel, bias, *norm.trainable_variables])  # fmt: skip
    return steps


def child_levers(options):
    """Issue 19's levers per PointNet cls layer, forward + backward, alternated in one process.

    Per layer (`LEVER_LAYERS`, batch x points): the product alone in fp32
    (PointwiseDense's training path, a 1x1 convolution) against bf16
    operands (oneDNN accumulates in fp32; the result is rounded to bf16 and
    cast back), as a convolution and as one matmul; and the training block
    Dense + batch norm + ReLU as built (PointwiseDense,
    FusedBatchNormalization, ReLU) against `BatchNormReLU` (custom gradient),
    with and without XLA, and against the same block with its product in
    bf16 (bias, batch norm, ReLU in float32). Each round runs every variant once; a variant's
    speed-up is the median over rounds of that round's base time / its
    time, in wall and in process CPU time (less disturbed by the load).
    Also the bf16 product's largest output difference relative to the fp32
    output's largest magnitude.
    """
    import keras
    import tensorflow as tf

    layers = options.get("layers") or LEVER_LAYERS
    result = {"batch": options["batch"], "points": options["points"], "rounds": options["rounds"], "layers": {}}
    for label, cin, cout, kind in layers:
        steps = _lever_steps(tf, keras, cin, cout, kind, options["batch"], options["points"])
        outputs = {name: step()[0].numpy() for name, step in steps.items()}  # traced and warmed up
        times, cpu = ({name: [] for name in steps} for _ in range(2))
        for _ in range(options["rounds"]):
            for name, step in steps.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                [t.numpy() for t in step()]
                times[name].append(1000 * (time.perf_counter() - start))
                cpu[name].append(1000 * (time.process_time() - start_cpu))
        scale = float(np.abs(outputs["product fp32"]).max())
        entry = {"ms": {name: statistics.median(values) for name, values in times.items()},
                 "cpu_ms": {name: statistics.median(values) for name, values in cpu.items()},
                 "speedup": {}, "cpu_speedup": {}, "times_ms": times, "cpu_times_ms": cpu,
                 "bf16_relative_error": {name: float(np.abs(outputs[name] - outputs["product fp32"]).max()) / scale
                                         for name in steps if name.startswith("product bf16")}}  # fmt: skip
        for name, base in LEVER_BASES.items():
            entry["speedup"][name] = statistics.median(b / v for b, v in zip(times[base], times[name]))
            entry["cpu_speedup"][name] = statistics.median(b / v for b, v in zip(cpu[base], cpu[name]))
        result["layers"][label] = entry
    return result


def report_levers(levers):
    """The levers section as printable lines."""
    lines = [(f"levers per layer (issue 19), forward + backward, batch {levers['batch']} x {levers['points']} points, "
              f"{levers['rounds']} alternated rounds; speed-up = base time / variant time (median of rounds), wall | CPU")]  # fmt: skip
    for label, entry in levers["layers"].items():
        lines.append(f"  {label}:")
        for name, ms in entry["ms"].items():
            base = LEVER_BASES.get(name)
            ratio = f"{entry['speedup'][name]:5.2f}x | {entry['cpu_speedup'][name]:5.2f}x vs {base}" if base else ""
            error = f"  (rel. error {entry['bf16_relative_error'][name]:.1e})" if name in entry["bf16_relative_error"] else ""
            lines.append(f"    {name:<28} {ms:>9.1f} ms {entry['cpu_ms'][name]:>9.1f} ms CPU  {ratio}{error}")
    return lines


CHILDREN = {name[len("child_"):]: value for name, value in dict(globals()).items() if name.startswith("child_")}


def run_child(kind, **options):
    """Runs one measurement in a fresh Python process and returns its JSON result."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    argv = [sys.executable, os.path.abspath(__file__), "--child", kind, "--options", json.dumps(options)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {kind} {options.get('task', '')} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- main -----------------------------------------------------------------------------------


def _prepare(workdir, quick, tasks):
    from pointnet_tf2.data.synthetic import builtin_dataset
    from pointnet_tf2.migration import upgrade_tree

    data = {task: builtin_dataset(task, root=os.path.join(workdir, "data"), **TASKS[task]["sizes"][int(quick)])
            for task in tasks}  # fmt: skip
    tree = os.path.join(workdir, "original_upgraded")
    upgrade_tree(None, tree)
    return data, tree


def _stream_dataset(workdir, megabytes):
    from pointnet_tf2.data import build_vds

    clouds = (megabytes << 20) // bench_data.ROW_BYTES
    folder = bench_data.write_modelnet_like(os.path.join(workdir, "stream", "modelnet40_ply_hdf5_2048"), clouds)
    return build_vds(folder, os.path.join(workdir, "stream", "stream.vds.h5")), clouds


def measure(args, workdir, say):
    quick = args.quick
    tasks = [t for t in TASKS if t in args.tasks.split(",")]
    repeats = 3 if quick else 5
    data, tree = _prepare(workdir, quick, tasks)
    levers = not quick and "cls" in tasks
    say = SectionSteps(say, 1 + 4 * len(tasks) + 2 * ("cls" in tasks) + 1 + levers, "pointnet")
    try:
        return _measure(args, workdir, say, tasks, repeats, data, tree)
    finally:
        say.close()


def _measure(args, workdir, say, tasks, repeats, data, tree):
    quick = args.quick
    results = {"machine": {"cpus": os.cpu_count(), "quick": quick}, "tasks": {}}
    say("GEMM ceiling ...")
    results["gemm_gflops"] = run_child("gemm", repeats=repeats)
    ceiling = results["gemm_gflops"]["square_4096"]
    for task in tasks:
        common = {"task": task, "data": data[task], "workdir": workdir}
        say(f"{task}: training (pointnet-tf2 trainer) ...")
        small = quick and task != "cls"  # the segmentation steps take 3-8 s each
        epochs = 3 if small else 4 if quick else 6
        ours = run_child("keras_train", epochs=epochs, label="fused", **common)
        say(f"{task}: training with --bf16_products ...")
        bf16 = run_child("keras_train", epochs=epochs, label="bf16", bf16_products=True, **common)
        say(f"{task}: original graph ...")
        original = run_child("original", tree=tree, steps=3 if small else 6 if quick else 12, **common)
        say(f"{task}: inference and export ...")
        infer = run_child("keras_infer", steps=2 if small else 3 if quick else 6, repeats=2 if small else repeats, **common)
        entry = {"points": TASKS[task]["points"], "batch": TASKS[task]["batch"], "train": ours, "train_bf16": bf16,
                 "original": original, "infer": infer}  # fmt: skip
        gflop = 2 * infer["multiply_adds"] / 1e9
        entry["gflop_per_sample_forward"] = gflop
        entry["train_gflops"] = 3 * gflop * ours["samples_per_s"]
        entry["train_bf16_gflops"] = 3 * gflop * bf16["samples_per_s"]
        for suffix, run in (("", ours), ("_bf16", bf16)):
            ratio = run["samples_per_s"] / original["train_samples_per_s"]
            results[("" if task == "cls" else f"{task}_") + "train_speedup_vs_original" + suffix] = ratio
        entry["infer_gflops"] = gflop * infer["folded_samples_per_s"]
        if task == "cls":
            say("cls: data pipeline ...")
            entry["pipeline"] = run_child("pipeline", epochs=2 if quick else 4, **common)
            say("cls: training parity (fused vs plain Keras) ...")
            entry["parity"] = run_child("training_parity", **common)
        results["tasks"][task] = entry
    say("streaming memory ...")
    megabytes = 256 if quick else 1024
    source, clouds = _stream_dataset(workdir, megabytes)
    stream = run_child("stream", source=source, budget_mb=64)
    results["stream"] = {"dataset_mb": megabytes, "clouds": clouds, "budget_mb": 64, **stream}
    shutil.rmtree(os.path.join(workdir, "stream"), ignore_errors=True)
    if not quick and "cls" in tasks:
        say("levers (cls training) ...")
        common = {"task": "cls", "data": data["cls"], "workdir": workdir, "epochs": 3}
        levers = {"fused kernels (default)": results["tasks"]["cls"]["train"]["samples_per_s"]}
        for label, extra in (("plain Keras layers (fused kernels off)", {"plain": True}),
                             ("steps_per_execution=4", {"steps_per_execution": 4}),
                             ("jit_compile=True (XLA)", {"jit_compile": True}),
                             ("inter_op_parallelism_threads=1", {"inter_op": 1})):  # fmt: skip
            try:
                levers[label] = run_child("keras_train", label=label.split()[0].split("=")[0], **common, **extra)["samples_per_s"]
            except RuntimeError as error:  # e.g. XLA cannot compile an op
                levers[label] = float("nan")
                say.note(f"lever {label} failed: {str(error).splitlines()[-1][:200]}")
        results["levers_train_samples_per_s"] = levers
        results["layers_ms"] = run_child("layers", repeats=repeats)
    if "cls" in tasks:
        cls = results["tasks"]["cls"]
        results.update({
            "infer_speedup_vs_original": cls["infer"]["folded_samples_per_s"] / cls["original"]["infer_samples_per_s"],
            "train_fraction_of_gemm": cls["train_gflops"] / ceiling,
            "train_fraction_of_gemm_bf16": cls["train_bf16_gflops"] / ceiling,
            "infer_fraction_of_gemm": cls["infer_gflops"] / ceiling,
            "pipeline_over_train": cls["pipeline"]["samples_per_s"] / cls["train"]["samples_per_s"],
        })  # fmt: skip
    results["targets"] = {key: {"target": target, "value": results[key], "met": results[key] >= target}
                          for key, target in TARGETS.items() if key in results}  # fmt: skip
    return results


def report(results):
    """The results as a printable table (the sections that were run)."""
    lines = report_pointnet(results) if "gemm_gflops" in results else []
    if "families" in results:
        lines += ([""] if lines else []) + report_families(results["families"])
    if "levers" in results:
        lines += ([""] if lines else []) + report_levers(results["levers"])
    return "\n".join(lines)


def report_pointnet(results):
    """The PointNet section as printable lines."""
    ceiling = results["gemm_gflops"]["square_4096"]
    bf16 = results["gemm_gflops"].get("square_4096_bf16")
    lines = [f"GEMM fp32 through TensorFlow: 4096^3 {ceiling:.0f} GFLOP/s (the ceiling); "
             f"32768x128x1024 {results['gemm_gflops']['pointnet_32768x128x1024']:.0f} GFLOP/s"
             + (f"; bf16 4096^3 {bf16:.0f} GFLOP/s" if bf16 else ""), ""]  # fmt: skip
    header = f"{'task':<9} {'path':<28} {'samples/s':>10} {'GFLOP/s':>8} {'of ceiling':>10} {'vs original':>11} {'peak RSS MB':>11}"
    lines += [header, "-" * len(header)]
    for task, entry in results["tasks"].items():
        gflop = entry["gflop_per_sample_forward"]
        original = entry["original"]
        rows = [
            ("train: original graph", original["train_samples_per_s"], 3, original["train_samples_per_s"], original["peak_rss_mb"]),
            ("train: pointnet-tf2 (fit)", entry["train"]["samples_per_s"], 3, original["train_samples_per_s"], entry["train"]["peak_rss_mb"]),
            ("train: --bf16_products", entry["train_bf16"]["samples_per_s"], 3, original["train_samples_per_s"], entry["train_bf16"]["peak_rss_mb"]),
            ("infer: original graph", original["infer_samples_per_s"], 1, original["infer_samples_per_s"], None),
            ("infer: Keras model as built", entry["infer"]["plain_samples_per_s"], 1, original["infer_samples_per_s"], None),
            ("infer: BN folded, pool apart", entry["infer"]["folded_unfused_samples_per_s"], 1, original["infer_samples_per_s"], None),
            ("infer: BN folded (fast path)", entry["infer"]["folded_samples_per_s"], 1, original["infer_samples_per_s"], entry["infer"]["peak_rss_mb"]),
            ("infer: exported SavedModel", entry["infer"]["saved_model_samples_per_s"], 1, original["infer_samples_per_s"], None),
        ]  # fmt: skip
        if "pipeline" in entry:
            rows.append(("data pipeline (Sequence)", entry["pipeline"]["samples_per_s"], 0, entry["train"]["samples_per_s"], entry["pipeline"]["peak_rss_mb"]))
        for name, rate, passes, base, rss in rows:
            flops = rate * gflop * passes
            ratio = f"{rate / base:.2f}x" + ("  (vs train)" if passes == 0 else "")
            lines.append(f"{task:<9} {name:<28} {rate:>10.1f} {flops if passes else float('nan'):>8.0f} "
                         f"{(flops / ceiling if passes else float('nan')):>10.0%} {ratio:>11} "
                         f"{(f'{rss:.0f}' if rss else ''):>11}")  # fmt: skip
        infer = entry["infer"]
        lines.append(f"{'':<9} forward: {gflop:.2f} GFLOP/sample; |folded - plain| {infer['folded_max_abs_diff']:.1e}, "
                     f"|SavedModel - plain| {infer['saved_model_max_abs_diff']:.1e} (logits up to {infer['logit_scale']:.1f})")  # fmt: skip
        if "parity" in entry:
            p = entry["parity"]
            lines.append(f"{'':<9} fast vs plain Keras path, same weights: inference outputs {p['inference_max_abs_diff']:.1e} apart, "
                         f"training outputs {p['training_output_max_abs_diff']:.1e} (scale {p['logit_scale']:.1f}), "
                         f"loss {p['loss_fused']:.6f} vs {p['loss_plain']:.6f}, gradients {p['gradient_max_abs_diff']:.1e} "
                         f"(scale {p['gradient_scale']:.1e})")  # fmt: skip
    stream = results["stream"]
    lines += ["", f"streaming {stream['clouds']} clouds ({stream['dataset_mb']} MB) with a {stream['budget_mb']} MB budget: "
              f"{stream['samples_per_s']:.0f} samples/s, peak RSS {stream['peak_rss_mb']:.0f} MB "
              f"({stream['peak_rss_mb'] - stream['rss_ready_mb']:.0f} MB above the process after start-up)"]  # fmt: skip
    if "levers_train_samples_per_s" in results:
        lines += ["", "levers, cls training samples/s (same trainer, 3 epochs):"]
        lines += [f"  {name:<54} {rate:>7.1f}" for name, rate in results["levers_train_samples_per_s"].items()]
        lines += ["", "one block, forward + backward, batch 32 x 1024 points (ms):"]
        lines += [f"  {name:<54} {ms:>7.1f}" for name, ms in results["layers_ms"].items()]
    if "targets" in results:
        lines += ["", "ratios (cls unless named; _bf16: trained with --bf16_products; GEMM fractions of the fp32 ceiling):"]
        for key, t in results["targets"].items():
            lines.append(f"  {key:<40} {t['value']:>6.2f}  target >= {t['target']:<4g} {'met' if t['met'] else 'NOT met'}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, steps and repetitions; no levers (< 10 min)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--tasks", default="cls,sem_seg,part_seg", help="comma-separated tasks [cls,sem_seg,part_seg]")
    parser.add_argument("--sections", default="pointnet,families",
                        help="comma-separated sections [pointnet,families,levers]: PointNet against the original graph; "
                             "kNN, PointNet++ and DGCNN; issue 19's levers per PointNet layer")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=7, help="alternated rounds of the levers section (default 7)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # families at toy sizes (tests)
    parser.add_argument("--workdir", help="folder for generated data and runs (default: a temporary folder, removed)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](json.loads(args.options))))
        return 0
    sections = args.sections.split(",")
    if not sections or not set(sections) <= {"pointnet", "families", "levers"}:
        parser.error(f"--sections: choose among pointnet,families,levers, got {args.sections!r}")
    if args.rounds < 1:
        parser.error(f"--rounds: a positive integer, got {args.rounds!r}")
    sys.path.insert(0, ROOT)
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_run_")
    started = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - started:5.0f} s] {message}", file=sys.stderr, flush=True)

    try:
        results = measure(args, workdir, say) if "pointnet" in sections else {}
        if "families" in sections:
            results["families"] = measure_families("tiny" if args.tiny else "quick" if args.quick else "full", say)
        if "levers" in sections:
            say("levers per layer (issue 19) ...")
            sizes = {"batch": 2, "points": 64} if args.tiny else {"batch": 32, "points": 1024}
            results["levers"] = run_child("levers", rounds=args.rounds, **sizes)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    print(report(results))
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
