"""A/B of a model's inference between two checkouts of pointnet-tf2, alternated in fresh processes.

Each round runs one process per checkout (`PYTHONPATH=CHECKOUT`), the order
swapped every round. A process builds the model with
`pointnet_tf2.get_model`, moves its batch-norm statistics away from their
initial values, folds them (`--mode infer_folded`, the fast path, the
default) or not (`--mode infer`), and times a `tf.function` forward over a
few batches of random clouds, best of `--repeats`. On a machine whose speed
drifts by more than the difference sought, only alternated rounds show a
change of a few percent: compare the medians and count the rounds won.

    git worktree add /tmp/old 469f726
    python benchmarks/ab_checkouts.py /tmp/old                 # folded pointnet_cls, 6 rounds, vs this checkout
    python benchmarks/ab_checkouts.py /tmp/old --mode infer --rounds 10
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("infer_folded", "infer")


def child(args):
    """Samples/s of the forward in this process (the checkout on `sys.path`), best of `args.repeats`."""
    import numpy as np
    import tensorflow as tf

    import pointnet_tf2

    rng = np.random.default_rng(0)
    model = pointnet_tf2.get_model(args.model, num_classes=args.num_classes, num_points=args.num_point)
    for layer in model.layers:
        if hasattr(layer, "moving_variance"):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape).astype("float32"))
    if args.mode == "infer_folded":
        model = pointnet_tf2.fold_batch_norm(model)
    forward = tf.function(lambda clouds: model(clouds, training=False))
    batches = [tf.constant(rng.normal(size=(args.batch, args.num_point, 3)).astype("float32")) for _ in range(args.batches)]

    def run():
        for clouds in batches:
            tf.nest.map_structure(np.asarray, forward(clouds))

    run()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"samples_per_s": args.batches * args.batch / min(times), "module": os.path.dirname(pointnet_tf2.__file__)}


def measure(checkout, args):
    """Runs `child` with `checkout` first on the path; its result."""
    argv = [sys.executable, os.path.abspath(__file__), "--child", checkout, "--model", args.model, "--mode", args.mode,
            "--batch", str(args.batch), "--num_point", str(args.num_point), "--num_classes", str(args.num_classes),
            "--batches", str(args.batches), "--repeats", str(args.repeats)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=checkout + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=checkout, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"{checkout}: the measurement failed: {lines[-1]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if os.path.realpath(result["module"]) != os.path.realpath(os.path.join(checkout, "pointnet_tf2")):
        raise RuntimeError(f"{checkout}: pointnet_tf2 was imported from {result['module']}, not from the checkout")
    return result["samples_per_s"]


def compare(checkouts, args, say=print):
    """Alternated rounds over the two `checkouts` (A, B); `[A's samples/s per round, B's]`."""
    rates = [[], []]
    for round_index in range(args.rounds):
        for index in (0, 1) if round_index % 2 == 0 else (1, 0):
            rates[index].append(measure(checkouts[index], args))
        say(f"round {round_index + 1}: A {rates[0][-1]:.1f}, B {rates[1][-1]:.1f} samples/s")
    return rates


def summary(checkouts, rates):
    """The lines comparing the two checkouts' rounds."""
    a, b = rates
    wins = sum(y > x for x, y in zip(a, b))
    lines = [f"{label}: {checkout}: median {statistics.median(r):.1f} samples/s (range {min(r):.1f}-{max(r):.1f})"
             for label, checkout, r in zip("AB", checkouts, rates)]  # fmt: skip
    lines.append(f"B / A: {statistics.median(b) / statistics.median(a):.3f} (medians); B faster in {wins} of {len(a)} rounds")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", help="the other checkout (A), a folder holding pointnet_tf2/")
    parser.add_argument("--against", default=ROOT, help="checkout B (default: this one)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="pointnet_cls", help="a registered model (default pointnet_cls)")
    parser.add_argument("--mode", choices=MODES, default="infer_folded")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32, help="clouds per batch")
    parser.add_argument("--num_point", type=int, default=1024)
    parser.add_argument("--num_classes", type=int, default=40)
    parser.add_argument("--batches", type=int, default=6, help="batches per timed pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per process (the best counts)")
    args = parser.parse_args(argv)
    for name in ("rounds", "batch", "num_point", "num_classes", "batches", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.child:
        print(json.dumps(child(args)))
        return 0
    checkouts = [os.path.abspath(args.checkout), os.path.abspath(args.against)]
    for checkout in checkouts:
        if not os.path.isfile(os.path.join(checkout, "pointnet_tf2", "__init__.py")):
            parser.error(f"{checkout}: not a pointnet-tf2 checkout (no pointnet_tf2/__init__.py)")
    print(f"{args.mode} of {args.model}, batch {args.batch} x {args.num_point} points, {args.batches} batches per pass, "
          f"best of {args.repeats} passes per process; A = {checkouts[0]}, B = {checkouts[1]}")  # fmt: skip
    try:
        rates = compare(checkouts, args)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(summary(checkouts, rates)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
