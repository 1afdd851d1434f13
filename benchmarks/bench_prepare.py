"""Benchmark of `pointnet-tf2 prepare` (not a test): files/s on a generated ModelNet-style tree.

Generates `ROOT/<class>/{train,test}/*.off` with `--meshes` meshes of about
`--faces` triangles each (deformed subdivided spheres, boxes and cylinders,
written as ModelNet40 writes them, half with the fused `OFFn m 0` header),
plus one broken file per kind, then times `pointnet-tf2 prepare` (2048 points,
area-uniform, unit sphere) in a fresh process with 1 and with all workers,
and once more with `--fps` (4x oversampling + farthest-point sampling).

    python benchmarks/bench_prepare.py                      # about 1 minute on 2 cores
    python benchmarks/bench_prepare.py --meshes 400 --faces 20000
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("bowl", "box", "can", "cup", "lamp", "vase")


def _mesh(rng, kind, faces):
    import trimesh

    if kind in ("box", "lamp"):
        mesh = trimesh.creation.box(extents=rng.uniform(0.5, 2.0, 3))
        while len(mesh.faces) < faces:
            mesh = mesh.subdivide()
    elif kind in ("can", "cup"):
        sections = max(8, int(np.sqrt(faces / 4)))
        mesh = trimesh.creation.cylinder(radius=rng.uniform(0.3, 1.0), height=rng.uniform(0.5, 3.0), sections=sections)
        while len(mesh.faces) < faces:
            mesh = mesh.subdivide()
    else:
        level = int(np.clip(np.round(np.log(faces / 20) / np.log(4)), 1, 6))
        mesh = trimesh.creation.icosphere(subdivisions=level)
    vertices = mesh.vertices * rng.uniform(0.5, 1.5, 3) * rng.uniform(1, 100)  # ModelNet units vary widely
    vertices += 0.02 * rng.normal(size=vertices.shape) * np.abs(vertices).max()
    return vertices, mesh.faces


def _off(vertices, faces, fused):
    head = f"OFF{len(vertices)} {len(faces)} 0\n" if fused else f"OFF\n{len(vertices)} {len(faces)} 0\n"
    body = "\n".join(f"{x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices)
    tris = "\n".join(f"3 {a} {b} {c}" for a, b, c in faces)
    return head + body + "\n" + tris + "\n"


def write_tree(root, meshes, faces, seed=0):
    """Writes the tree; returns (files, bytes)."""
    rng = np.random.default_rng(seed)
    total = 0
    for i in range(meshes):
        kind = CLASSES[i % len(CLASSES)]
        split = "test" if i % 5 == 4 else "train"
        folder = os.path.join(root, kind, split)
        os.makedirs(folder, exist_ok=True)
        vertices, tris = _mesh(rng, kind, faces)
        path = os.path.join(folder, f"{kind}_{i:04d}.off")
        with open(path, "w") as f:
            f.write(_off(vertices, tris, fused=i % 2 == 0))
        total += os.path.getsize(path)
    broken = {"empty.off": "", "nan.off": "OFF\n3 1 0\nnan 0 0\n1 0 0\n0 1 0\n3 0 1 2\n",
              "billions.off": "OFF\n3000000000 1 0\n0 0 0\n", "points.off": "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n"}
    for name, text in broken.items():
        with open(os.path.join(root, CLASSES[0], "train", name), "w") as f:
            f.write(text)
    return meshes + len(broken), total


def time_prepare(root, output, extra):
    command = [sys.executable, "-m", "pointnet_tf2", "prepare", root, output, "--no_progress", "--overwrite", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr)
    line = next(line for line in done.stdout.splitlines() if "converted" in line)
    return seconds, line.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meshes", type=int, default=240)
    parser.add_argument("--faces", type=int, default=8000)
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_prepare_")
    try:
        root = os.path.join(folder, "tree")
        start = time.perf_counter()
        files, size = write_tree(root, args.meshes, args.faces)
        print(f"tree: {files} files ({args.meshes} meshes of ~{args.faces} triangles, 4 broken), "
              f"{size / 2**20:.0f} MB of OFF, written in {time.perf_counter() - start:.1f} s")
        workers = len(os.sched_getaffinity(0))
        for label, extra in (("1 worker", ["--workers", "1"]), (f"{workers} workers", []),
                             (f"{workers} workers --fps", ["--fps"])):
            seconds, line = time_prepare(root, os.path.join(folder, "out"), extra)
            print(f"{label:>18}: {seconds:6.1f} s wall (with start-up) | {line}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
