"""Tests for pointnet_tf2.data._lazy (the lazy names of `pointnet_tf2.data` and `pointnet_tf2.data.raw`)."""

import math
import types

import pytest

import pointnet_tf2.data
import pointnet_tf2.data.raw
from pointnet_tf2.data._lazy import lazy_exports


def test_a_name_is_imported_on_first_use_and_then_kept():
    namespace = {"__name__": "fake_package"}
    getattr_, dir_, names = lazy_exports(namespace, {"sqrt": "math", "floor": "math"})
    assert names == ["floor", "sqrt"] and dir_() == names
    assert "sqrt" not in namespace
    assert getattr_("sqrt") is math.sqrt
    assert namespace["sqrt"] is math.sqrt and "floor" not in namespace


def test_unknown_names_raise_attribute_error_naming_the_package():
    getattr_, _, _ = lazy_exports({"__name__": "fake_package"}, {"sqrt": "math"})
    with pytest.raises(AttributeError, match="module 'fake_package' has no attribute 'nope'"):
        getattr_("nope")
    with pytest.raises(AttributeError, match="module 'pointnet_tf2.data.raw' has no attribute 'nope'"):
        pointnet_tf2.data.raw.nope  # noqa: B018
    assert not hasattr(pointnet_tf2.data, "no_such_name")


def test_the_data_packages_export_their_names_and_submodules():
    assert pointnet_tf2.data.__all__[-1] == "augment"
    assert pointnet_tf2.data.__all__[:-1] == sorted(pointnet_tf2.data.__all__[:-1])
    assert dir(pointnet_tf2.data) == sorted(pointnet_tf2.data.__all__)
    assert "open_dataset" in dir(pointnet_tf2.data) and "read_binvox" in pointnet_tf2.data.__all__
    assert isinstance(pointnet_tf2.data.augment, types.ModuleType)
    from pointnet_tf2.data.formats import open_dataset
    from pointnet_tf2.data.raw.s3dis import prepare_s3dis

    assert pointnet_tf2.data.open_dataset is open_dataset
    assert pointnet_tf2.data.raw.prepare_s3dis is prepare_s3dis
    assert dir(pointnet_tf2.data.raw) == [
        "prepare_modelnet_normals", "prepare_s3dis", "prepare_shapenet_part", "read_full_resolution",
    ]  # fmt: skip
