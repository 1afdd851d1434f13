"""The run around the raw converters (`pointnet_tf2.data.raw.runner`): problem entries, summaries, splits."""

import os

import numpy as np
import pytest

from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.raw import runner

SCHEMA = {"data": ((2,), "float32"), "label": ((), "uint8")}


def one_row(item, rng):
    runner.skip_if_problem(item)
    return {"data": np.full((1, 2), item.info["value"]), "label": np.array([item.info["value"]])}


def convert(tmp_path, entries, *, list_skips=True):
    """Converts `(key, group, info)` entries in this process; returns (run, logged lines)."""
    inputs = []
    for key, group, info in entries:
        path = tmp_path / "raw" / f"{key}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        inputs.append(ConversionInput(key=key, path=str(path), group=group, info=info))
    lines = []
    run = runner.convert_inputs(
        inputs, one_row, str(tmp_path / "work"), schema=SCHEMA, label="toy", unit="files", row_unit="rows",
        work_shard_size=2, seed=0, workers=1, resume=False, strict=False, options={}, progress=False,
        log=lines.append, list_skips=list_skips,
    )  # fmt: skip
    return run, lines


def test_problem_entries_are_skipped_with_their_kind_and_reason(tmp_path):
    runner.skip_if_problem(ConversionInput(key="a", path="a", info={"value": 1}))
    with pytest.raises(SkipItem, match="not on the list") as info:
        runner.skip_if_problem(ConversionInput(key="b", path="b", info={"problem": ("unlisted", "not on the list")}))
    assert info.value.kind == "unlisted"

    entries = [("a", "train", {"value": 1}), ("b", "train", {"problem": ("unlisted", "not on the list")}),
               ("c", "test", {"value": 3})]  # fmt: skip
    run, lines = convert(tmp_path, entries)
    assert run.skipped == [("b", "unlisted", "not on the list")]
    assert lines[-2:] == ["  skipped files:", "    b: not on the list [unlisted]"]
    _, quiet = convert(tmp_path / "quiet", entries, list_skips=False)
    assert quiet[1:] == lines[1:-2]  # the first line has the time

    output = str(tmp_path / "out")
    assert runner.skipped_note(run, output, "files") == f"; 1 skipped files listed in {output}/skipped.txt"


def test_split_arrays_and_a_split_without_rows(tmp_path):
    entries = [("a", "train", {"value": 1}), ("b", "train", {"value": 2}), ("c", "test", {"value": 3})]
    run, _ = convert(tmp_path, entries)
    splits = runner.split_arrays(run, ("train", "test"), ("label", "data"))
    assert list(splits) == ["train", "test"]
    np.testing.assert_array_equal(np.asarray(splits["train"][0]), [1, 2])
    np.testing.assert_array_equal(np.asarray(splits["test"][1]), [[3, 3]])
    assert runner.skipped_note(run, str(tmp_path), "files") == ""

    run, _ = convert(tmp_path / "second", [("a", "train", {"value": 1}),
                                           ("b", "val", {"problem": ("bad", "broken")})])  # fmt: skip
    with pytest.raises(ValueError, match=r"the 'val' split has no converted data \(1 of 2 inputs were skipped"):
        runner.split_arrays(run, ("train", "val"), ("data",))
    assert os.path.exists(os.path.join(run.work_dir, "skipped.txt"))
