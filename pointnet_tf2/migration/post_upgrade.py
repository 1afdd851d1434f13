"""Fixes for what `tf_upgrade_v2` leaves broken in TF1 PointNet code.

`tf_upgrade_v2` renames TF1 symbols to `tf.compat.v1` and rewrites some
arguments, but code written like the original PointNet still fails under
TensorFlow 2 after the upgrade, and the report says nothing about it:

* `dropout`: a positional `tf.nn.dropout(x, keep_prob, noise_shape)` becomes
  `tf.nn.dropout(x, noise_shape, rate=1 - (keep_prob))`; `noise_shape` then
  lands on the positional `rate` parameter and the call raises
  "Got multiple values for argument 'rate'". Rewritten to
  `tf.nn.dropout(x, rate=1 - (keep_prob), noise_shape=noise_shape)`.
* `dimension-value`: `x.get_shape()[i].value` (and `x.shape[i].value`) only
  works while TF2 shapes are off (`Dimension` objects); with TF2 shapes the
  item is an `int` without `.value`. Rewritten to
  `tf.compat.dimension_value(x.get_shape()[i])`, correct under both.
* `variable-iadd`: `biases += tf.constant(...)` on a variable made by
  `tf.get_variable` gave a new tensor in TF1 (reference variables); TF2
  resource variables raise "`variable += value` with `tf.Variable`s is not
  supported". Rewritten to `biases = biases + tf.constant(...)`, which is
  what the TF1 code computed (the stored variable never holds the sum).
* `summary-v1`: `tf.summary.scalar(...)` (histogram, image, ...) is left as
  is, although the report says the summary symbols "have been converted to
  tf.compat.v1.summary.*". Under TF2 it is the TF2 summary op, which writes
  nothing without a default writer and never reaches the collection that the
  (converted) `tf.compat.v1.summary.merge_all()` reads, so merge_all returns
  None and `sess.run` fails on it. Rewritten to `tf.compat.v1.summary.scalar`.
* `graph-mode`: placeholders, sessions and `tf.get_variable` + `tf.cond`
  batch norm need graph mode with the TF2 behaviour off. Every script with a
  `if __name__ == "__main__":` block gets `tf.compat.v1.disable_v2_behavior()`
  as the block's first statement, so imported modules are left alone.

The fixes work on the Python syntax tree (not on text patterns) and only
touch the exact calls or expressions above.
"""

import ast
import dataclasses
import os

from pointnet_tf2.utils import atomic_output

FIX_KINDS = ("dropout", "dimension-value", "variable-iadd", "summary-v1", "graph-mode")
# TF1 summary ops that tf_upgrade_v2 leaves as `tf.summary.*` (the TF2 API).
V1_SUMMARY_OPS = ("scalar", "histogram", "image", "audio", "text", "tensor_summary", "merge")


@dataclasses.dataclass(frozen=True)
class PostUpgradeFix:
    """One change made by `apply_post_upgrade_fixes`.

    Attributes:
        file: Path of the changed file relative to the tree.
        line: 1-based line of the changed code (before the change).
        kind: One of `FIX_KINDS`.
        before: The source text that was replaced (empty for insertions).
        after: The new source text.
    """

    file: str
    line: int
    kind: str
    before: str
    after: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.kind}: {self.before or '(inserted)'} -> {self.after}"


def _line_starts(source):
    """Character offset of the start of every line (index 0 is line 1)."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _offset(source_lines, starts, lineno, col_offset):
    """Converts an ast (line, UTF-8 byte column) into a character offset."""
    line = source_lines[lineno - 1]
    chars = len(line.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore"))
    return starts[lineno - 1] + chars


class _Rewriter:
    """Collects non-overlapping replacements on one source text."""

    def __init__(self, source):
        self.source = source
        self.lines = source.splitlines(keepends=True) or [""]
        self.starts = _line_starts(source)
        self.replacements = []  # (start, end, text)

    def span(self, node):
        start = _offset(self.lines, self.starts, node.lineno, node.col_offset)
        end = _offset(self.lines, self.starts, node.end_lineno, node.end_col_offset)
        return start, end

    def text(self, node):
        start, end = self.span(node)
        return self.source[start:end]

    def overlaps(self, start, end):
        return any(start < e and s < end for s, e, _ in self.replacements)

    def replace(self, start, end, text):
        self.replacements.append((start, end, text))

    def result(self):
        out = self.source
        for start, end, text in sorted(self.replacements, reverse=True):
            out = out[:start] + text + out[end:]
        return out


def _tf_alias(tree):
    """The name TensorFlow is imported as at module level (None if not imported)."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tensorflow":
                    return alias.asname or "tensorflow"
    return None


