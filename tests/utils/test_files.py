import os

import pytest

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import cache_dir


def test_atomic_output_renames_when_complete(tmp_path):
    target = tmp_path / "out" / "model.keras"
    with atomic_output(target) as tmp:
        assert tmp.endswith(".keras") and os.path.dirname(tmp) == str(target.parent)
        with open(tmp, "w") as f:
            f.write("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert os.listdir(target.parent) == ["model.keras"]


def test_atomic_output_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "best.keras"
    target.write_text("good")
    with pytest.raises(OSError, match="disk full"):
        with atomic_output(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise OSError("disk full")
    assert target.read_text() == "good"
    assert os.listdir(tmp_path) == ["best.keras"]


def test_atomic_output_of_a_directory(tmp_path):
    target = tmp_path / "saved_model"
    with atomic_output(target) as tmp:
        os.makedirs(os.path.join(tmp, "variables"))
    assert (target / "variables").is_dir()
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "other") as tmp:
            os.makedirs(tmp)
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]


def test_atomic_output_requires_something_written(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_output(tmp_path / "x.json"):
            pass


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTNET_TF2_CACHE", str(tmp_path / "c"))
    assert cache_dir("synthetic") == str(tmp_path / "c" / "synthetic")
    monkeypatch.delenv("POINTNET_TF2_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "pointnet_tf2")
    assert os.path.isdir(tmp_path / "xdg" / "pointnet_tf2")
