"""Benchmark of the data pipeline (not a test): throughput and streaming memory.

Prints:

1. samples/s of `PointCloudSequence` (1024 of 2048 points, batch 32, the
   default classification augmentation: rotation about y + jitter) in
   'memory' and 'stream' mode, read through a virtual dataset over gzip-chunked
   ModelNet40-like shards (written like the original files: h5py's automatic
   chunking, gzip level 4), plus the Keras enqueuer with 2 worker threads;
   and the ratio to the classification model's training rate (`--train_rate`,
   default 17 samples/s: a Keras 3 PointNet on this machine, REFERENCE 5);
2. peak RSS while streaming datasets 4x and 8x larger than the in-memory
   budget (`--budget_mb`), which should stay flat as the dataset grows.

Each measurement runs in a fresh child process, so RSS figures are its own.

    python benchmarks/bench_data.py                  # about 2 minutes on 2 cores
    python benchmarks/bench_data.py --train_rate 15 --budget_mb 128
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POINTS = 2048
ROW_BYTES = POINTS * 3 * 4 + 1


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def write_modelnet_like(folder, clouds, *, seed=0, shard_size=2048):
    """Writes a ModelNet40-layout folder of `clouds` train clouds (+ one small test shard)."""
    import h5py

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for k, start in enumerate(range(0, clouds, shard_size)):
        count = min(shard_size, clouds - start)
        name = f"ply_data_train{k}.h5"
        with h5py.File(os.path.join(folder, name), "w") as f:
            data = f.create_dataset("data", (count, POINTS, 3), np.float32, compression="gzip", compression_opts=4)
            for a in range(0, count, 256):
                b = min(count, a + 256)
                points = rng.normal(size=(b - a, POINTS, 3)).astype(np.float32)
                points /= np.linalg.norm(points, axis=-1, keepdims=True) + 1e-3
                data[a:b] = points * rng.uniform(0.3, 1.0, (b - a, 1, 3)).astype(np.float32)
            f.create_dataset("label", data=rng.integers(0, 40, (count, 1)).astype(np.uint8), compression="gzip", compression_opts=4)
        names.append(name)
    with h5py.File(os.path.join(folder, "ply_data_test0.h5"), "w") as f:
        f.create_dataset("data", data=rng.normal(size=(64, POINTS, 3)).astype(np.float32), compression="gzip")
        f.create_dataset("label", data=rng.integers(0, 40, (64, 1)).astype(np.uint8), compression="gzip")
    with open(os.path.join(folder, "train_files.txt"), "w") as f:
        f.write("".join(f"/home/someone/data/modelnet40_ply_hdf5_2048/{n}\n" for n in names))
    with open(os.path.join(folder, "test_files.txt"), "w") as f:
        f.write("/home/someone/data/modelnet40_ply_hdf5_2048/ply_data_test0.h5\n")
    with open(os.path.join(folder, "shape_names.txt"), "w") as f:
        f.write("".join(f"class{i}\n" for i in range(40)))
    return folder


# -- child process measurements ------------------------------------------------------


def child(args):
    baseline_before_import = _status_kb("VmRSS")
    from pointnet_tf2.data import PointCloudSequence

    kwargs = dict(batch_size=32, num_points=1024, seed=0)
    if args.child == "stream_rss":
        kwargs.update(mode="stream", memory_limit=args.budget_mb << 20, stream_buffer_bytes=args.buffer_mb << 20)
    else:
        kwargs.update(mode=args.mode, stream_buffer_bytes=args.buffer_mb << 20)
    if args.workers > 1:
        kwargs.update(workers=args.workers)
    seq = PointCloudSequence(args.source, **kwargs)
    rss_ready = _status_kb("VmRSS")
    start = time.perf_counter()
    first = None
    samples = 0
    for _ in range(args.epochs):
        if args.workers > 1:
            from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

            adapter = PyDatasetAdapter(seq, shuffle=False)
            adapter.on_epoch_begin()
            for _points, labels in adapter.get_numpy_iterator():
                samples += len(labels)
                first = first or time.perf_counter() - start
            adapter.on_epoch_end()
        else:
            for index in range(len(seq)):
                _points, labels = seq[index]
                samples += len(labels)
                first = first or time.perf_counter() - start
            seq.on_epoch_end()
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "mode": seq.mode,
                "samples": samples,
                "seconds": elapsed,
                "samples_per_s": samples / elapsed,
                "first_batch_s": first,
                "rss_before_import_mb": baseline_before_import / 1024,
                "rss_ready_mb": rss_ready / 1024,
                "peak_rss_mb": _status_kb("VmHWM") / 1024,
                "rss_end_mb": _status_kb("VmRSS") / 1024,
            }
        )
    )


def run_child(**options):
    argv = [sys.executable, os.path.abspath(__file__)]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"child {options} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- main ------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train_rate", type=float, default=17.0, help="training samples/s of the cls model [17]")
    parser.add_argument("--clouds", type=int, default=4096, help="clouds in the throughput dataset [4096]")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per throughput measurement [2]")
    parser.add_argument("--budget_mb", type=int, default=64, help="in-memory budget for the streaming test [64]")
    parser.add_argument("--buffer_mb", type=int, default=16, help="stream shuffle buffer size [16]")
    parser.add_argument("--factors", default="4,8", help="streamed dataset sizes, as multiples of the budget [4,8]")
    parser.add_argument("--workdir", help="folder for the generated data (default: a temporary folder, removed)")
    parser.add_argument("--child", choices=("throughput", "stream_rss"), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="memory", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    sys.path.insert(0, ROOT)
    from pointnet_tf2.data import build_vds
    from pointnet_tf2.data import formats
    from pointnet_tf2.data import open_dataset

    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_data_")
    print(f"data in {workdir}; {os.cpu_count()} CPUs", flush=True)
    try:
        started = time.perf_counter()
        folder = write_modelnet_like(os.path.join(workdir, "throughput", "modelnet40_ply_hdf5_2048"), args.clouds)
        size_mb = args.clouds * ROW_BYTES / 2**20
        print(f"throughput dataset: {args.clouds} clouds x {POINTS} points ({size_mb:.0f} MB as float32, "
              f"gzip-chunked), written in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        timings = {}
        for name, action in (
            ("open_dataset(dir), full value scan", lambda: open_dataset(folder)),
            ("open_dataset(dir), same process again (cached)", lambda: open_dataset(folder)),
            ("build_vds (validates the shards first)", lambda: formats._CHECKED.clear() or build_vds(
                folder, os.path.join(workdir, "throughput", "modelnet.vds.h5"))),
            ("open_dataset(vds): checks shard sizes/checksums", lambda: open_dataset(
                os.path.join(workdir, "throughput", "modelnet.vds.h5"))),
        ):  # fmt: skip
            begin = time.perf_counter()
            result = action()
            timings[name] = time.perf_counter() - begin
        vds = os.path.join(workdir, "throughput", "modelnet.vds.h5")
        del result
        print("\n0. Opening and validating")
        for name, seconds in timings.items():
            print(f"   {name:<50} {seconds:>7.3f} s")

        print(f"\n1. PointCloudSequence samples/s (batch 32, 1024 of {POINTS} points, rotate-up + jitter)")
        print(f"   {'configuration':<34} {'samples/s':>10} {'x train rate':>13} {'1st batch s':>12} {'peak RSS MB':>12}")
        for mode, workers in (("memory", 1), ("stream", 1), ("memory", 2)):
            result = run_child(child="throughput", source=vds, mode=mode, epochs=args.epochs, workers=workers,
                               buffer_mb=args.buffer_mb, budget_mb=args.budget_mb)  # fmt: skip
            label = f"{mode}" + (f", Keras enqueuer, {workers} threads" if workers > 1 else ", direct __getitem__")
            rate = result["samples_per_s"]
            print(f"   {label:<34} {rate:>10.0f} {rate / args.train_rate:>12.0f}x {result['first_batch_s']:>12.2f} "
                  f"{result['peak_rss_mb']:>12.0f}", flush=True)  # fmt: skip
        print(f"   target: >= 20x the training rate ({20 * args.train_rate:.0f} samples/s at --train_rate {args.train_rate:g})")

        print(f"\n2. Streaming memory: budget {args.budget_mb} MB, shuffle buffer {args.buffer_mb} MB, one epoch each")
        print(f"   {'dataset':<26} {'mode':<7} {'samples/s':>10} {'RSS ready MB':>13} {'peak RSS MB':>12} {'growth MB':>10}")
        shutil.rmtree(os.path.join(workdir, "throughput"), ignore_errors=True)
        for factor in [int(f) for f in args.factors.split(",")]:
            clouds = factor * (args.budget_mb << 20) // ROW_BYTES
            folder = write_modelnet_like(os.path.join(workdir, f"big{factor}", "modelnet40_ply_hdf5_2048"), clouds, seed=factor)
            vds = build_vds(folder, os.path.join(workdir, f"big{factor}", "big.vds.h5"))
            result = run_child(child="stream_rss", source=vds, epochs=1, budget_mb=args.budget_mb, buffer_mb=args.buffer_mb)
            name = f"{clouds} clouds ({clouds * ROW_BYTES / 2**20:.0f} MB, {factor}x)"
            growth = result["peak_rss_mb"] - result["rss_ready_mb"]
            print(f"   {name:<26} {result['mode']:<7} {result['samples_per_s']:>10.0f} {result['rss_ready_mb']:>13.0f} "
                  f"{result['peak_rss_mb']:>12.0f} {growth:>10.0f}", flush=True)  # fmt: skip
            shutil.rmtree(os.path.join(workdir, f"big{factor}"), ignore_errors=True)
        print("   (RSS ready = after importing Keras/TensorFlow and building the sequence)")
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
