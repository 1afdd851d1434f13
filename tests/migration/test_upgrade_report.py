import os
import re

import pytest

from pointnet_tf2 import cli
from pointnet_tf2.migration import compare_reports
from pointnet_tf2.migration import parse_report
from pointnet_tf2.migration import read_report
from pointnet_tf2.migration.upgrade_report import normalize_report

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ORIGINAL = os.path.join(REPO, "original")
COMMITTED_REPORT = os.path.join(ORIGINAL, "tf_upgrade_v2_report.txt")
D = "-" * 80
E = "=" * 80


def make_report(files, root="/home/me/pointnet", out="/tmp/x/out"):
    """A tf_upgrade_v2-shaped report: files = {relative path: [(line, col, level, message)]}."""
    problems = [(f, e) for f, entries in files.items() for e in entries if e[2] != "INFO"]
    text = ("TensorFlow 2.0 Upgrade Script\n-----------------------------\n"
            f"Converted {len(files)} files\nDetected {len(problems)} issues that require attention\n{D}\n")
    for f in files:
        mine = [e for g, e in problems if g == f]
        if mine:
            text += f"{D}\nFile: {root}/{f}\n{D}\n"
            text += "\n".join(f"{root}/{f}:{l}:{c}: {lv}: {m}" for l, c, lv, m in mine) + "\n"
    text += f"{E}\nDetailed log follows:\n\n{E}\n{E}\nInput tree: '{root}'\n{E}\n"
    for f, entries in files.items():
        text += f"{D}\nProcessing file '{root}/{f}'\n outputting to '{out}/{f}'\n{D}\n\n"
        text += "\n".join(f"{l}:{c}: {lv}: {m}" for l, c, lv, m in entries) + "\n"
        text += f"{D}\n\n"
    return text


RENAME = "Renamed 'tf.placeholder' to 'tf.compat.v1.placeholder'"
GET_VARIABLE = "tf.get_variable requires manual check. tf.get_variable returns ResourceVariables by default in 2.0."
SUMMARY = "tf.summary.scalar requires manual check. The TF 1.x summary API cannot be automatically migrated."
DROPOUT = "Changing keep_prob arg of tf.nn.dropout to rate, and recomputing value.\n"


def test_generated_report_is_deterministic_and_has_no_machine_paths(upgrade, raw_upgrade):
    # Two runs (CLI and API, different temporary folders) give the same bytes.
    assert upgrade["report"] == raw_upgrade["report"]
    text = upgrade["report"]
    assert REPO not in text and "/tmp" not in text and "pointnet_tf2_upgrade_" not in text
    assert "Input tree: 'original'" in text
    report = parse_report(text)
    assert report.files == sorted(report.files)
    assert "utils/tf_util.py" in report.files and "part_seg/pointnet_part_seg.py" in report.files
    assert report.converted_files == len(report.files) == 23  # 8 PointNet, 10 PointNet++ (pointnet2/), 5 DGCNN
    # The PointNet++ reference is tf.compat.v1 code already: the upgrade finds nothing in it.
    assert "pointnet2/models/pointnet2_cls_ssg.py" in report.files
    assert not [e for e in report.issues if e.file.startswith("pointnet2/")]
    assert "dgcnn/utils/tf_util.py" in report.files and "dgcnn/part_seg/part_seg_model.py" in report.files
    assert report.issue_count == len(report.issues) > 0


def test_committed_report_compares_clean_with_a_fresh_one(upgrade, capsys):
    comparison = compare_reports(read_report(COMMITTED_REPORT), parse_report(upgrade["report"]))
    assert comparison.identical, comparison.format("committed", "fresh")
    assert cli.main(["upgrade-report", "--compare", COMMITTED_REPORT, upgrade["report_path"]]) == 0
    assert "No differences" in capsys.readouterr().out


