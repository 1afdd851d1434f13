"""Imports every module that registers Keras serializable objects."""

import importlib

# Modules defining `@keras.saving.register_keras_serializable` objects that a
# saved `.keras` file may name (models and layers are imported by `models`).
SERIALIZABLE_MODULES = (
    "pointnet_tf2.models",
    "pointnet_tf2.metrics",
    "pointnet_tf2.training.losses",
    "pointnet_tf2.training.schedules",
)


def register_keras_objects():
    """Imports the modules of `SERIALIZABLE_MODULES`."""
    for name in SERIALIZABLE_MODULES:
        importlib.import_module(name)
