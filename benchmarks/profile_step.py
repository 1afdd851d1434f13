"""Where the time of one PointNet step goes: a TensorBoard profile and a per-op table.

Profiles a few classification steps (1024 points, batch 32, the default
`pointnet_cls`) with `tf.profiler`, writes the trace where TensorBoard's
Profile tab reads it, and prints the host time per TensorFlow op type per
step, largest first.

    python benchmarks/profile_step.py --mode train         # one training step (forward + backward + Adam)
    python benchmarks/profile_step.py --mode infer         # inference of the model as built
    python benchmarks/profile_step.py --mode infer_folded  # inference after fold_batch_norm
    tensorboard --logdir /tmp/pointnet_tf2_profile         # Profile tab (pip install tensorboard-plugin-profile)

Run it on a quiet machine. With `--inter_op 1` ops run one at a time, so
the per-op times add up to the step time.
"""

import argparse
import collections
import glob
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODES = ("train", "infer", "infer_folded")


def op_times(logdir):
    """`{op type: (seconds, count)}` summed over the newest profile in `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")), key=os.path.getmtime)
    if not paths:
        raise FileNotFoundError(f"{logdir}: no profile was written")
    space = xplane_pb2.XSpace()
    with open(paths[-1], "rb") as f:
        space.ParseFromString(f.read())
    seconds, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                # TensorFlow op events are "op_name:OpType" with the type as display name;
                # executor events ("ExecutorState::Process") and whole-function runs are skipped.
                metadata = plane.event_metadata[event.metadata_id]
                op_type = metadata.display_name
                if not op_type or "::" in metadata.name or op_type.startswith("__") or op_type == "Run":
                    continue
                seconds[op_type] += event.duration_ps / 1e12
                counts[op_type] += 1
    return {op: (seconds[op], counts[op]) for op in seconds}


def step_function(mode, batch, points, classes):
    """A no-argument function running one step of `mode` on random clouds."""
    import keras
    import numpy as np
    import tensorflow as tf

    import pointnet_tf2

    rng = np.random.default_rng(0)
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=classes, num_points=points)
    x = tf.constant(rng.normal(size=(batch, points, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, classes, size=batch))
    if mode == "train":
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # builds the optimizer state
        train = tf.function(lambda: model.train_step((x, y)))
        return lambda: keras.tree.map_structure(np.asarray, train())
    if mode == "infer_folded":
        model = pointnet_tf2.fold_batch_norm(model)
    infer = tf.function(lambda clouds: model(clouds, training=False))
    return lambda: infer(x).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=MODES, default="train")
    parser.add_argument("--steps", type=int, default=5, help="profiled steps (after two warm-up steps)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--num_point", type=int, default=1024)
    parser.add_argument("--inter_op", type=int, default=0, help="inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--logdir", default="/tmp/pointnet_tf2_profile")
    parser.add_argument("--top", type=int, default=20, help="op types to list")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be positive, got {args.steps}")
    import tensorflow as tf

    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    step = step_function(args.mode, args.batch, args.num_point, classes=40)
    step()
    step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    step_ms = 1000 * (time.perf_counter() - start) / args.steps
    tf.profiler.experimental.start(args.logdir)
    for _ in range(args.steps):
        step()
    tf.profiler.experimental.stop()
    times = op_times(args.logdir)
    total = sum(seconds for seconds, _ in times.values())
    print(f"{args.mode}: {step_ms:.0f} ms per step unprofiled, {1000 * total / args.steps:.0f} ms of op time "
          f"per step profiled; trace in {args.logdir}")  # fmt: skip
    print(f"{'op type':<36} {'ms/step':>8} {'share':>6} {'ops/step':>8}")
    for op, (seconds, count) in sorted(times.items(), key=lambda item: -item[1][0])[: args.top]:
        print(f"{op:<36} {1000 * seconds / args.steps:>8.1f} {seconds / total:>6.0%} {count // args.steps:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