def test_report_finds_what_the_original_needs_checked():
    report = read_report(COMMITTED_REPORT)
    kinds = {e.kind for e in report.log}
    assert kinds == {"warning", "manual check", "rename", "info"}
    warnings = [e for e in report.log if e.kind == "warning"]
    assert {e.message.split(" requires")[0] for e in warnings} == {"tf.get_variable", "*.save"}
    # The dropout call is converted silently (INFO), though the result is broken.
    dropout = [e for e in report.log if "tf.nn.dropout" in e.message]
    assert [(e.file, e.level) for e in dropout] == [("dgcnn/utils/tf_util.py", "INFO"), ("utils/tf_util.py", "INFO")]


def test_extra_warning_fails_the_comparison_and_is_named(tmp_path, capsys):
    with open(COMMITTED_REPORT) as f:
        text = f.read()
    message = "tf.contrib.foo requires manual check. Crafted for the test."
    anchor = "28:14: INFO: Renamed 'tf.get_variable' to 'tf.compat.v1.get_variable'\n"
    assert text.count(anchor) == 1
    crafted = tmp_path / "crafted.txt"
    crafted.write_text(text.replace(anchor, anchor + f"250:8: WARNING: {message}\n"))

    status = cli.main(["upgrade-report", "--compare", COMMITTED_REPORT, str(crafted)])
    captured = capsys.readouterr()
    assert status == 1
    assert f"+ warning      250:8: WARNING: {message}" in captured.out
    assert "NEW WARNINGS/ERRORS (1):" in captured.out
    assert f"utils/tf_util.py:250:8: WARNING: {message}" in captured.err
    # Nothing else differs.
    assert "By kind (added / removed / changed):\n  warning      +1 -0 ~0" in captured.out


def test_line_drift_is_tolerated(tmp_path, capsys):
    with open(COMMITTED_REPORT) as f:
        text = f.read()
    # Every line of utils/tf_util.py moves 7 lines down, in the summary and in the log.
    drifted = re.sub(r"(?m)^(original/utils/tf_util\.py:)(\d+)", lambda m: f"{m[1]}{int(m[2]) + 7}", text)
    start = drifted.index("Processing file 'original/utils/tf_util.py'")
    body_start = drifted.index(D, start) + len(D)
    body_end = drifted.index(D, body_start)
    body = re.sub(r"(?m)^(\d+):(\d+): ", lambda m: f"{int(m[1]) + 7}:{m[2]}: ", drifted[body_start:body_end])
    drifted = drifted[:body_start] + body + drifted[body_end:]
    assert drifted != text
    path = tmp_path / "drifted.txt"
    path.write_text(drifted)
    comparison = compare_reports(read_report(COMMITTED_REPORT), read_report(path))
    assert comparison.identical and comparison.moved > 10
    assert cli.main(["upgrade-report", "--compare", COMMITTED_REPORT, str(path)]) == 0
    assert "entries moved to other lines" in capsys.readouterr().out


def test_comparison_by_file_and_kind():
    old = parse_report(make_report({
        "a.py": [(3, 0, "INFO", RENAME), (5, 4, "WARNING", GET_VARIABLE), (9, 2, "INFO", SUMMARY)],
        "b.py": [(1, 0, "INFO", RENAME)],
    }))
    new = parse_report(make_report({
        "a.py": [(3, 0, "INFO", "Renamed 'tf.placeholder' to 'tf.compat.v2.placeholder'"),
                 (12, 2, "INFO", SUMMARY), (20, 1, "INFO", DROPOUT), (21, 1, "ERROR", "tf.foo was removed.")],
        "c.py": [(2, 0, "INFO", RENAME)],
    }))
    comparison = compare_reports(old, new)
    assert [(e.file, e.kind) for e in comparison.added] == [("a.py", "info"), ("a.py", "error"), ("c.py", "rename")]
    assert [(e.file, e.kind) for e in comparison.removed] == [("a.py", "warning"), ("b.py", "rename")]
    assert [(o.line, n.message) for o, n in comparison.changed] == [
        (3, "Renamed 'tf.placeholder' to 'tf.compat.v2.placeholder'")]
    assert comparison.moved == 1  # the summary manual check moved from line 9 to 12
    assert comparison.files_added == ["c.py"] and comparison.files_removed == ["b.py"]
    assert comparison.kind_counts() == {"error": (1, 0, 0), "warning": (0, 1, 0), "rename": (1, 1, 1),
                                        "info": (1, 0, 0)}
    assert [e.headline() for e in comparison.new_problems] == ["a.py:21:1: ERROR: tf.foo was removed."]
    text = comparison.format("old.txt", "new.txt")
    assert "Issues that require attention: 1 -> 1" not in text
    assert "File added: c.py" in text and "File removed: b.py" in text
    assert "was: Renamed 'tf.placeholder' to 'tf.compat.v1.placeholder'" in text


