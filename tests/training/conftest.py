"""Tiny built-in datasets for the training tests, generated once per session."""

import pytest

from pointnet_tf2.data.synthetic import generate_synthetic


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Returns a function task -> folder of a tiny synthetic dataset of that task."""
    root = tmp_path_factory.mktemp("tiny_data")
    sizes = {
        "cls": dict(num_train=96, num_test=24, num_points=128),
        "part_seg": dict(num_train=48, num_val=16, num_test=16, num_points=128),
        "sem_seg": dict(num_train=2, num_test=1, num_points=128),
    }
    made = {}

    def get(task):
        if task not in made:
            made[task] = generate_synthetic(task, root / task, seed=0, **sizes[task])
        return made[task]

    return get
