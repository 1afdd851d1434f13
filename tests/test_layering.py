"""The package's imports follow the layering rule of ARCHITECTURE.md.

```
utils, compat  ->  layers  ->  models  ->  tasks  ->  training, evaluation, inference  ->  commands
data  ->  tasks, training, evaluation, inference
```

The import graph is read from the module files with `ast` (nothing is
imported): every `import` and `from ... import` naming a module of the
package, at module level and inside functions. A `from pointnet_tf2.data
import NAME` (or of any package with lazy `_EXPORTS`: `pointnet_tf2`,
`training`, `data.raw`) is followed through those lazy exports to the module
defining NAME. Dynamic imports (`importlib.import_module`: the command
dispatch of `cli.py`, the lazy exports, the Keras registration of
`utils/registration.py`) are not seen.

Package `__init__` files are facades: `pointnet_tf2/__init__.py` exports the
public API lazily, so it is the top layer; a subpackage's `__init__` is in its
subpackage's layer.

The tests assert:

- no import cycle among the package's modules, counting module-level imports
  and, separately, all imports;
- no import from a lower layer to a higher one (`LAYERS`), and `data` imported
  only from the tasks layer up;
- an import inside a function only for a heavy or optional dependency
  (`HEAVY`), never for the standard library or numpy, and never for a module
  of the package, except in the functions of `LAZY_IMPORTERS`: the `run` of a
  command, which imports what it runs there so that `pointnet-tf2 --help`
  and `pointnet-tf2 COMMAND --help` do not import TensorFlow.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "pointnet_tf2"

# Layer of each module, by the longest matching prefix of its dotted name
# (without "pointnet_tf2."). An import may go to the same or a lower layer.
LAYERS = {
    # 0: no package imports but each other.
    "version": 0,
    "compat": 0,  # every private Keras/TF detail
    "utils": 0,
    # 1: building blocks (Keras layers and metrics).
    "layers": 1,
    "metrics": 1,
    "losses": 1,
    # `data` is its own column at layer 1 (see DATA): it imports utils only, and
    # only the tasks layer and above import it.
    "data": 1,
    # 2: models, and what analyses them.
    "models": 2,
    "utils.flops": 2,  # counts the multiply-adds of the zoo's layers (lives in utils for its import path)
    "task_names": 0,  # the task names, checked by the registry and the dataset readers
    # 3: tasks: what a task is (defaults, builder arguments, compile arguments,
    # monitor, evaluation protocol) and what it compiles with.
    "tasks": 3,
    "training.schedules": 3,
    # 4: running models: training, evaluation, inference and their protocols.
    "training": 4,
    "checkpoints": 4,
    "evaluation": 4,
    "retrieval": 4,
    "rotations": 4,
    "inference": 4,
    "export": 4,
    "presets": 4,  # writes presets (reading them is in checkpoints)
    "viz": 4,
    "migration": 4,
    # 5: command line.
    "training.cli": 5,  # the train_*.py scripts' flags
    "cli_facts": 5,  # the help texts' snapshot of the zoo (plain data, written by training.help_facts)
    "commands": 5,
    "cli": 5,
    "__main__": 6,
    "": 6,  # pointnet_tf2/__init__.py: the public API, registers the Keras objects
}
DATA = "data"
# The lowest layer that may import `data`.
DATA_USERS_FROM = 3

# Third-party modules that may be imported inside a function: heavy to import,
# optional, or needed only by one code path.
HEAVY = {"tensorflow", "keras", "h5py", "matplotlib", "trimesh", "tensorboard", "onnx", "tf2onnx", "hypothesis"}

# The only functions that may import modules of the package: module name (or
# package prefix ending with ".") -> function names. A command's `run` imports
# what it runs, so that building the command-line parser imports no TensorFlow.
LAZY_IMPORTERS = {
    "commands.": {"run"},
    "training.cli": {"run"},
}




def module_files(root=ROOT, package=PACKAGE):
    """Dotted module name -> file, for every module of the package."""
    files = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def _lazy_exports(files, package):
    """Package -> {name -> defining module} of every package `__init__`'s lazy `_EXPORTS`."""
    found = {}
    for module, path in files.items():
        if path.name != "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
                found[module] = ast.literal_eval(node.value)
    return found


def _resolve(name, files):
    """The package module an import of dotted `name` runs (its longest existing prefix)."""
    while name not in files and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in files else None


