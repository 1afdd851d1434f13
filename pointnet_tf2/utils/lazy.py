"""Lazy package attributes (PEP 562): names imported from their module on first use (also `pointnet_tf2.data._lazy`)."""

import importlib


def lazy_exports(namespace, exports, submodules=()):
    """Builds a package's module-level `__getattr__` and `__dir__` for names imported on first use.

    A name of `exports` is imported from its module when first looked up and
    then kept in `namespace`, so the import happens once; a name of
    `submodules` imports the package's submodule of that name.

    Args:
        namespace: The package's `globals()`.
        exports: Dict public name -> absolute name of the module defining it.
        submodules: Names of submodules that are public attributes as well.

    Returns:
        `(__getattr__, __dir__, __all__)`: the two functions to assign at
        module level, and the sorted list of exported names followed by
        `submodules`.
    """
    package = namespace["__name__"]
    names = sorted(exports) + list(submodules)

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            if name in submodules:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return names

    return __getattr__, __dir__, names