def _fix_dropout(tree, rewriter, tf_name):
    """`tf.nn.dropout(x, noise_shape, rate=r)` -> `tf.nn.dropout(x, rate=r, noise_shape=noise_shape)`."""
    fixes = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func) == f"{tf_name}.nn.dropout"):
            continue
        keywords = {kw.arg for kw in node.keywords}
        if len(node.args) != 2 or "rate" not in keywords or "noise_shape" in keywords:
            continue
        if any(isinstance(arg, ast.Starred) for arg in node.args) or None in keywords:
            continue
        start, end = rewriter.span(node)
        if rewriter.overlaps(start, end):
            continue
        parts = [rewriter.text(node.args[0])]
        parts += [rewriter.text(kw) for kw in node.keywords]
        parts.append("noise_shape=" + rewriter.text(node.args[1]))
        new_text = f"{rewriter.text(node.func)}({', '.join(parts)})"
        before = rewriter.source[start:end]
        rewriter.replace(start, end, new_text)
        fixes.append(("dropout", node.lineno, before, new_text))
    return fixes


def _is_static_dimension(node):
    """True for `<expr>.get_shape()[i]` and `<expr>.shape[i]`."""
    if not isinstance(node, ast.Subscript):
        return False
    base = node.value
    if isinstance(base, ast.Call) and not base.args and not base.keywords:
        return isinstance(base.func, ast.Attribute) and base.func.attr == "get_shape"
    return isinstance(base, ast.Attribute) and base.attr == "shape"


def _fix_dimension_value(tree, rewriter, tf_name):
    """`x.get_shape()[i].value` -> `tf.compat.dimension_value(x.get_shape()[i])`."""
    fixes = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr == "value"
                and isinstance(node.ctx, ast.Load) and _is_static_dimension(node.value)):
            continue
        start, end = rewriter.span(node)
        if rewriter.overlaps(start, end):
            continue
        new_text = f"{tf_name}.compat.dimension_value({rewriter.text(node.value)})"
        before = rewriter.source[start:end]
        rewriter.replace(start, end, new_text)
        fixes.append(("dimension-value", node.lineno, before, new_text))
    return fixes


def _fix_summary_v1(tree, rewriter, tf_name):
    """`tf.summary.scalar` -> `tf.compat.v1.summary.scalar` (and the other TF1 summary ops)."""
    fixes = []
    names = {f"{tf_name}.summary.{op}": f"{tf_name}.compat.v1.summary.{op}" for op in V1_SUMMARY_OPS}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)):
            continue
        new_text = names.get(ast.unparse(node))
        if new_text is None:
            continue
        start, end = rewriter.span(node)
        if rewriter.overlaps(start, end):
            continue
        before = rewriter.source[start:end]
        rewriter.replace(start, end, new_text)
        fixes.append(("summary-v1", node.lineno, before, new_text))
    return fixes


_VARIABLE_FACTORIES = ("get_variable", "Variable")


