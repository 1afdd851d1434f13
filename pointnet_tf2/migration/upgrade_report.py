"""Runs `tf_upgrade_v2` on TF1 code, normalises its report, parses and compares reports.

`tf_upgrade_v2` (shipped with TensorFlow) converts a tree of TF1 Python files
and writes a report: a header ("Converted N files", "Detected M issues that
require attention"), per-file sections of `path:line:col: LEVEL: message` for
the warnings and errors, and after "Detailed log follows:" one section per
processed file with `line:col: LEVEL: message` entries (renames, argument
changes, manual checks).

Its raw report holds absolute paths and lists files in file-system order.
`generate_report` runs the tool on a temporary copy target and normalises the
report so that it is byte-identical from run to run and machine to machine:
the input tree is named by its folder name (`original/...`), the output tree
`upgraded/...`, and file sections are sorted by path.

`compare_reports` matches entries by (file, level, message), not by line, so
edits that only move code are not reported as changes.
"""

import collections
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile

from pointnet_tf2.migration.post_upgrade import apply_post_upgrade_fixes
from pointnet_tf2.utils import atomic_output

UPGRADER_MODULE = "tensorflow.tools.compatibility.tf_upgrade_v2_main"
REPORT_TITLE = "TensorFlow 2.0 Upgrade Script"
DETAILED_HEADER = "Detailed log follows:"
OUTPUT_LABEL = "upgraded"
LEVELS = ("ERROR", "WARNING", "INFO")
# Kinds of report entries, most serious first.
KINDS = ("error", "warning", "manual check", "rename", "info")
PROBLEM_KINDS = ("error", "warning")

_DASHES = "-" * 80
_EQUALS = "=" * 80
_FILE_SECTION = re.compile(r"(?m)^-{80}\nFile: ")
_LOG_SECTION = re.compile(r"(?m)^-{80}\nProcessing file ")
_CONVERTED = re.compile(r"(?m)^Converted (\d+) files?$")
_DETECTED = re.compile(r"(?m)^Detected (\d+) issues? that require attention$")
_INPUT_TREE = re.compile(r"(?m)^Input tree: (.*)$")
_PROCESSING = re.compile(r"^Processing file (.*)$")
_SUMMARY_ENTRY = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<level>ERROR|WARNING|INFO): (?P<message>.*)$")
_LOG_ENTRY = re.compile(r"^(?:(?P<line>\d+):(?P<col>\d+): )?(?P<level>ERROR|WARNING|INFO): (?P<message>.*)$")
_SITE_PACKAGES = re.compile(r'File "[^"\n]*?[/\\](site|dist)-packages[/\\]')
_PYTHON_LIB = re.compile(r'File "[^"\n]*?[/\\]lib[/\\]python\d+(\.\d+)?[/\\]')


