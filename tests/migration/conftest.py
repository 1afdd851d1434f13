"""Fixtures for the migration tests: one upgrade of original/ and one TF1 training run per session."""

import json
import os
import subprocess
import sys
import types

import pytest

from pointnet_tf2 import cli
from pointnet_tf2.migration import upgrade_tree
from pointnet_tf2.migration.original_graph import NETWORKS

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ORIGINAL = os.path.join(REPO, "original")
COMMITTED_REPORT = os.path.join(ORIGINAL, "tf_upgrade_v2_report.txt")
DRIVER = os.path.join(HERE, "tf1_driver.py")
# Trainable parameters of the original graphs (REFERENCE 1 and 10).
ORIGINAL_PARAMS = {"cls": 3_480_049, "cls_basic": 819_624, "sem_seg": 1_174_669, "part_seg": 8_574_923,
                   "dgcnn_cls_tf": 1_836_081, "dgcnn_part_seg": 1_464_443, "dgcnn_sem_seg": 985_677}
TF1_BATCH = 4
TF1_POINTS = 64


def run_python(args, timeout=600):
    """Runs a Python script in a fresh process (TF1 switches stay out of this one)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def read_results(out, networks):
    """`{network: result dict}` of a tf1_driver.py run into `out`, each with its `folder` (holding parity.npz)."""
    results = {}
    for network in networks:
        with open(out / network / "result.json") as f:
            results[network] = json.load(f)
        results[network]["folder"] = str(out / network)
    return results


@pytest.fixture(scope="session")
def migration_env():
    """The paths and constants above, for the test modules (they cannot import conftest)."""
    return types.SimpleNamespace(
        REPO=REPO, ORIGINAL=ORIGINAL, COMMITTED_REPORT=COMMITTED_REPORT, DRIVER=DRIVER, NETWORKS=NETWORKS,
        ORIGINAL_PARAMS=ORIGINAL_PARAMS, TF1_BATCH=TF1_BATCH, TF1_POINTS=TF1_POINTS, run_python=run_python,
        read_results=read_results)


@pytest.fixture(scope="session")
def upgrade(tmp_path_factory):
    """`pointnet-tf2 upgrade-report --output ... --upgraded-tree ...` on original/, run once.

    Returns a dict with the report path and text and the fixed upgraded tree.
    """
    root = tmp_path_factory.mktemp("upgrade")
    report_path = root / "report.txt"
    fixed = root / "fixed"
    assert cli.main(["upgrade-report", "--output", str(report_path), "--upgraded-tree", str(fixed)]) == 0
    return {"report_path": str(report_path), "report": report_path.read_text(), "fixed_tree": str(fixed)}


@pytest.fixture(scope="session")
def raw_upgrade(tmp_path_factory):
    """A second upgrade of original/ through the API, without the post-upgrade fixes."""
    root = tmp_path_factory.mktemp("raw_upgrade")
    raw = root / "raw"
    report, fixes = upgrade_tree(ORIGINAL, raw, fixes=False)
    assert fixes == []
    return {"report": report, "tree": str(raw)}


@pytest.fixture(scope="session")
def tf1_runs(upgrade, tmp_path_factory):
    """Every network of the fixed upgraded tree trained a few steps under tf.compat.v1.

    Returns `{network: result dict}` (see tf1_driver.py); each result has the
    checkpoint path and the folder with parity.npz.
    """
    out = tmp_path_factory.mktemp("tf1_runs")
    proc = run_python([DRIVER, "train", "--tree", upgrade["fixed_tree"], "--out", str(out),
                       "--networks", ",".join(NETWORKS), "--steps", "5",
                       "--batch", str(TF1_BATCH), "--points", str(TF1_POINTS)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_results(out, NETWORKS)
