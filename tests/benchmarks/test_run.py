"""benchmarks/run.py and benchmarks/profile_step.py: the report, the recorded run, and the scripts end to end."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDED = os.path.join(ROOT, "benchmarks", "results", "run_2026-11-30.json")
RATIOS = ("train_speedup_vs_original", "train_fraction_of_gemm", "sem_seg_train_speedup_vs_original",
          "part_seg_train_speedup_vs_original", "train_speedup_vs_original_bf16", "train_fraction_of_gemm_bf16",
          "sem_seg_train_speedup_vs_original_bf16", "part_seg_train_speedup_vs_original_bf16",
          "infer_speedup_vs_original", "infer_fraction_of_gemm", "pipeline_over_train")  # fmt: skip


def test_recorded_run_holds_the_ratios_and_the_targets(run_script):
    with open(RECORDED) as f:
        results = json.load(f)
    assert set(RATIOS) == set(run_script.TARGETS)
    assert set(RATIOS) <= set(results) and set(results["targets"]) == set(RATIOS)
    for key in RATIOS:
        target = results["targets"][key]
        assert target["target"] == run_script.TARGETS[key] and target["value"] == results[key]
        assert target["met"] == (results[key] >= target["target"])
    cls = results["tasks"]["cls"]
    # The ratios are what the rows say.
    assert results["train_speedup_vs_original"] == pytest.approx(
        cls["train"]["samples_per_s"] / cls["original"]["train_samples_per_s"])
    assert results["infer_fraction_of_gemm"] == pytest.approx(cls["infer_gflops"] / results["gemm_gflops"]["square_4096"])
    part_seg = results["tasks"]["part_seg"]
    assert results["part_seg_train_speedup_vs_original_bf16"] == pytest.approx(
        part_seg["train_bf16"]["samples_per_s"] / part_seg["original"]["train_samples_per_s"])


def test_recorded_cls_run_holds_the_cls_ratios_and_the_targets(run_script):
    # benchmarks/run.py --tasks cls, after DenseMaxPooling's transposed max (README, Performance).
    with open(RECORDED.replace(".json", "_cls.json")) as f:
        results = json.load(f)
    assert set(results["tasks"]) == {"cls"}
    assert set(results["targets"]) == {key for key in RATIOS if not key.startswith(("sem_seg", "part_seg"))}
    for key, target in results["targets"].items():
        assert target == {"target": run_script.TARGETS[key], "value": results[key], "met": results[key] >= target["target"]}
    cls = results["tasks"]["cls"]
    assert results["infer_speedup_vs_original"] == pytest.approx(
        cls["infer"]["folded_samples_per_s"] / cls["original"]["infer_samples_per_s"])
    assert results["infer_fraction_of_gemm"] == pytest.approx(cls["infer_gflops"] / results["gemm_gflops"]["square_4096"])


def test_report_prints_every_row_of_every_task(run_script):
    with open(RECORDED) as f:
        results = json.load(f)
    text = run_script.report(results)
    rows = ("train: original graph", "train: pointnet-tf2 (fit)", "train: --bf16_products", "infer: original graph", "infer: Keras model as built",
            "infer: BN folded, pool apart", "infer: BN folded (fast path)", "infer: exported SavedModel")  # fmt: skip
    for task in ("cls", "sem_seg", "part_seg"):
        for row in rows:
            assert sum(line.startswith(task) and row in line for line in text.splitlines()) == 1, (task, row)
    assert "data pipeline (Sequence)" in text and "streaming" in text and "4096^3" in text
    for key in RATIOS:
        assert f"  {key}" in text
    assert "  train_speedup_vs_original                  1.76  target >= 2    NOT met\n" in text
    assert "  train_speedup_vs_original_bf16             2.12  target >= 2    met\n" in text


def test_profile_step_lists_the_ops_of_a_small_inference(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "profile_step.py"), "--mode", "infer_folded", "--steps", "1",
         "--batch", "2", "--num_point", "64", "--logdir", str(tmp_path / "profile"), "--top", "5"],
        capture_output=True, text=True, check=False, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("cls infer_folded: ") and "ms per step" in lines[0]
    assert lines[1].split()[:2] == ["op", "type"] and len(lines) == 2 + 5
    assert any("MatMul" in line for line in lines[2:])  # the products are the largest op types
    assert list((tmp_path / "profile" / "plugins" / "profile").glob("*/*.xplane.pb"))


@pytest.mark.parametrize("task", ["sem_seg", "part_seg"])
def test_profile_step_profiles_a_segmentation_training_step(tmp_path, task):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "profile_step.py"), "--task", task, "--steps", "1",
         "--batch", "2", "--num_point", "64", "--logdir", str(tmp_path / "profile"), "--top", "40"],
        capture_output=True, text=True, check=False, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{task} train: ")
    op_types = {line.split()[0] for line in lines[2:]}
    # The trainer's step: 1x1-convolution products with their gradients, fused batch norm, an optimizer update.
    for kind in ("Conv2DBackpropFilter", "FusedBatchNormGradV3"):  # oneDNN names them _MklNative...
        assert any(op.endswith(kind) for op in op_types), (kind, op_types)


@pytest.mark.slow
def test_quick_classification_run_writes_the_ratios(tmp_path):
    output = tmp_path / "perf.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick", "--tasks", "cls",
                           "--json", str(output)], capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(output.read_text())
    for key in RATIOS:
        assert results[key] > 0
    assert "ratios (cls unless named" in proc.stdout


def test_families_section_at_toy_sizes_prints_every_row(run_script, monkeypatch, capsys):
    # The children run in this process (one TensorFlow start-up instead of a dozen), at sizes "tiny", one step each;
    # PointNet++ is left to the end-to-end run below (its rows are the same code as the others').
    monkeypatch.setattr(run_script, "run_child", lambda kind, **options: run_script.CHILDREN[kind](json.loads(json.dumps(options))))
    monkeypatch.setattr(run_script, "FAMILY_MODELS", ("pointnet_cls", "dgcnn_cls"))
    said = []
    results = run_script.measure_families("tiny", say=said.append)
    # One step per message; the section ends with its progress line (steps, rate, time taken).
    steps = len(said)
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        f"families: [########################] {steps}/{steps} (100%)")
    from pointnet_tf2.layers import sampling

    assert sampling.knn.__name__ == "knn"  # the step without the search put the real one back
    size = run_script.FAMILY_SIZES["tiny"]
    assert [(row["points"], row["chunk_size"]) for row in results["knn"]] == [
        (points, chunk) for _, points, _, _, c in size["knn"] for chunk in (None, c)]
    assert all(row["ms"] > 0 and row["peak_rss_mb"] >= row["rss_ready_mb"] > 0 for row in results["knn"])
    assert results["knn"][0]["distance_matrix_mb"] == pytest.approx(2 * 64 * 64 * 4 / 2**20)
    assert results["knn"][1]["distance_matrix_mb"] == pytest.approx(2 * 16 * 64 * 4 / 2**20)
    assert list(results["models"]) == ["pointnet_cls", "dgcnn_cls"]
    assert results["models"]["dgcnn_cls"]["train"]["params"] == 1_809_576  # trainable, 40 classes
    for entry in results["models"].values():
        for mode in ("train", "infer"):
            assert entry[mode]["samples_per_s"] == pytest.approx(2000 / entry[mode]["ms_per_step"])
    for key, model, target in (("knn_share", "dgcnn_cls", 0.25), ("sampling_share", "pointnet2_cls_ssg", 0.20)):
        share = results[key]
        assert share["model"] == model and share["target"] == target
        assert all(len(times) == 1 for times in share["times_ms"].values())  # one round
        assert share["share_by_difference"] == pytest.approx(1 - share["step_without_search_ms"] / share["step_ms"])
        assert share["share_alone"] == pytest.approx(share["alone_ms"] / share["step_ms"])
        cpu = share["cpu_ms"]
        assert share["cpu_share_alone"] == pytest.approx(cpu["alone"][0] / cpu["with"][0])
    assert sampling.farthest_point_sample.__name__ == "farthest_point_sample" and sampling.ball_query.__name__ == "ball_query"
    ops = results["pn2_ops"]
    assert sorted(ops["ms"]) == ["ball_query", "fps", "group", "interpolate", "mlp_1024"]
    assert all(ms > 0 for ms in ops["ms"].values()) and (ops["batch"], ops["points"], ops["npoint"]) == size["pn2_ops"]
    assert ops["fps_over_mlp"] == pytest.approx(ops["ms"]["fps"] / ops["ms"]["mlp_1024"]) and ops["target"] == 10
    assert [row["knn_chunk_size"] for row in results["dgcnn_sem_seg"].values()] == [None, size["sem_seg"][2]]
    text = run_script.report({"families": results})
    assert text.startswith("PointNet++ and DGCNN") and "GEMM" not in text
    for needle in ("direct", "chunk 16", "chunk 32", "pointnet_cls", "dgcnn_cls", "share of a dgcnn_cls training step",
                   "share of a pointnet2_cls_ssg training step", "FPS / one 1024-wide shared-MLP layer",
                   "knn_chunk_size=None", "knn_chunk_size=32"):  # fmt: skip
        assert needle in text, needle


def test_sections_are_checked(run_script, capsys):
    with pytest.raises(SystemExit):
        run_script.main(["--sections", "pointnet,dgcnn"])
    assert "--sections: choose among pointnet,families,levers, got 'pointnet,dgcnn'" in capsys.readouterr().err


@pytest.mark.slow
def test_families_section_runs_alone_from_the_command_line(tmp_path):
    output = tmp_path / "families.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--sections", "families", "--tiny",
                           "--json", str(output)], capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(output.read_text())
    assert set(results) == {"families", "seconds"}  # no PointNet section, no GEMM
    assert list(results["families"]["models"]) == ["pointnet_cls", "pointnet2_cls_ssg", "dgcnn_cls"]
    assert proc.stdout.startswith("PointNet++ and DGCNN") and "pointnet2_cls_ssg" in proc.stdout