def default_source_dir():
    """The repository's `original/` folder (the TF1 reference implementation).

    Returns:
        Its absolute path.

    Raises:
        FileNotFoundError: If the package is not run from a source checkout.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.normpath(os.path.join(here, "..", "..", "original"))
    if not os.path.isdir(source):
        raise FileNotFoundError(f"{source}: the original/ folder is missing (not a source checkout?); pass a source folder")
    return source


# --------------------------------------------------------------------------
# Running the upgrade


def _python_files(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".py")]


def _run_upgrader(source_dir, output_dir, report_path):
    """Runs tf_upgrade_v2 in a subprocess (the same Python as this package)."""
    command = [sys.executable, "-m", UPGRADER_MODULE, "--intree", source_dir,
               "--outtree", output_dir, "--reportfile", report_path]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0 or not os.path.isfile(report_path):
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {result.returncode}"
        raise OSError(f"{source_dir}: tf_upgrade_v2 failed: {last}")


def _relabel_paths(text, root, label):
    """Replaces the absolute folder `root` by `label` wherever it starts a path."""
    root = root.rstrip("/\\")
    pattern = re.compile(re.escape(root) + r"(?=[/\\'\"\s:]|$)")
    return pattern.sub(lambda _: label, text)


def _sort_sections(text, separator):
    """Splits `text` at `separator` matches and sorts the sections (keeps the preamble first)."""
    starts = [m.start() for m in separator.finditer(text)]
    if len(starts) < 2:
        return text
    preamble = text[: starts[0]]
    sections = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    return preamble + "".join(sorted(sections, key=lambda s: s.split("\n", 2)[1]))


def normalize_report(text, input_root, output_root=None, input_label=None, output_label=OUTPUT_LABEL):
    """Makes a tf_upgrade_v2 report independent of where and how it was produced.

    Absolute paths of the input and output trees become `input_label` and
    `output_label`, Python library paths in parse-error tracebacks become
    `<site-packages>/` and `<python-lib>/`, and the per-file sections (both the
    warning summary and the detailed log) are sorted by path, since
    tf_upgrade_v2 lists them in file-system order.

    Args:
        text: The report as written by tf_upgrade_v2.
        input_root: The `--intree` folder as it appears in the report.
        output_root: The `--outtree` folder, or None.
        input_label: Name for the input tree; defaults to its folder name.
        output_label: Name for the output tree.

    Returns:
        The normalised report text.
    """
    input_root = os.fspath(input_root)
    if input_label is None:
        input_label = os.path.basename(os.path.normpath(input_root))
    roots = [(input_root, input_label)]
    if output_root is not None:
        roots.append((os.fspath(output_root), output_label))
    # Longest first, so a root nested in another is replaced before its parent.
    for root, label in sorted(roots, key=lambda item: -len(item[0])):
        text = _relabel_paths(text, os.path.normpath(root), label)
    text = _SITE_PACKAGES.sub('File "<site-packages>/', text)
    text = _PYTHON_LIB.sub('File "<python-lib>/', text)

    head, found, detailed = text.partition(_EQUALS + "\n" + DETAILED_HEADER)
    head = _sort_sections(head, _FILE_SECTION)
    if found:
        detailed = _sort_sections(detailed, _LOG_SECTION)
    return head + found + detailed


def upgrade_tree(source_dir=None, output_dir=None, *, fixes=True):
    """Runs tf_upgrade_v2 on a tree of TF1 code and returns its normalised report.

    Args:
        source_dir: Folder of TF1 Python code; defaults to the repository's
            `original/`.
        output_dir: Where to put the upgraded tree (must not exist); None keeps
            it only in a temporary folder that is removed afterwards. The tree
            is moved into place only when everything succeeded.
        fixes: Also apply `apply_post_upgrade_fixes` to the upgraded tree.

    Returns:
        `(report_text, applied_fixes)`: the normalised report (see
        `normalize_report`) and the list of `PostUpgradeFix` (empty when
        `fixes` is False).

    Raises:
        FileNotFoundError: If `source_dir` is not a folder.
        ValueError: If it holds no Python file or `output_dir` exists.
        OSError: If tf_upgrade_v2 fails.
    """
    source_dir = os.path.abspath(os.fspath(source_dir) if source_dir is not None else default_source_dir())
    if not os.path.isdir(source_dir):
        raise FileNotFoundError(f"{source_dir}: not a folder")
    if not _python_files(source_dir):
        raise ValueError(f"{source_dir}: no Python files to upgrade")
    if output_dir is not None:
        output_dir = os.path.abspath(os.fspath(output_dir))
        if os.path.lexists(output_dir):
            raise ValueError(f"{output_dir}: already exists; the upgraded tree needs a new folder")
        if output_dir == source_dir or output_dir.startswith(source_dir + os.sep):
            raise ValueError(f"{output_dir}: the upgraded tree must be outside {source_dir}")

    work = tempfile.mkdtemp(prefix="pointnet_tf2_upgrade_")
    try:
        tree = os.path.join(work, OUTPUT_LABEL)
        report_path = os.path.join(work, "report.txt")
        _run_upgrader(source_dir, tree, report_path)
        with open(report_path, encoding="utf-8") as f:
            raw = f.read()
        report = normalize_report(raw, source_dir, tree)
        applied = apply_post_upgrade_fixes(tree) if fixes else []
        if output_dir is not None:
            with atomic_output(output_dir) as tmp:
                shutil.copytree(tree, tmp, symlinks=True)
        return report, applied
    finally:
        shutil.rmtree(work, ignore_errors=True)


def generate_report(source_dir=None):
    """The normalised tf_upgrade_v2 report for a tree (deterministic).

    Args:
        source_dir: Folder of TF1 code; defaults to the repository's `original/`.

    Returns:
        The report text.

    Raises:
        FileNotFoundError, ValueError, OSError: As `upgrade_tree`.
    """
    report, _ = upgrade_tree(source_dir, fixes=False)
    return report


def write_report(path, source_dir=None):
    """Writes the normalised report of `source_dir` to `path` (atomically).

    Args:
        path: Output file, e.g. `original/tf_upgrade_v2_report.txt`.
        source_dir: Folder of TF1 code; defaults to the repository's `original/`.

    Returns:
        The report text.
    """
    report = generate_report(source_dir)
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(report)
    return report


# --------------------------------------------------------------------------
# Parsing


@dataclasses.dataclass(frozen=True)
class ReportEntry:
    """One message of a tf_upgrade_v2 report.

    Attributes:
        file: Path of the source file relative to the input tree.
        line: 1-based line (None for file-level errors such as parse failures).
        col: 0-based column (None likewise).
        level: "ERROR", "WARNING" or "INFO".
        message: The message; continuation lines joined with newlines.
    """

    file: str
    line: int
    col: int
    level: str
    message: str

    @property
    def kind(self):
        """One of `KINDS`: error, warning, manual check (INFO), rename, info."""
        if self.level == "ERROR":
            return "error"
        if self.level == "WARNING":
            return "warning"
        if "requires manual check" in self.message:
            return "manual check"
        if self.message.startswith("Renamed"):
            return "rename"
        return "info"

    @property
    def key(self):
        """What entries are matched by: file, level and message, not position."""
        message = self.message
        if self.line is None:  # file-level errors carry a traceback after the first line
            message = message.split("\n", 1)[0]
        return (self.file, self.level, " ".join(message.split()))

    @property
    def location(self):
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"

    def headline(self, width=160):
        """`file:line:col: LEVEL: first line of the message` (shortened to `width`)."""
        first = self.message.split("\n", 1)[0].strip()
        if len(first) > width:
            first = first[: width - 3].rstrip() + "..."
        return f"{self.location}: {self.level}: {first}"


@dataclasses.dataclass
class UpgradeReport:
    """A parsed tf_upgrade_v2 report.

    Attributes:
        converted_files: The "Converted N files" count (None if absent).
        issue_count: The "Detected M issues" count (None if absent).
        input_tree: The "Input tree" folder as written in the report.
        issues: Entries of the warning/error summary at the top.
        log: Entries of the detailed log (every level).
        files: Files of the detailed log, relative to the input tree.
    """

    converted_files: int = None
    issue_count: int = None
    input_tree: str = None
    issues: list = dataclasses.field(default_factory=list)
    log: list = dataclasses.field(default_factory=list)
    files: list = dataclasses.field(default_factory=list)

    @property
    def entries(self):
        """The detailed log when present, else the summary issues."""
        return self.log if self.log else self.issues


def _unquote(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _relative(path, root):
    path = path.replace("\\", "/")
    if root:
        root = root.replace("\\", "/").rstrip("/")
        if path == root:
            return ""
        if path.startswith(root + "/"):
            return path[len(root) + 1:]
    return path


def _append(entries, pending):
    if pending is None:
        return
    lines = pending["message"]
    while lines and not lines[-1].strip():
        lines.pop()
    entries.append(ReportEntry(pending["file"], pending["line"], pending["col"],
                               pending["level"], "\n".join(lines).strip()))


def parse_report(text, name="report"):
    """Parses the text of a tf_upgrade_v2 report (raw or normalised).

    Args:
        text: The report text.
        name: Name used in error messages (usually the file path).

    Returns:
        An `UpgradeReport`.

    Raises:
        ValueError: If the text is not a tf_upgrade_v2 report.
    """
    if REPORT_TITLE not in text and DETAILED_HEADER not in text:
        raise ValueError(f"{name}: not a tf_upgrade_v2 report (no '{REPORT_TITLE}' header "
                         f"and no '{DETAILED_HEADER}' section)")
    report = UpgradeReport()
    match = _CONVERTED.search(text)
    report.converted_files = int(match.group(1)) if match else None
    match = _DETECTED.search(text)
    report.issue_count = int(match.group(1)) if match else None
    match = _INPUT_TREE.search(text)
    report.input_tree = _unquote(match.group(1)) if match else None
    root = report.input_tree

    head, _, detailed = text.partition(DETAILED_HEADER)

    # Summary: `path:line:col: LEVEL: message` with continuation lines.
    pending = None
    for line in head.splitlines():
        match = _SUMMARY_ENTRY.match(line)
        if match:
            _append(report.issues, pending)
            pending = {"file": _relative(match["path"], root), "line": int(match["line"]),
                       "col": int(match["col"]), "level": match["level"], "message": [match["message"]]}
        elif line in (_DASHES, _EQUALS) or line.startswith("File: "):
            _append(report.issues, pending)
            pending = None
        elif pending is not None:
            pending["message"].append(line)
    _append(report.issues, pending)

    # Detailed log: sections opened by `Processing file 'X'` and closed by dashes.
    current = None
    pending = None
    lines = detailed.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        processing = _PROCESSING.match(line)
        if processing:
            _append(report.log, pending)
            pending = None
            current = _relative(_unquote(processing.group(1)), root)
            report.files.append(current)
            # Skip " outputting to ..." and the dashed line under the title.
            i += 1
            while i < len(lines) and lines[i] != _DASHES:
                i += 1
        elif line == _DASHES or line == _EQUALS:
            _append(report.log, pending)
            pending = None
        elif current is not None:
            match = _LOG_ENTRY.match(line)
            if match:
                _append(report.log, pending)
                pending = {"file": current,
                           "line": int(match["line"]) if match["line"] else None,
                           "col": int(match["col"]) if match["col"] else None,
                           "level": match["level"], "message": [match["message"]]}
            elif pending is not None:
                pending["message"].append(line)
        i += 1
    _append(report.log, pending)
    return report


def read_report(path):
    """Reads and parses a tf_upgrade_v2 report file.

    Args:
        path: The report file.

    Returns:
        An `UpgradeReport`.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If it is not a tf_upgrade_v2 report.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such report file")
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_report(f.read(), name=path)


