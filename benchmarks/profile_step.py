"""Where the time of one PointNet step goes: a TensorBoard profile and a per-op table.

Profiles a few steps of a task's default model at the benchmark's sizes
(cls: `pointnet_cls`, 1024 points, batch 32; sem_seg: `pointnet_sem_seg`,
4096 points, batch 24; part_seg: `pointnet_part_seg`, 2048 points, batch 32)
with `tf.profiler`, writes the trace where TensorBoard's Profile tab reads
it, and prints the host time per TensorFlow op type per step, largest first.
Training steps are the trainer's own: the model, losses, metrics and
optimizer of `pointnet_tf2.training` (`build_model`, `compile_model`) on a
batch of the built-in dataset's training Sequence.

    python benchmarks/profile_step.py --mode train         # one training step (forward + backward + Adam)
    python benchmarks/profile_step.py --mode infer         # inference of the model as built
    python benchmarks/profile_step.py --mode infer_folded  # inference after fold_batch_norm
    python benchmarks/profile_step.py --task part_seg      # one part-segmentation training step
    python benchmarks/profile_step.py --model dgcnn_cls --batch 8  # another model of the task
    tensorboard --logdir /tmp/pointnet_tf2_profile         # Profile tab (pip install tensorboard-plugin-profile)

Run it on a quiet machine. With `--inter_op 1` ops run one at a time, so
the per-op times add up to the step time.
"""

import argparse
import collections
import glob
import os
import tempfile
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


TASK_SIZES = {"cls": (1024, 32), "sem_seg": (4096, 24), "part_seg": (2048, 32)}  # points, batch (run.py's)


def step_function(mode, task, batch, points, workdir, model_name=None):
    """A no-argument function running one step of `mode` of a `task` model (default: the task's) on a built-in batch."""
    import keras
    import numpy as np
    import tensorflow as tf

    import pointnet_tf2
    from pointnet_tf2.data import PointCloudSequence
    from pointnet_tf2.data import open_dataset
    from pointnet_tf2.data.synthetic import builtin_dataset
    from pointnet_tf2.training.trainer import TrainConfig
    from pointnet_tf2.training.trainer import build_model
    from pointnet_tf2.training.trainer import compile_model

    sizes = {"num_train": batch, "num_test": 1} if task != "sem_seg" else {"num_train": 1, "num_test": 1}
    if task == "part_seg":
        sizes["num_val"] = 1
    data = builtin_dataset(task, root=workdir, **sizes)
    config = TrainConfig(task=task, data=data, num_point=points, batch_size=batch, lr_schedule="staircase",
                         **({"model": model_name} if model_name else {})).resolved()  # fmt: skip
    description = open_dataset(data, task=task)
    sequence = PointCloudSequence(description, batch_size=batch, num_points=points, split="train", seed=0)
    x, y = sequence[0]
    keras.utils.set_random_seed(0)
    model = build_model(config, description)
    if mode == "train":
        model = compile_model(model, config, description)
        return lambda: model.train_on_batch(x, y)
    if mode == "infer_folded":
        model = pointnet_tf2.fold_batch_norm(model)
    infer = tf.function(lambda clouds: model(clouds, training=False))
    return lambda: keras.tree.map_structure(np.asarray, infer(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=MODES, default="train")
    parser.add_argument("--task", choices=sorted(TASK_SIZES), default="cls")
    parser.add_argument("--model", default=None, help="a registered model of the task (default: its PointNet)")
    parser.add_argument("--steps", type=int, default=5, help="profiled steps (after two warm-up steps)")
    parser.add_argument("--batch", type=int, default=None, help="clouds per step (default: the task's)")
    parser.add_argument("--num_point", type=int, default=None, help="points per cloud (default: the task's)")
    parser.add_argument("--inter_op", type=int, default=0, help="inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--logdir", default="/tmp/pointnet_tf2_profile")
    parser.add_argument("--top", type=int, default=20, help="op types to list")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be positive, got {args.steps}")
    import tensorflow as tf

    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    points, batch = TASK_SIZES[args.task]
    with tempfile.TemporaryDirectory() as workdir:
        step = step_function(args.mode, args.task, args.batch or batch, args.num_point or points, workdir, args.model)
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
    print(f"{args.task} {args.mode}: {step_ms:.0f} ms per step unprofiled, {1000 * total / args.steps:.0f} ms of op time "
          f"per step profiled; trace in {args.logdir}")  # fmt: skip
    print(f"{'op type':<36} {'ms/step':>8} {'share':>6} {'ops/step':>8}")
    for op, (seconds, count) in sorted(times.items(), key=lambda item: -item[1][0])[: args.top]:
        print(f"{op:<36} {1000 * seconds / args.steps:>8.1f} {seconds / total:>6.0%} {count // args.steps:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