def _creates_variable(value):
    """True for calls like `tf.compat.v1.get_variable(...)` or `tf.Variable(...)`."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in _VARIABLE_FACTORIES


def _fix_variable_iadd(tree, rewriter, tf_name):
    """`v += x` on a variable created in the same function -> `v = v + x`."""
    del tf_name
    fixes = []
    scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes:
        variables = set()
        statements = [n for n in ast.walk(scope) if isinstance(n, (ast.Assign, ast.AugAssign))]
        statements.sort(key=lambda n: (n.lineno, n.col_offset))
        for node in statements:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        if _creates_variable(node.value):
                            variables.add(target.id)
                        else:
                            variables.discard(target.id)
                continue
            if not (isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name)
                    and node.target.id in variables):
                continue
            start, end = rewriter.span(node)
            if rewriter.overlaps(start, end):
                continue
            value = rewriter.text(node.value)
            if not isinstance(node.value, (ast.Call, ast.Name, ast.Attribute, ast.Subscript, ast.Constant)):
                value = f"({value})"
            name = node.target.id
            new_text = f"{name} = {name} + {value}"
            before = rewriter.source[start:end]
            rewriter.replace(start, end, new_text)
            variables.discard(name)  # from here on it names a tensor
            fixes.append(("variable-iadd", node.lineno, before, new_text))
    return fixes


_GRAPH_MODE_CALL = "compat.v1.disable_v2_behavior()"


def _is_main_guard(node):
    if not isinstance(node, ast.If):
        return False
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def _fix_graph_mode(tree, rewriter, tf_name):
    """Inserts `tf.compat.v1.disable_v2_behavior()` first in every `__main__` block."""
    fixes = []
    call = f"{tf_name}.{_GRAPH_MODE_CALL}"
    for node in tree.body:
        if not _is_main_guard(node):
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and ast.unparse(first.value) == call:
            continue  # already applied
        line = rewriter.lines[first.lineno - 1]
        indent = line[: len(line) - len(line.lstrip())]
        start = rewriter.starts[first.lineno - 1]
        rewriter.replace(start, start, f"{indent}{call}\n")
        fixes.append(("graph-mode", first.lineno, "", call))
    return fixes


def fix_source(source, filename="<source>", kinds=FIX_KINDS):
    """Applies the post-upgrade fixes to one upgraded Python source text.

    Args:
        source: The text of a file written by `tf_upgrade_v2`.
        filename: Name used in the returned fixes and in syntax errors.
        kinds: Which fixes to apply (a subset of `FIX_KINDS`).

    Returns:
        `(new_source, fixes)`: the fixed text and a list of `PostUpgradeFix`
        (empty and the text unchanged when nothing applies, e.g. when the
        file does not import TensorFlow).

    Raises:
        ValueError: If a kind is unknown or the source is not valid Python.
    """
    unknown = [kind for kind in kinds if kind not in FIX_KINDS]
    if unknown:
        raise ValueError(f"unknown post-upgrade fix {unknown[0]!r}; expected one of {', '.join(FIX_KINDS)}")
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise ValueError(f"{filename}: not valid Python (line {error.lineno}): {error.msg}") from None
    tf_name = _tf_alias(tree)
    if tf_name is None:
        return source, []
    rewriter = _Rewriter(source)
    found = []
    if "dropout" in kinds:
        found += _fix_dropout(tree, rewriter, tf_name)
    if "dimension-value" in kinds:
        found += _fix_dimension_value(tree, rewriter, tf_name)
    if "variable-iadd" in kinds:
        found += _fix_variable_iadd(tree, rewriter, tf_name)
    if "summary-v1" in kinds:
        found += _fix_summary_v1(tree, rewriter, tf_name)
    if "graph-mode" in kinds:
        found += _fix_graph_mode(tree, rewriter, tf_name)
    fixes = [PostUpgradeFix(filename, line, kind, before, after) for kind, line, before, after in found]
    fixes.sort(key=lambda fix: (fix.line, fix.kind))
    return rewriter.result(), fixes


def apply_post_upgrade_fixes(tree, kinds=FIX_KINDS):
    """Applies the post-upgrade fixes in place to every `.py` file of an upgraded tree.

    Run it on the output tree of `tf_upgrade_v2`, never on TF1 sources (the
    dropout fix assumes the upgrader's rewrite).

    Args:
        tree: Folder written by `tf_upgrade_v2 --outtree`.
        kinds: Which fixes to apply (a subset of `FIX_KINDS`).

    Returns:
        The list of `PostUpgradeFix` applied, sorted by file and line.

    Raises:
        FileNotFoundError: If `tree` is not a folder.
        ValueError: If a file is not valid Python or a kind is unknown.
    """
    tree = os.fspath(tree)
    if not os.path.isdir(tree):
        raise FileNotFoundError(f"{tree}: not a folder")
    changed = []  # every file is checked before any is written
    for folder, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, tree).replace(os.sep, "/")
            with open(path, encoding="utf-8") as f:
                source = f.read()
            new_source, file_fixes = fix_source(source, relative, kinds)
            if file_fixes:
                changed.append((path, new_source, file_fixes))
    fixes = []
    for path, new_source, file_fixes in changed:
        with atomic_output(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(new_source)
        fixes.extend(file_fixes)
    fixes.sort(key=lambda fix: (fix.file, fix.line, fix.kind))
    return fixes
