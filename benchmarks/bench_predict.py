"""Benchmark of prediction and export (not a test): latency, export time, size and parity.

Builds the original `pointnet_cls` (40 classes, 1024 points; weights as
initialised: speed and parity do not depend on training), then prints:

1. `pointnet_tf2.predict` latency for one 5000-point cloud (resampled to 1024)
   with 1 and 12 votes, and for a list of 32 clouds (first call = tracing);
2. for each export format (saved_model, litert; onnx when tf2onnx + onnx +
   onnxruntime are installed): export time, size on disk, and the largest
   absolute difference of its logits from the Keras model on 8 clouds.

    python benchmarks/bench_predict.py        # about 1 minute on 2 cores
"""

import os
import shutil
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def main():
    import tensorflow as tf

    import pointnet_tf2
    from pointnet_tf2.export import export_model
    from pointnet_tf2.export import missing_packages

    model = pointnet_tf2.get_model("pointnet_cls", num_classes=40, num_points=1024)
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(5000, 3)).astype(np.float32)
    start = time.perf_counter()
    pointnet_tf2.predict(model, cloud)
    print(f"predict, first call (traces the model): {1000 * (time.perf_counter() - start):.0f} ms")
    for votes in (1, 12):
        pointnet_tf2.predict(model, cloud, num_votes=votes)
        start = time.perf_counter()
        for _ in range(5):
            pointnet_tf2.predict(model, cloud, num_votes=votes)
        print(f"predict, 1 cloud, {votes:>2} vote(s): {1000 * (time.perf_counter() - start) / 5:.0f} ms")
    clouds = [rng.normal(size=(5000, 3)).astype(np.float32) for _ in range(32)]
    pointnet_tf2.predict(model, clouds)
    start = time.perf_counter()
    pointnet_tf2.predict(model, clouds)
    seconds = time.perf_counter() - start
    print(f"predict, 32 clouds, 1 vote: {1000 * seconds:.0f} ms ({32 / seconds:.0f} clouds/s)")

    batch = rng.normal(size=(8, 1024, 3)).astype(np.float32)
    expected = np.asarray(model(batch, training=False))
    folder = tempfile.mkdtemp(prefix="bench_predict_")
    try:
        for fmt, name in (("saved_model", "model"), ("litert", "model.tflite"), ("onnx", "model.onnx")):
            if missing_packages(fmt) or (fmt == "onnx" and not _has("onnxruntime")):
                print(f"{fmt:>11}: skipped (pip install tf2onnx onnx onnxruntime)")
                continue
            path = os.path.join(folder, name)
            start = time.perf_counter()
            export_model(model, path, format=fmt)
            seconds = time.perf_counter() - start
            got = _run(fmt, path, batch, tf)
            print(f"{fmt:>11}: exported in {seconds:.1f} s, {_size(path) / 2**20:.1f} MB, "
                  f"max |logit - Keras| = {np.abs(got - expected).max():.1e}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _run(fmt, path, batch, tf):
    if fmt == "saved_model":
        loaded = tf.saved_model.load(path)
        return np.asarray(loaded.serve(batch))
    if fmt == "onnx":
        import onnxruntime

        return onnxruntime.InferenceSession(path).run(None, {"points": batch})[0]
    try:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=path)
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    return np.concatenate([next(iter(runner(points=batch[i:i + 1]).values())) for i in range(len(batch))])


if __name__ == "__main__":
    main()