# --------------------------------------------------------------------------
# Comparing


@dataclasses.dataclass
class ReportComparison:
    """What changed between two tf_upgrade_v2 reports.

    Attributes:
        old, new: The two `UpgradeReport`s.
        added: Entries only in the new report.
        removed: Entries only in the old report.
        changed: `(old_entry, new_entry)` pairs at the same place (file, line,
            column, level) whose message differs.
        moved: How many entries matched at a different line (line drift).
        files_added, files_removed: Files processed in only one report.
    """

    old: UpgradeReport
    new: UpgradeReport
    added: list
    removed: list
    changed: list
    moved: int
    files_added: list
    files_removed: list

    @property
    def new_problems(self):
        """New warnings and errors: added ones and changed ones with a new message."""
        problems = [e for e in self.added if e.kind in PROBLEM_KINDS]
        problems += [new for _, new in self.changed if new.kind in PROBLEM_KINDS]
        return sorted(problems, key=_entry_order)

    @property
    def identical(self):
        return not (self.added or self.removed or self.changed or self.files_added or self.files_removed
                    or self.old.converted_files != self.new.converted_files
                    or self.old.issue_count != self.new.issue_count)

    def kind_counts(self):
        """`{kind: (added, removed, changed)}` for every kind with a change."""
        counts = collections.OrderedDict()
        for kind in KINDS:
            row = (sum(e.kind == kind for e in self.added),
                   sum(e.kind == kind for e in self.removed),
                   sum(new.kind == kind for _, new in self.changed))
            if any(row):
                counts[kind] = row
        return counts

    def format(self, old_name="old", new_name="new"):
        """A human-readable description of the differences.

        Args:
            old_name, new_name: How to call the two reports.

        Returns:
            The text (lines joined with newlines, no trailing newline).
        """
        out = [f"Comparing tf_upgrade_v2 reports: {old_name} -> {new_name}"]
        for label, a, b in (("Converted files", self.old.converted_files, self.new.converted_files),
                            ("Issues that require attention", self.old.issue_count, self.new.issue_count)):
            out.append(f"{label}: {a} -> {b}" if a != b else f"{label}: {a} (unchanged)")
        if self.identical:
            out.append("No differences" + (f" ({self.moved} entries moved to other lines)" if self.moved else "") + ".")
            return "\n".join(out)
        for f in self.files_added:
            out.append(f"File added: {f}")
        for f in self.files_removed:
            out.append(f"File removed: {f}")

        by_file = collections.defaultdict(list)
        for e in self.added:
            by_file[e.file].append(("+", e, None))
        for e in self.removed:
            by_file[e.file].append(("-", e, None))
        for old, new in self.changed:
            by_file[new.file].append(("~", old, new))
        for file in sorted(by_file):
            out.append("")
            out.append(f"{file}:")
            rows = sorted(by_file[file], key=lambda r: (KINDS.index((r[2] or r[1]).kind), r[1].line or 0, r[0]))
            for sign, entry, new in rows:
                if sign == "~":
                    out.append(f"  ~ {new.kind:<12} {new.headline()[len(new.file) + 1:]}")
                    out.append(f"    {'':<12} was: {entry.message.splitlines()[0].strip()}")
                else:
                    word = "added" if sign == "+" else "removed"
                    out.append(f"  {sign} {entry.kind:<12} {entry.headline()[len(entry.file) + 1:]}  ({word})")
        out.append("")
        out.append("By kind (added / removed / changed):")
        for kind, (a, r, c) in self.kind_counts().items():
            out.append(f"  {kind:<12} +{a} -{r} ~{c}")
        if self.moved:
            out.append(f"Line drift ignored: {self.moved} entries matched at other lines.")
        problems = self.new_problems
        if problems:
            out.append("")
            out.append(f"NEW WARNINGS/ERRORS ({len(problems)}):")
            out.extend(f"  {e.headline()}" for e in problems)
        return "\n".join(out)


