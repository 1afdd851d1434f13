"""The conversion engine: seeds, skips, shards, resume, strict mode, worker crashes, progress."""

import functools
import io
import json
import os

import numpy as np
import pytest

from pointnet_tf2.data import conversion
from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import Converted
from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.conversion import run_conversion

SCHEMA = {"data": ((4,), "float32"), "label": ((), "uint8")}


def toy_convert(item, rng, calls=None, interrupt_at=None):
    """Reads an integer from the file; rows = that many copies of random numbers."""
    if calls is not None:
        with open(calls, "a") as f:
            f.write(item.key + "\n")
    if item.key == interrupt_at:
        raise KeyboardInterrupt
    text = open(item.path).read().strip()
    if text == "skip":
        raise SkipItem("the file says skip", "told")
    if text == "crash":
        os._exit(3)
    if text == "bug":
        raise TypeError("a bug in the converter")
    if text == "nan":
        return {"data": np.full((1, 4), np.nan), "label": np.zeros(1)}
    if text == "wide":
        return {"data": np.zeros((1, 5)), "label": np.zeros(1)}
    rows = int(text)
    return Converted({"data": rng.random((rows, 4)), "label": np.full(rows, item.info["label"])},
                     ("odd",) if rows % 2 else ())  # fmt: skip


def make_inputs(tmp_path, contents, groups=None):
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    inputs = []
    for i, content in enumerate(contents):
        path = folder / f"f{i:02d}.txt"
        path.write_text(str(content))
        group = groups[i] if groups else ""
        inputs.append(ConversionInput(key=f"f{i:02d}", path=str(path), group=group, info={"label": i}))
    return inputs


