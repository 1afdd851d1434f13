"""benchmarks/ab_checkouts.py: alternated rounds between two checkouts, and its refusals."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "ab_checkouts.py")
SMALL = ["--batch", "2", "--num_point", "64", "--batches", "1", "--repeats", "1"]


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, check=False,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))  # fmt: skip


def test_two_rounds_alternate_and_summarise(tmp_path):
    proc = run(ROOT, "--rounds", "2", *SMALL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("infer_folded of pointnet_cls, batch 2 x 64 points")
    rounds = [line for line in lines if line.startswith("round ")]
    assert [line.split(":")[0] for line in rounds] == ["round 1", "round 2"]
    for line in rounds:
        rates = [float(part.split()[1]) for part in line.split(": ", 1)[1].removesuffix(" samples/s").split(", ")]
        assert len(rates) == 2 and all(rate > 0 for rate in rates)
    assert lines[-1].startswith("B / A: ") and lines[-1].endswith("of 2 rounds")


def test_a_folder_without_the_package_is_refused_in_one_line(tmp_path):
    proc = run(str(tmp_path), *SMALL)
    assert proc.returncode == 2
    assert f"{tmp_path}: not a pointnet-tf2 checkout (no pointnet_tf2/__init__.py)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_checkout_that_cannot_build_the_model_fails_with_its_last_error_line():
    proc = run(ROOT, "--model", "no_such_model", "--rounds", "1", *SMALL)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {ROOT}: the measurement failed: ") and "no_such_model" in proc.stderr


def test_non_positive_sizes_are_refused():
    proc = run(ROOT, "--rounds", "0")
    assert proc.returncode == 2 and "--rounds must be positive, got 0" in proc.stderr
