"""Text tables of raw releases (line-numbered errors) and resampling to a fixed size."""

import numpy as np
import pytest

from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.raw.tables import read_table
from pointnet_tf2.data.raw.tables import read_table_dropping_bad_lines
from pointnet_tf2.data.raw.tables import resample_indices
from pointnet_tf2.data.raw.tables import to_unit_sphere


def _file(tmp_path, text, name="t.txt", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def test_reads_whitespace_comma_crlf_blank_and_comment_lines(tmp_path):
    path = _file(tmp_path, b"# header\r\n1 2 3\r\n\r\n4\t5  6\r\n", mode="wb")
    np.testing.assert_array_equal(read_table(path, 3), [[1, 2, 3], [4, 5, 6]])
    path = _file(tmp_path, "1.5,2,3\n4, 5, 6e-1\n")
    np.testing.assert_array_equal(read_table(path, 3), [[1.5, 2, 3], [4, 5, 0.6]])
    assert read_table(_file(tmp_path, "\n\n"), 3, allow_empty=True).shape == (0, 3)


@pytest.mark.parametrize(
    "text, kind, message",
    [
        ("1 2 3\n\n4 5\n", "malformed", r"^f.txt: line 3: 2 values, expected 3 \('4 5'\)$"),
        ("1 2 3\n4 x 6\n", "malformed", r"^f.txt: line 2: 'x' is not a number \('4 x 6'\)$"),
        ("1 2 3 4\n5 6 7 8\n", "malformed", r"^f.txt: line 1: 4 values, expected 3"),
        ("1 2 3\n# c\n4 nan 6\n", "nonfinite", r"^f.txt: line 3: NaN or infinite value \('4 nan 6'\)$"),
        ("1 2 3\n4 5 1e999\n", "nonfinite", r"^f.txt: line 2: NaN or infinite value"),
        ("", "empty", r"^f.txt: holds no points \(no data lines\)$"),
    ],
)  # fmt: skip
def test_errors_name_the_first_bad_line(tmp_path, text, kind, message):
    path = _file(tmp_path, text)
    with pytest.raises(SkipItem, match=message) as caught:
        read_table(path, 3, name="f.txt")
    assert caught.value.kind == kind
    assert isinstance(caught.value, ValueError)


def test_invalid_bytes_are_a_malformed_line_and_can_be_dropped(tmp_path):
    path = _file(tmp_path, b"1 2 3\n4 5\x10 6\n7 \xff 9\n10 nan 12\n13 14 15\n", mode="wb")
    with pytest.raises(SkipItem, match=r"line 2: '5\\x10' is not a number"):
        read_table(path, 3, name="")
    values, bad = read_table_dropping_bad_lines(path, 3)
    np.testing.assert_array_equal(values, [[1, 2, 3], [13, 14, 15]])
    assert bad == [2, 3, 4]


def test_resample_indices():
    rng = np.random.default_rng(0)
    subset = resample_indices(5000, 2048, rng)
    assert subset.shape == (2048,) and len(np.unique(subset)) == 2048 and subset.max() < 5000
    padded = resample_indices(300, 2048, rng)
    assert padded.shape == (2048,) and set(padded.tolist()) == set(range(300))
    assert not np.array_equal(padded[:300], np.arange(300))  # shuffled: the first k are a random subset
    assert sorted(resample_indices(7, 7, rng).tolist()) == list(range(7))
    with pytest.raises(ValueError, match="count >= 1"):
        resample_indices(0, 10, rng)


def test_to_unit_sphere_centres_scales_and_keeps_other_channels():
    rng = np.random.default_rng(0)
    points = np.hstack([rng.normal(5.0, 3.0, (50, 3)), rng.normal(size=(50, 3))])
    out = to_unit_sphere(points)
    np.testing.assert_allclose(out[:, :3].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(out[:, :3], axis=1).max(), 1.0)
    np.testing.assert_array_equal(out[:, 3:], points[:, 3:])
    with pytest.raises(SkipItem, match="all points coincide") as info:
        to_unit_sphere(np.ones((4, 3)))
    assert info.value.kind == "degenerate"
