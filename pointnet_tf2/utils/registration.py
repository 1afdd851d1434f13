"""Registering the zoo's Keras objects, at the first model load or build.

The layers, models, losses, metrics and schedules of the zoo are registered
with `keras.saving.register_keras_serializable` when their modules are
imported, which imports TensorFlow. `import pointnet_tf2` imports neither:

- if Keras is imported already, `install()` registers at once;
- otherwise it puts a finder on `sys.meta_path` that registers as soon as
  `keras` has finished importing (whoever imports it), so
  `import pointnet_tf2; import keras; keras.saving.load_model(path)` works;
- the package's own loaders and builders (`load_keras_model`,
  `open_checkpoint`, `get_model`) call `register_keras_objects()` themselves.

When Keras is first imported by a module of the package that is still being
imported (e.g. `import pointnet_tf2.layers`), registering then would import
the package's modules in the middle of that import; it waits instead for the
next of the calls above, or `pointnet_tf2.register_keras_objects()`.

`KERAS_MODULES` names the modules by string: this module imports nothing of
the package, like the lazy exports of `pointnet_tf2.utils.lazy`.
"""

import importlib
import importlib.abc
import sys

# Importing these registers every Keras object a `.keras` file of the zoo may
# name: models and layers, metrics, losses, schedules, the tasks' metrics.
KERAS_MODULES = (
    "pointnet_tf2.models",
    "pointnet_tf2.metrics",
    "pointnet_tf2.losses",
    "pointnet_tf2.training.schedules",
    "pointnet_tf2.training.optimizers",
    "pointnet_tf2.tasks",
)
PACKAGE = "pointnet_tf2"

_state = {"registered": False}


def is_registered():
    """Whether the zoo's Keras objects are registered."""
    return _state["registered"]


def register_keras_objects():
    """Imports `KERAS_MODULES` once, registering every Keras object of the zoo.

    Imports TensorFlow and Keras. Idempotent and cheap after the first call.
    """
    if _state["registered"]:
        return
    for name in KERAS_MODULES:
        importlib.import_module(name)
    _state["registered"] = True
    _remove_hook()


def _package_importing():
    """Whether a module of the package (other than its `__init__`) is being imported right now."""
    for name, module in list(sys.modules.items()):
        if name.startswith(PACKAGE + ".") and getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


def _register_when_safe():
    if not _package_importing():
        register_keras_objects()


class _KerasLoader(importlib.abc.Loader):
    """Runs the real loader of `keras`, then registers the zoo."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _remove_hook()
        _register_when_safe()


class _KerasHook(importlib.abc.MetaPathFinder):
    """A `sys.meta_path` finder that only wraps the loader of the top-level `keras` module."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _KerasLoader(spec.loader)
                return spec
        return None


def _remove_hook():
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _KerasHook)]


def install():
    """Registers now if Keras is imported, else when it is (see the module docstring)."""
    if _state["registered"]:
        return
    if "keras" in sys.modules:
        _register_when_safe()
    elif not any(isinstance(finder, _KerasHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasHook())