def _entry_order(entry):
    return (entry.file, entry.line if entry.line is not None else -1, entry.col or 0, entry.level, entry.message)


def compare_reports(old, new):
    """Compares two parsed reports, matching entries by file, level and message.

    Entries that only moved to another line match each other. What is left
    over is added or removed; an added and a removed entry at the same file,
    line, column and level count as one changed entry.

    Args:
        old: The reference `UpgradeReport` (e.g. the committed one).
        new: The `UpgradeReport` to check (e.g. a fresh one, or a fork's).

    Returns:
        A `ReportComparison`.
    """
    old_entries = collections.defaultdict(list)
    for e in sorted(old.entries, key=_entry_order):
        old_entries[e.key].append(e)
    new_entries = collections.defaultdict(list)
    for e in sorted(new.entries, key=_entry_order):
        new_entries[e.key].append(e)

    added, removed, moved = [], [], 0
    for key in set(old_entries) | set(new_entries):
        a, b = old_entries.get(key, []), new_entries.get(key, [])
        # Pair exact positions first, then the rest in order.
        b_positions = collections.Counter((e.line, e.col) for e in b)
        a_rest = []
        for e in a:
            if b_positions[(e.line, e.col)] > 0:
                b_positions[(e.line, e.col)] -= 1
            else:
                a_rest.append(e)
        a_positions = collections.Counter((e.line, e.col) for e in a)
        b_rest = []
        for e in b:
            if a_positions[(e.line, e.col)] > 0:
                a_positions[(e.line, e.col)] -= 1
            else:
                b_rest.append(e)
        paired = min(len(a_rest), len(b_rest))
        moved += paired
        removed.extend(a_rest[paired:])
        added.extend(b_rest[paired:])

    changed = []
    by_place = collections.defaultdict(list)
    for e in removed:
        by_place[(e.file, e.line, e.col, e.level)].append(e)
    still_added = []
    for e in sorted(added, key=_entry_order):
        place = (e.file, e.line, e.col, e.level)
        if e.line is not None and by_place.get(place):
            changed.append((by_place[place].pop(0), e))
        else:
            still_added.append(e)
    still_removed = [e for entries in by_place.values() for e in entries]

    old_files, new_files = set(old.files), set(new.files)
    return ReportComparison(
        old=old, new=new,
        added=sorted(still_added, key=_entry_order),
        removed=sorted(still_removed, key=_entry_order),
        changed=sorted(changed, key=lambda pair: _entry_order(pair[1])),
        moved=moved,
        files_added=sorted(new_files - old_files),
        files_removed=sorted(old_files - new_files),
    )


def compare_report_files(old_path, new_path):
    """`compare_reports` on two report files.

    Args:
        old_path: The reference report.
        new_path: The report to check.

    Returns:
        A `ReportComparison`.

    Raises:
        FileNotFoundError, ValueError: As `read_report`.
    """
    return compare_reports(read_report(old_path), read_report(new_path))