def test_removed_warnings_alone_pass(tmp_path):
    old = tmp_path / "old.txt"
    new = tmp_path / "new.txt"
    old.write_text(make_report({"a.py": [(5, 4, "WARNING", GET_VARIABLE), (6, 0, "INFO", RENAME)]}))
    new.write_text(make_report({"a.py": [(6, 0, "INFO", RENAME)]}))
    assert cli.main(["upgrade-report", "--compare", str(old), str(new)]) == 0
    assert cli.main(["upgrade-report", "--compare", str(new), str(old)]) == 1


def test_parse_raw_report_makes_paths_relative_and_keeps_multiline_messages():
    report = parse_report(make_report({"models/x.py": [(4, 2, "WARNING", GET_VARIABLE), (7, 1, "INFO", DROPOUT)]}))
    assert report.input_tree == "/home/me/pointnet"
    assert report.files == ["models/x.py"]
    assert [(e.file, e.line, e.col, e.level) for e in report.issues] == [("models/x.py", 4, 2, "WARNING")]
    assert report.log[1].message == DROPOUT.strip() and report.log[1].kind == "info"
    assert report.log[0].kind == "warning"


def test_parse_failure_entries_are_file_level_errors():
    text = make_report({"bad.py": []}).replace(
        "\n\n" + D + "\n\n", "\nERROR: Failed to parse.\nTraceback (most recent call last):\n"
        "  File \"/usr/lib/python3.11/site-packages/pasta/base.py\", line 3\nSyntaxError: bad\n\n" + D + "\n\n")
    report = parse_report(text)
    assert [(e.file, e.line, e.level, e.kind) for e in report.log] == [("bad.py", None, "ERROR", "error")]
    assert report.log[0].key == ("bad.py", "ERROR", "Failed to parse.")


def test_normalize_relabels_roots_and_sorts_sections():
    files = {"z.py": [(1, 0, "WARNING", GET_VARIABLE)], "a/b.py": [(2, 0, "WARNING", GET_VARIABLE)]}
    text = normalize_report(make_report(files, root="/home/me/tf1code", out="/tmp/q/upgraded"),
                            "/home/me/tf1code", "/tmp/q/upgraded")
    assert "/home/me" not in text and "/tmp/q" not in text
    assert text.index("File: tf1code/a/b.py") < text.index("File: tf1code/z.py")
    assert text.index("Processing file 'tf1code/a/b.py'\n outputting to 'upgraded/a/b.py'") < \
        text.index("Processing file 'tf1code/z.py'")
    assert parse_report(text).files == ["a/b.py", "z.py"]


def test_compare_errors_are_one_line(tmp_path, capsys):
    not_a_report = tmp_path / "notes.txt"
    not_a_report.write_text("hello\n")
    assert cli.main(["upgrade-report", "--compare", COMMITTED_REPORT, str(not_a_report)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "notes.txt: not a tf_upgrade_v2 report" in err
    assert cli.main(["upgrade-report", "--compare", COMMITTED_REPORT, str(tmp_path / "missing.txt")]) == 1
    assert "missing.txt: no such report file" in capsys.readouterr().err


def test_upgrade_errors_before_running_anything(tmp_path, capsys):
    existing = tmp_path / "exists"
    existing.mkdir()
    assert cli.main(["upgrade-report", "--upgraded-tree", str(existing)]) == 1
    assert "exists: already exists" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["upgrade-report", "--source", str(empty)]) == 1
    assert "empty: no Python files to upgrade" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must be outside"):
        from pointnet_tf2.migration import upgrade_tree
        upgrade_tree(ORIGINAL, os.path.join(ORIGINAL, "upgraded"))
