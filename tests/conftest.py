"""Fixtures shared by the whole test suite."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Keras/NumPy/Python random state."""
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    """A seeded NumPy generator."""
    return np.random.default_rng(0)


@pytest.fixture
def mixed_precision():
    """Runs a test under the mixed_float16 policy, restoring float32 after."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path_factory, monkeypatch):
    """Built-in datasets and other cache files go to a per-session temp folder."""
    monkeypatch.setenv("POINTNET_TF2_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


SHARED_VOXELS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data",
                             "modelnet10_voxels_train.npz")


@pytest.fixture(scope="session")
def shared_voxels():
    """`(grids, labels)` of the real ModelNet10 training archive in ../shared/data (read-only)."""
    if not os.path.exists(SHARED_VOXELS):
        pytest.skip(f"{SHARED_VOXELS}: the shared real-data archive is not beside this clone")
    with np.load(SHARED_VOXELS) as archive:
        return archive["X_train"], archive["y_train"]
