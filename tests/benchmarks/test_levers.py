"""benchmarks/run.py --sections levers (issue 19): the child at toy sizes and its ratio fields."""

import statistics

import pytest


def test_levers_child_at_toy_sizes_gives_consistent_ratios(run_script):
    # In this process (one TensorFlow start-up), two toy layers, three rounds.
    layers = [("4->8", 4, 8, "point"), ("fc 8->4", 8, 4, "fc")]
    result = run_script.child_levers({"batch": 2, "points": 16, "rounds": 3, "layers": layers})
    assert (result["batch"], result["points"], result["rounds"]) == (2, 16, 3)
    assert list(result["layers"]) == ["4->8", "fc 8->4"]
    variants = {"product fp32", "block fused (default)", *run_script.LEVER_BASES}
    for entry in result["layers"].values():
        assert set(entry["ms"]) == set(entry["cpu_ms"]) == variants
        for name in variants:
            assert len(entry["times_ms"][name]) == len(entry["cpu_times_ms"][name]) == 3
            assert entry["ms"][name] == statistics.median(entry["times_ms"][name]) > 0
        for name, base in run_script.LEVER_BASES.items():
            times, cpu = entry["times_ms"], entry["cpu_times_ms"]
            assert entry["speedup"][name] == pytest.approx(statistics.median(b / v for b, v in zip(times[base], times[name])))
            assert entry["cpu_speedup"][name] == pytest.approx(statistics.median(b / v for b, v in zip(cpu[base], cpu[name])))
        # bf16 operands: rounded (not exact), but close (8 bits of mantissa).
        assert set(entry["bf16_relative_error"]) == {"product bf16 (conv)", "product bf16 (matmul)"}
        assert all(0 < error < 3e-2 for error in entry["bf16_relative_error"].values())
    lines = run_script.report_levers(result)
    assert sum("product bf16 (conv)" in line and "vs product fp32" in line for line in lines) == 2
    assert sum("block BatchNormReLU (XLA)" in line and "vs block fused (default)" in line for line in lines) == 2


def test_levers_rounds_must_be_positive(run_script, capsys):
    with pytest.raises(SystemExit):
        run_script.main(["--sections", "levers", "--rounds", "0"])
    assert "--rounds: a positive integer, got 0" in capsys.readouterr().err