def imports(files, package=PACKAGE):
    """Every import of every module.

    Returns:
        A list of `(importer, imported, in_function, line)`; `imported` is a
        package module or, for other modules, the top-level name (e.g. "keras");
        `in_function` is the name of the outermost function holding the import,
        or False at module level.
    """
    lazy = _lazy_exports(files, package)
    found = []
    for module, path in files.items():
        current = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

        def targets(node):
            if isinstance(node, ast.Import):
                return [alias.name for alias in node.names]
            base = node.module or ""
            if node.level:
                parts = current.split(".")[: len(current.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names = []
            for alias in node.names:
                if alias.name in lazy.get(base, {}):
                    names.append(lazy[base][alias.name])
                elif f"{base}.{alias.name}" in files:
                    names.append(f"{base}.{alias.name}")
                else:
                    names.append(base)
            return names

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for name in targets(child):
                        if name == package or name.startswith(package + "."):
                            target = _resolve(name, files)
                            if target != module:
                                found.append((module, target, in_function, child.lineno))
                        else:
                            found.append((module, name.split(".")[0], in_function, child.lineno))
                function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, in_function or (getattr(child, "name", "<lambda>") if function else False))

        visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def layer_of(module, package=PACKAGE):
    """The layer of a package module (longest prefix of `LAYERS`)."""
    name = module[len(package) + 1 :] if module != package else ""
    parts = name.split(".") if name else []
    for end in range(len(parts), -1, -1):
        key = ".".join(parts[:end])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(module)


def _in_data(module, package=PACKAGE):
    return module == f"{package}.{DATA}" or module.startswith(f"{package}.{DATA}.")


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def upward(found, package=PACKAGE):
    """The imports breaking the layering: `(importer, imported, line)`."""
    bad = []
    for module, target, _, line in found:
        if not target.startswith(package):
            continue
        if layer_of(target, package) > layer_of(module, package):
            bad.append((module, target, line))
        elif _in_data(target, package) and not _in_data(module, package) and layer_of(module, package) < DATA_USERS_FROM:
            bad.append((module, target, line))
        elif _in_data(module, package) and not _in_data(target, package) and layer_of(target, package) > 0:
            bad.append((module, target, line))
    return bad


@pytest.fixture(scope="module")
def graph():
    files = module_files()
    return files, imports(files)


def test_every_module_has_a_layer(graph):
    files, _ = graph
    for module in files:
        layer_of(module)


def test_no_import_cycles(graph):
    _, found = graph
    package_edges = [(a, b) for a, b, _, _ in found if b.startswith(PACKAGE)]
    module_level = [(a, b) for a, b, in_function, _ in found if b.startswith(PACKAGE) and not in_function]
    assert cycles(module_level) == []
    assert cycles(package_edges) == [], "a function-level import closes a cycle"


def test_no_upward_imports(graph):
    _, found = graph
    assert upward(found) == []


def lazy_importer(module, function, package=PACKAGE):
    """Whether `function` of `module` may import modules of the package (`LAZY_IMPORTERS`)."""
    name = module[len(package) + 1:]
    return any(function in functions for prefix, functions in LAZY_IMPORTERS.items()
               if name == prefix or (prefix.endswith(".") and name.startswith(prefix)))


def test_function_level_imports_only_for_heavy_modules(graph):
    _, found = graph
    package_imports = {(a, b) for a, b, in_function, _ in found
                       if in_function and b.startswith(PACKAGE) and not lazy_importer(a, in_function)}
    other = {(a, b) for a, b, in_function, _ in found if in_function and not b.startswith(PACKAGE) and b not in HEAVY}
    assert sorted(package_imports) == [], "move these imports to the module head"
    assert sorted(other) == [], "move these imports to the module head"


def test_graph_sees_known_imports(graph):
    _, found = graph
    edges = {(a, b, bool(in_function)) for a, b, in_function, _ in found}
    assert ("pointnet_tf2.training.trainer", "pointnet_tf2.training.run_setup", False) in edges
    # Through the lazy exports of pointnet_tf2.data to the defining module.
    assert ("pointnet_tf2.training.run_setup", "pointnet_tf2.data.synthetic", False) in edges
    assert ("pointnet_tf2.compat", "tensorflow", True) in edges
    # A command's run imports what it runs; through the lazy exports of pointnet_tf2.training.
    assert ("pointnet_tf2.commands.evaluate", "pointnet_tf2.checkpoints", True) in edges
    assert ("pointnet_tf2.training.cli", "pointnet_tf2.training.trainer", True) in edges


def _write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checks_can_fail(tmp_path):
    # A made-up package with a cycle through a function-level import, an upward
    # import, and models importing data.
    _write(tmp_path, {
        "pointnet_tf2/__init__.py": "",
        "pointnet_tf2/utils/__init__.py": "",
        "pointnet_tf2/utils/files.py": "import pointnet_tf2.layers.blocks\n",
        "pointnet_tf2/layers/__init__.py": "",
        "pointnet_tf2/layers/blocks.py": "def f():\n    from pointnet_tf2.utils import files\n    import json\n",
        "pointnet_tf2/models/__init__.py": "from pointnet_tf2.data import formats\n",
        "pointnet_tf2/data/__init__.py": "",
        "pointnet_tf2/data/formats.py": "",
    })
    files = module_files(tmp_path)
    found = imports(files)
    assert cycles([(a, b) for a, b, f, _ in found if b.startswith(PACKAGE)]) == [
        ["pointnet_tf2.layers.blocks", "pointnet_tf2.utils.files"]]
    assert cycles([(a, b) for a, b, f, _ in found if b.startswith(PACKAGE) and not f]) == []
    assert sorted((a, b) for a, b, _ in upward(found)) == [
        ("pointnet_tf2.models", "pointnet_tf2.data.formats"),
        ("pointnet_tf2.utils.files", "pointnet_tf2.layers.blocks"),
    ]
    assert ("pointnet_tf2.layers.blocks", "json", "f", 3) in found
    assert not lazy_importer("pointnet_tf2.layers.blocks", "f")


def test_lazy_importers():
    assert lazy_importer("pointnet_tf2.commands.evaluate", "run")
    assert lazy_importer("pointnet_tf2.training.cli", "run")
    assert not lazy_importer("pointnet_tf2.commands.evaluate", "add_arguments")
    assert not lazy_importer("pointnet_tf2.training.cli", "main")
    assert not lazy_importer("pointnet_tf2.commands_extra", "run")
    assert not lazy_importer("pointnet_tf2.training.trainer", "run")
