"""benchmarks/real_data.py: the summary figures, the targets, and (slow) the script end to end."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "real_data.py")


@pytest.fixture
def real_data():
    spec = importlib.util.spec_from_file_location("benchmark_real_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_largest_swing_counts_only_after_the_third_epoch(real_data):
    assert real_data.largest_swing([0.2, 0.8, 0.3, 0.80, 0.85, 0.70, 0.75]) == pytest.approx(0.15)
    assert real_data.largest_swing([0.5, 0.9, 0.1]) == 0.0


def test_targets_need_both_figures_the_smoothness_and_the_order(real_data):
    results = {
        "voxel_cnn": {"val_accuracy": 0.90, "val_mean_class_accuracy": 0.86, "largest_swing_after_3": 0.02},
        "pointnet_cls": {"val_accuracy": 0.91, "val_mean_class_accuracy": 0.88, "largest_swing_after_3": 0.12},
    }
    checks = real_data.check_targets(results)
    assert checks == {
        "voxel_cnn OA >= 0.879": True, "voxel_cnn mean class >= 0.866": False, "voxel_cnn swing <= 0.1": True,
        "pointnet_cls OA >= 0.879": True, "pointnet_cls swing <= 0.1": False, "pointnet_cls above voxel_cnn": True,
    }


def test_epoch_rows_are_read_as_numbers(real_data, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_accuracy\n0,1.5,0.25\n1,1.0,0.5\n")
    assert real_data.epoch_table(path) == [{"epoch": 0.0, "loss": 1.5, "val_accuracy": 0.25},
                                           {"epoch": 1.0, "loss": 1.0, "val_accuracy": 0.5}]


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path, shared_voxels):
    output = tmp_path / "real.json"
    subprocess.run([sys.executable, SCRIPT, "--quick", "--workdir", str(tmp_path / "work"), "--json", str(output)],
                   check=True, cwd=ROOT)
    results = json.loads(output.read_text())
    for model in ("voxel_cnn", "pointnet_cls"):
        assert results[model]["epochs"] == 2 and len(results[model]["val_accuracy_per_epoch"]) == 2
        assert 0.0 <= results[model]["val_accuracy"] <= 1.0
    assert set(results["targets"]) >= {"voxel_cnn OA >= 0.879", "pointnet_cls above voxel_cnn"}