def run(inputs, work, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("workers", 1)
    convert = kwargs.pop("convert", toy_convert)
    return run_conversion(inputs, convert, work, schema=SCHEMA, **kwargs)


def test_rows_skips_and_notes_in_input_order(tmp_path):
    inputs = make_inputs(tmp_path, [1, 2, "skip", 0, "bug", "nan", "wide", 3])
    result = run(inputs, tmp_path / "work", shard_size=3)
    arrays = result.arrays("")
    assert arrays["data"].shape == (6, 4) and arrays["data"].dtype == np.float32
    np.testing.assert_array_equal(np.asarray(arrays["label"]), [0, 1, 1, 7, 7, 7])
    np.testing.assert_array_equal(arrays["input"], [0, 1, 1, 7, 7, 7])
    kinds = {key: kind for key, kind, _ in result.skipped}
    assert kinds == {"f02": "told", "f04": "error", "f05": "bad_output", "f06": "bad_output"}
    reasons = {key: reason for key, _, reason in result.skipped}
    assert reasons["f04"].startswith("TypeError: a bug in the converter (at test_conversion.py:")
    assert "NaN or inf" in reasons["f05"] and "expected (rows, 4)" in reasons["f06"]
    assert result.converted == 4 and result.notes == [("f00", "odd"), ("f07", "odd")]
    assert [shard.rows for shard in result.shards] == [3, 0, 3]
    text = "\n".join(result.summary_lines("toy"))
    assert "converted 4 of 8 files" in text and "bad_output" in text and "odd 2" in text
    result.write_skipped(tmp_path / "skipped.txt")
    lines = (tmp_path / "skipped.txt").read_text().splitlines()
    assert lines[0] == "f02\ttold\tthe file says skip" and len(lines) == 4


def test_results_do_not_depend_on_workers_or_shard_size(tmp_path):
    inputs = make_inputs(tmp_path, [1, 3, 2, 1, 1, 2, 4, 1, 1, 2])
    one = run(inputs, tmp_path / "w1", shard_size=4, workers=1)
    two = run(inputs, tmp_path / "w2", shard_size=3, workers=2)
    np.testing.assert_array_equal(np.asarray(one.arrays("")["data"]), np.asarray(two.arrays("")["data"]))
    assert two.workers == 2
    other_seed = run(inputs, tmp_path / "w3", shard_size=4, seed=1)
    assert not np.array_equal(np.asarray(one.arrays("")["data"]), np.asarray(other_seed.arrays("")["data"]))
    assert conversion.item_seed(0, "a") == conversion.item_seed(0, "a") != conversion.item_seed(1, "a")


def test_groups_never_share_a_shard(tmp_path):
    groups = ["train", "test", "train", "test", "train"]
    inputs = make_inputs(tmp_path, [1, 1, 1, 1, 1], groups)
    result = run(inputs, tmp_path / "work", shard_size=2)
    assert [(s.group, len(s.inputs)) for s in result.shards] == [("train", 2), ("train", 1), ("test", 2)]
    np.testing.assert_array_equal(np.asarray(result.arrays("train")["label"]), [0, 2, 4])
    np.testing.assert_array_equal(np.asarray(result.arrays("test")["label"]), [1, 3])
    assert result.arrays("val")["data"].shape == (0, 4)


def test_resume_after_an_interrupted_run_converts_only_unfinished_shards(tmp_path):
    inputs = make_inputs(tmp_path, [1, 2, 1, 1, 3, 1, 2])
    full = run(inputs, tmp_path / "full", shard_size=2)
    calls = tmp_path / "calls.txt"
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        run(inputs, work, shard_size=2, convert=functools.partial(toy_convert, calls=str(calls), interrupt_at="f05"))
    manifest = json.loads((work / "manifest.json").read_text())
    assert [s["index"] for s in manifest["shards"]] == [0, 1]
    assert sorted(os.listdir(work)) == ["manifest.json", "shard-00000.h5", "shard-00001.h5"]
    with pytest.raises(ValueError, match="holds an unfinished conversion; resume it"):
        run(inputs, work, shard_size=2)
    with pytest.raises(ValueError, match="used other options .*seed: 0 then, 5 now"):
        run(inputs, work, shard_size=2, seed=5, resume=True)
    calls.write_text("")
    resumed = run(inputs, work, shard_size=2, resume=True, convert=functools.partial(toy_convert, calls=str(calls)))
    assert calls.read_text().split() == ["f04", "f05", "f06"]
    assert resumed.resumed_shards == 2
    np.testing.assert_array_equal(np.asarray(resumed.arrays("")["data"]), np.asarray(full.arrays("")["data"]))
    # A changed input invalidates only its shard.
    (tmp_path / "in" / "f02.txt").write_text("2")
    calls.write_text("")
    again = run(inputs, work, shard_size=2, resume=True, convert=functools.partial(toy_convert, calls=str(calls)))
    assert calls.read_text().split() == ["f02", "f03"] and again.arrays("")["data"].shape[0] == 12


def test_strict_mode_fails_after_writing_the_skip_list(tmp_path):
    inputs = make_inputs(tmp_path, [1, "skip", 1])
    with pytest.raises(ValueError, match=r"1 of 3 inputs were skipped and strict mode is on \(first: f01: "):
        run(inputs, tmp_path / "work", strict=True)
    assert "f01\ttold" in (tmp_path / "work" / "skipped.txt").read_text()


def test_a_crashing_worker_costs_only_its_input(tmp_path):
    inputs = make_inputs(tmp_path, [1, 1, "crash", 1, 1, 1])
    result = run(inputs, tmp_path / "work", workers=2, shard_size=4)
    assert [(key, kind) for key, kind, _ in result.skipped] == [("f02", "crashed")]
    np.testing.assert_array_equal(np.asarray(result.arrays("")["label"]), [0, 1, 3, 4, 5])


def test_missing_inputs_and_bad_arguments(tmp_path):
    inputs = make_inputs(tmp_path, [1, 1])
    os.unlink(inputs[1].path)
    result = run(inputs, tmp_path / "work")
    assert result.skipped == [("f01", "missing", "the file does not exist (any more)")]
    with pytest.raises(ValueError, match="the key 'f00' appears twice"):
        run(inputs + inputs[:1], tmp_path / "w2")
    with pytest.raises(ValueError, match="shard_size must be a positive integer, got 0"):
        run(inputs, tmp_path / "w3", shard_size=0)
    with pytest.raises(ValueError, match="schema must be a non-empty dict"):
        run_conversion(inputs, toy_convert, tmp_path / "w4", schema={})


def test_sharded_array_reads_across_shards(tmp_path):
    inputs = make_inputs(tmp_path, [2, 3, 1, 2])
    result = run(inputs, tmp_path / "work", shard_size=1)
    data = result.arrays("")["data"]
    everything = np.asarray(data)
    assert len(data) == 8 and data.ndim == 2
    np.testing.assert_array_equal(data[1:6], everything[1:6])
    np.testing.assert_array_equal(data[-1], everything[7])
    np.testing.assert_array_equal(data[[0, 5]], everything[[0, 5]])
    np.testing.assert_array_equal(data[::3], everything[::3])
    with pytest.raises(IndexError):
        data[8]


def test_progress_lines_without_a_terminal(tmp_path):
    # The line itself is pointnet_tf2.utils.progress's (tests/utils/test_progress.py); a conversion always
    # ends with its final line, even when it took less than the interval between two lines.
    stream = io.StringIO()
    result = run(make_inputs(tmp_path, [1, 2, "skip", 1, 1, 1]), tmp_path / "work", progress=True, stream=stream,
                 label="toy")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and result.converted == 5
    assert lines[0].startswith("toy: [########################] 6/6 (100%)") and lines[0].endswith(", 1 skipped")
    assert ", took " in lines[0]
    silent = io.StringIO()
    run(make_inputs(tmp_path, [1, 2]), tmp_path / "quiet", progress=False, stream=silent)
    assert silent.getvalue() == ""


def test_output_folder_checks(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    conversion.check_output_folder(str(tmp_path / "new"), str(root))  # missing: fine
    with pytest.raises(ValueError, match="raw/out: the output folder must not be inside the input folder .*raw"):
        conversion.check_output_folder(str(root / "out"), str(root))
    # A missing data folder is reported by whoever reads it, not here.
    conversion.check_output_folder(str(tmp_path / "gone" / "out"), str(tmp_path / "gone"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="file: exists and is not a folder"):
        conversion.check_output_folder(str(tmp_path / "file"), str(root), overwrite=True)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="full: the folder exists and is not empty; .* pass --overwrite"):
        conversion.check_output_folder(str(full), str(root))
    with pytest.raises(ValueError, match="full: the folder was not written by pointnet-tf2"):
        conversion.check_output_folder(str(full), str(root), overwrite=True)
    (full / ".pointnet_tf2_output").write_text("{}")
    conversion.check_output_folder(str(full), str(root), overwrite=True)


@pytest.mark.parametrize("output, match", [
    ("data", r"data: the output folder contains the input .*(data/raw|link), which writing it would replace"),
    ("data/raw", r"data/raw: the output folder is the input .*(data/raw|link); choose another one"),
    ("data/raw/a/out", r"out: the output folder must not be inside the input folder .*(data/raw|link);"),
    (".", r"the output folder contains the input"),
])  # fmt: skip
def test_an_output_never_overlaps_its_input_even_with_overwrite(tmp_path, monkeypatch, output, match):
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "data" / "raw" / "a"
    raw.mkdir(parents=True)
    (raw / "x.off").write_text("keep")
    (tmp_path / "data" / ".pointnet_tf2_output").write_text("{}")  # even a marked folder is refused
    for source in ("data/raw", "link"):
        if source == "link":
            os.symlink(tmp_path / "data" / "raw", "link")
        with pytest.raises(ValueError, match=match):
            conversion.check_output_folder(os.path.abspath(output), os.path.abspath(source), overwrite=True)
    assert (raw / "x.off").read_text() == "keep"


def test_claim_work_dir_keeps_discards_or_refuses_an_unfinished_run(tmp_path):
    output = str(tmp_path / "dataset")
    work = conversion.claim_work_dir(output)
    assert work == str(tmp_path / ".dataset.prepare-work") == conversion.work_dir_for(output)
    assert not os.path.exists(work)
    os.makedirs(work)
    open(os.path.join(work, "manifest.json"), "w").close()
    with pytest.raises(ValueError, match=r"holds an unfinished run for .*dataset; pass --resume to continue it"):
        conversion.claim_work_dir(output)
    with pytest.raises(ValueError, match="holds an unfinished prepare run for"):
        conversion.claim_work_dir(output, run_name="prepare run")
    assert conversion.claim_work_dir(output, resume=True, overwrite=True) == work
    assert os.path.exists(os.path.join(work, "manifest.json"))
    assert conversion.claim_work_dir(output, overwrite=True) == work and not os.path.exists(work)


def test_claim_work_dir_never_removes_a_folder_it_did_not_write_or_a_live_run(tmp_path):
    from pointnet_tf2.utils.locking import FolderLockedError
    from pointnet_tf2.utils.locking import run_lock

    output = str(tmp_path / "dataset")
    work = conversion.work_dir_for(output)
    os.makedirs(work)
    open(os.path.join(work, "notes.txt"), "w").close()
    with pytest.raises(ValueError, match=r"prepare-work: is not a work folder of pointnet-tf2 \(no manifest.json\)"):
        conversion.claim_work_dir(output, overwrite=True)
    assert os.path.exists(os.path.join(work, "notes.txt"))
    os.remove(os.path.join(work, "notes.txt"))
    open(os.path.join(work, "manifest.json"), "w").close()
    with run_lock(work):  # a conversion running in it
        with pytest.raises(FolderLockedError, match="the work folder is in use by pid"):
            conversion.claim_work_dir(output, overwrite=True)
        assert os.path.exists(os.path.join(work, "manifest.json"))
