"""pointnet-tf2: a TensorFlow 2 / Keras 3 model zoo for 3-D point clouds.

`import pointnet_tf2` is light: it imports neither TensorFlow nor Keras. The
public names (`get_model`, `list_models`, `fold_batch_norm`, `predict`,
`from_preset`, `save_to_preset`) are
imported on first use (PEP 562), and the zoo's Keras objects (layers,
models, losses, metrics, schedules) are registered as soon as Keras is
imported (`pointnet_tf2.utils.registration`), so a `.keras` file saved from a
model of the zoo loads with `keras.saving.load_model` after a plain
`import pointnet_tf2`.
"""

from pointnet_tf2.utils import registration as _registration
from pointnet_tf2.utils.lazy import lazy_exports as _lazy_exports
from pointnet_tf2.version import __version__

_EXPORTS = {
    "fold_batch_norm": "pointnet_tf2.models",
    "get_model": "pointnet_tf2.models",
    "list_models": "pointnet_tf2.models",
    "predict": "pointnet_tf2.inference",
    "from_preset": "pointnet_tf2.presets",
    "save_to_preset": "pointnet_tf2.presets",
    "register_keras_objects": "pointnet_tf2.utils.registration",
}

_getattr, _, _ = _lazy_exports(globals(), _EXPORTS)


def __getattr__(name):
    # A public name needs the zoo: register its Keras objects with it.
    value = _getattr(name)
    if name in _EXPORTS:
        _registration.register_keras_objects()
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = ["__version__", "fold_batch_norm", "from_preset", "get_model", "list_models", "predict",
           "register_keras_objects", "save_to_preset"]

_registration.install()
