"""Shared fixtures of the benchmark tests."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def run_script(monkeypatch):
    """benchmarks/run.py as a module (it imports its sibling bench_data, as when run as a script)."""
    folder = os.path.join(ROOT, "benchmarks")
    monkeypatch.syspath_prepend(folder)
    spec = importlib.util.spec_from_file_location("benchmark_run", os.path.join(folder, "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
