"""Three-view PNG renders, coloured PLY files and `pointnet-tf2 show`."""

import io
import os

import matplotlib.image
import numpy as np
import pytest
import trimesh

from pointnet_tf2 import cli
from pointnet_tf2 import viz
from pointnet_tf2.data import generate_synthetic
from pointnet_tf2.data import meshes

PNG = b"\x89PNG\r\n\x1a\n"


def decode(png):
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_render_views_png_draws_label_colours():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(3000, 3))
    labels = (points[:, 1] > 0).astype(np.int64) * 3
    png = viz.render_views_png(points, labels, class_names=[f"c{i}" for i in range(4)], up_axis="y", dpi=60,
                                 point_size=30)
    assert png.startswith(PNG)
    image = decode(png)[..., :3]
    assert image.shape[1] == int(9.6 * 60) and image.shape[0] == int(3.6 * 60)
    for label in (0, 3):
        colour = viz.label_colors([label])[0] / 255.0
        close = np.all(np.abs(image - colour) < 0.02, axis=-1)
        assert close.sum() > 200, label
    unused = viz.label_colors([1])[0] / 255.0
    assert np.all(np.abs(image - unused) < 0.02, axis=-1).sum() < 20


def test_render_views_png_without_labels_and_bad_input():
    points = np.random.default_rng(1).uniform(size=(100, 6))
    assert viz.render_views_png(points, up_axis="z", title="plain").startswith(PNG)
    rgb = np.random.default_rng(2).integers(0, 256, size=(100, 3))
    assert viz.render_views_png(points, colors=rgb).startswith(PNG)
    with pytest.raises(ValueError, match=r"points must have shape \(N, >=3\)"):
        viz.render_views_png(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="labels must be 100 integers"):
        viz.render_views_png(points, np.zeros(99, dtype=int))
    with pytest.raises(ValueError, match="up axis must be x, y, z"):
        viz.render_views_png(points, up_axis="w")


def test_write_ply_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(50, 3)).astype(np.float32)
    labels = rng.integers(0, 300, size=50)
    path = viz.write_ply(str(tmp_path / "cloud.ply"), points, labels=labels, colors=viz.label_colors(labels),
                         normals=np.tile([0.0, 0.0, 1.0], (50, 1)), fields={"confidence": np.linspace(0, 1, 50)},
                         up_axis="z")  # fmt: skip
    loaded = trimesh.load(path)
    np.testing.assert_allclose(loaded.vertices, points, atol=1e-6)
    raw = loaded.metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_array_equal(raw["label"], labels)
    assert raw["label"].dtype == np.int32 and raw["confidence"][-1] == pytest.approx(1.0)
    read = meshes.read_geometry(path)
    np.testing.assert_array_equal(read.labels, labels)
    np.testing.assert_allclose(read.normals[:, 2], 1.0)
    assert read.up_axis == "z"
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]
    with pytest.raises(ValueError, match="labels must be 50 non-negative integers"):
        viz.write_ply(str(tmp_path / "bad.ply"), points, labels=-np.ones(50, dtype=int))
    with pytest.raises(ValueError, match=r"colors must have shape \(50, 3\)"):
        viz.write_ply(str(tmp_path / "bad.ply"), points, colors=np.zeros((50, 4)))
    assert not os.path.exists(tmp_path / "bad.ply")


def test_show_command_on_h5_rows_meshes_and_labelled_ply(tmp_path, capsys):
    data = generate_synthetic("part_seg", str(tmp_path / "parts"), num_train=4, num_val=2, num_test=4, num_points=256)
    out = str(tmp_path / "row.png")
    assert cli.main(["show", os.path.join(data, "ply_data_test0.h5") + ":1", "--output", out]) == 0
    assert open(out, "rb").read(8) == PNG and "(256 points," in capsys.readouterr().out

    mesh = str(tmp_path / "box.obj")
    trimesh.creation.box().export(mesh)
    out = str(tmp_path / "mesh.png")
    assert cli.main(["show", mesh, "--output", out, "--num_point", "500", "--title", "a box"]) == 0
    assert decode(open(out, "rb").read()).shape[2] in (3, 4)

    labelled = viz.write_ply(str(tmp_path / "pred.ply"), np.random.default_rng(0).normal(size=(80, 3)),
                             labels=np.arange(80) % 4, up_axis="y")  # fmt: skip
    assert cli.main(["show", labelled, "--output", str(tmp_path / "pred.png")]) == 0
    assert "4 labels" in capsys.readouterr().out

    assert cli.main(["show", os.path.join(data, "ply_data_test0.h5") + ":99", "--output", out]) == 1
    assert "index 99 is out of range" in capsys.readouterr().err
    assert cli.main(["show", mesh, "--output", out, "--color", "label"]) == 1
    assert "has no per-point labels" in capsys.readouterr().err
