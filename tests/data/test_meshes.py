"""Reading meshes and point files, bad-file detection, area-uniform sampling, FPS, normalisation."""

import os
import tracemalloc

import numpy as np
import pytest
import trimesh

from pointnet_tf2.data import meshes
from pointnet_tf2.data.conversion import SkipItem

TETRA_V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
TETRA_F = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


def off_text(vertices, faces, header="OFF\n"):
    lines = [header + f"{len(vertices)} {len(faces)} 0"]
    lines += [" ".join(f"{c:.6f}" for c in v) for v in vertices]
    lines += ["3 " + " ".join(str(i) for i in f) for f in faces]
    return "\n".join(lines) + "\n"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


# --- reading ----------------------------------------------------------------------------


def test_fused_off_header_loads_like_a_normal_one(tmp_path):
    fused = write(tmp_path, "fused.off", off_text(TETRA_V, TETRA_F, header="OFF"))
    assert open(fused).readline().startswith("OFF4 4 0")
    normal = write(tmp_path, "normal.off", off_text(TETRA_V, TETRA_F))
    a, b = meshes.read_mesh(fused), meshes.read_mesh(normal)
    np.testing.assert_allclose(a.vertices, TETRA_V)
    np.testing.assert_array_equal(a.faces, TETRA_F)
    np.testing.assert_array_equal(a.faces, b.faces)
    assert a.notes == []


@pytest.mark.parametrize("file_type", ["off", "obj", "ply", "stl"])
def test_every_mesh_format_loads_with_the_same_surface(tmp_path, file_type):
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    path = tmp_path / f"box.{file_type}"
    box.export(str(path))
    mesh = meshes.read_mesh(str(path))
    assert isinstance(mesh, meshes.Mesh)
    assert mesh.areas.sum() == pytest.approx(2 * (1 * 2 + 2 * 3 + 1 * 3), rel=1e-5)


def test_point_formats_and_their_columns(tmp_path):
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(50, 3))
    normals = rng.normal(size=(50, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    rgb = rng.integers(0, 256, size=(50, 3))
    comma = write(tmp_path, "a.txt", "\n".join(",".join(f"{v:.6f}" for v in row) for row in np.hstack([xyz, normals])))
    cloud = meshes.read_geometry(comma)
    np.testing.assert_allclose(cloud.points, xyz, atol=1e-6)
    np.testing.assert_allclose(cloud.normals, normals, atol=1e-5)
    assert cloud.colors is None

    spaced = write(tmp_path, "b.xyz", "# x y z r g b\n" + "\n".join(
        " ".join(f"{v:g}" for v in row) for row in np.hstack([xyz, rgb])))  # fmt: skip
    cloud = meshes.read_geometry(spaced)
    np.testing.assert_allclose(cloud.colors, rgb / 255.0)
    assert cloud.normals is None

    counted = write(tmp_path, "c.pts", "50\n" + "\n".join(" ".join(f"{v:.6f}" for v in row) for row in xyz))
    assert meshes.read_geometry(counted).points.shape == (50, 3)

    np.save(tmp_path / "d.npy", np.hstack([xyz, rgb, np.arange(50)[:, None]]).astype(np.float32))
    cloud = meshes.read_geometry(str(tmp_path / "d.npy"), columns="xyz,rgb,label")
    np.testing.assert_array_equal(cloud.labels, np.arange(50))

    ply = tmp_path / "e.ply"
    trimesh.PointCloud(xyz, colors=np.hstack([rgb, np.full((50, 1), 255)]).astype(np.uint8)).export(str(ply))
    cloud = meshes.read_geometry(str(ply))
    assert isinstance(cloud, meshes.PointCloud)
    np.testing.assert_allclose(cloud.points, xyz, atol=1e-6)
    np.testing.assert_allclose(cloud.colors, rgb / 255.0)


BAD_FILES = {
    "empty.off": ("", "empty"),
    "blank.obj": ("\n  \n", "empty"),
    "garbage.off": ("OFF\nhello world\n", "malformed"),
    "not_off.off": ("PLY\n3 1 0\n", "malformed"),
    "truncated.off": ("OFF\n3 1 0\n0 0 0\n1 0\n", "malformed"),
    "bad_index.off": ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "malformed"),
    "nan.off": ("OFF\n3 1 0\nnan 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "nonfinite"),
    "inf.obj": ("v inf 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "nonfinite"),
    "zero_area.off": ("OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n", "zero_area"),
    "points_only.off": ("OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "point_only"),
    "points_only.obj": ("v 0 0 0\nv 1 0 0\nv 0 1 0\n", "point_only"),
    "billions.off": ("OFF\n3000000000 6000000000 0\n0 0 0\n", "too_large"),
    "lying.off": ("OFF40000000 1 0\n0 0 0\n", "malformed"),
    "lying.ply": ("ply\nformat binary_little_endian 1.0\nelement vertex 40000000\nproperty float x\n"
                  "property float y\nproperty float z\nend_header\n" + "\0" * 12, "malformed"),
    "billions.ply": ("ply\nformat ascii 1.0\nelement vertex 4000000000\nproperty float x\nend_header\n0\n",
                     "too_large"),
    "lying.stl": (b"\0" * 80 + np.array([40_000_000], "<u4").tobytes() + b"\0" * 50, "malformed"),
    "ragged.txt": ("0 0 0\n1 0\n", "malformed"),
    "words.xyz": ("x y z\nfoo bar baz\n", "malformed"),
    "nan.txt": ("0 0 0\nnan 1 1\n", "nonfinite"),
    "two_columns.pts": ("0 0\n1 1\n", "malformed"),
    "object.npy": (None, "malformed"),
    "model.fbx": ("x", "unsupported"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_a_one_line_reason(tmp_path, name):
    content, kind = BAD_FILES[name]
    if name == "object.npy":
        np.save(tmp_path / name, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        path = str(tmp_path / name)
    else:
        path = write(tmp_path, name, content)
    with pytest.raises(meshes.BadFileError) as info:
        meshes.read_geometry(path)
    error = info.value
    assert error.kind == kind, error.reason
    assert isinstance(error, ValueError) and isinstance(error, SkipItem)
    assert str(error).startswith(path + ": ") and "\n" not in str(error)
    assert error.reason and "\n" not in error.reason


def test_a_file_claiming_millions_of_vertices_is_rejected_before_allocating(tmp_path):
    path = write(tmp_path, "claims.off", "OFF\n45000000 45000000 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    tracemalloc.start()
    try:
        with pytest.raises(meshes.BadFileError, match="claims 45,000,000 vertices") as info:
            meshes.read_geometry(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.kind == "malformed"
    assert peak < 1 << 20


def test_files_above_the_size_limit_are_skipped_unread(tmp_path):
    path = write(tmp_path, "big.off", off_text(TETRA_V, TETRA_F) + "#" * 200_000)
    with pytest.raises(meshes.BadFileError, match="more than the limit of 0.1 MB") as info:
        meshes.read_geometry(path, max_file_mb=0.1)
    assert info.value.kind == "too_large"


def test_non_manifold_meshes_are_read_with_a_note(tmp_path):
    # Three triangles sharing the edge (0, 1).
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]])
    mesh = meshes.read_mesh(write(tmp_path, "fan.off", off_text(vertices, faces)))
    assert mesh.notes == ["non_manifold"]
    assert meshes.non_manifold_edges(vertices, faces) == 1
    assert meshes.non_manifold_edges(TETRA_V, TETRA_F) == 0


# --- sampling -------------------------------------------------------------------------------


def test_sampling_is_uniform_by_area():
    # One big triangle (area 50) and one tiny one (area 0.5), far apart.
    vertices = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [20, 0, 0], [21, 0, 0], [20, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    count = 200_000
    points, normals, face = meshes.sample_surface(vertices, faces, count, rng=np.random.default_rng(0), normals=True)
    share = np.mean(face == 1)
    expected = 0.5 / 50.5
    assert abs(share - expected) < 5 * np.sqrt(expected * (1 - expected) / count)
    np.testing.assert_array_equal(face == 1, points[:, 0] >= 20)
    np.testing.assert_allclose(np.abs(normals), np.tile([0, 0, 1], (count, 1)))
    # Inside the big triangle: uniform, so the half below y = x... splits evenly,
    # and the corner triangle x + y < 5 (a quarter of the area) gets a quarter.
    big = points[face == 0]
    assert np.all(big[:, 0] + big[:, 1] <= 10 + 1e-9) and np.all(big[:, :2] >= -1e-9)
    assert np.mean(big[:, 0] < big[:, 1]) == pytest.approx(0.5, abs=0.01)
    assert np.mean(big[:, 0] + big[:, 1] < 5) == pytest.approx(0.25, abs=0.01)


def test_sampling_is_seeded_and_rejects_bad_counts():
    a = meshes.sample_surface(TETRA_V, TETRA_F, 100, rng=np.random.default_rng(3))[0]
    b = meshes.sample_surface(TETRA_V, TETRA_F, 100, rng=np.random.default_rng(3))[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="count must be a positive integer"):
        meshes.sample_surface(TETRA_V, TETRA_F, 0)


def test_farthest_point_sampling_spreads_points():
    rng = np.random.default_rng(0)
    cluster = rng.normal(scale=0.01, size=(500, 3))
    corners = np.array([[5, 0, 0], [-5, 0, 0], [0, 5, 0], [0, -5, 0]], dtype=float)
    points = np.concatenate([cluster, corners])
    chosen = meshes.farthest_point_sampling(points, 5, start=0)
    assert len(set(chosen.tolist())) == 5
    assert set(range(500, 504)) <= set(chosen.tolist())
    grid = rng.uniform(-1, 1, size=(2000, 3))
    fps = grid[meshes.farthest_point_sampling(grid, 64)]
    rand = grid[rng.choice(2000, 64, replace=False)]

    def min_gap(p):
        d = np.linalg.norm(p[:, None] - p[None], axis=-1)
        return d[~np.eye(len(p), dtype=bool)].min()

    assert min_gap(fps) > 2 * min_gap(rand)
    with pytest.raises(ValueError, match=r"count must be in \[1, 2000\]"):
        meshes.farthest_point_sampling(grid, 2001)


def test_normalisation_and_up_axis():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(300, 3)) * 7 + 3
    normed, centre, scale = meshes.normalize_unit_sphere(points)
    np.testing.assert_allclose(normed.mean(axis=0), 0, atol=1e-12)
    assert np.linalg.norm(normed, axis=1).max() == pytest.approx(1.0)
    np.testing.assert_allclose(normed * scale + centre, points)
    with pytest.raises(ValueError, match="coincide"):
        meshes.normalize_unit_sphere(np.ones((5, 3)))
    for a in range(3):
        for b in range(3):
            r = meshes.up_axis_rotation(a, b)
            np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
            assert np.linalg.det(r) == pytest.approx(1.0)
            np.testing.assert_allclose(r @ np.eye(3)[a], np.eye(3)[b])
    np.testing.assert_allclose(meshes.reorient([[1.0, 2.0, 3.0]], "z", "y"), [[1.0, 3.0, -2.0]])


def test_cloud_from_file_makes_fixed_upright_unit_sphere_clouds(tmp_path):
    # A tall box along z (the input's up axis) becomes tall along y.
    path = str(tmp_path / "tall.stl")
    trimesh.creation.box(extents=(1.0, 1.0, 6.0)).export(path)
    options = meshes.SamplingOptions(num_points=512, normals=True, fps=True)
    cloud = meshes.cloud_from_file(path, options, np.random.default_rng(0))
    assert cloud.points.shape == (512, 6) and cloud.points.dtype == np.float32
    xyz, normals = cloud.points[:, :3], cloud.points[:, 3:]
    assert np.linalg.norm(xyz, axis=1).max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(xyz.mean(axis=0), 0, atol=1e-6)
    extent = np.ptp(xyz, axis=0)
    assert extent[1] > 4 * extent[0] and extent[1] > 4 * extent[2]
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    again = meshes.cloud_from_file(path, options, np.random.default_rng(0))
    np.testing.assert_array_equal(cloud.points, again.points)

    kept = meshes.cloud_from_file(path, meshes.SamplingOptions(num_points=64, normalize="none", up_axis="y"),
                                  np.random.default_rng(0))  # fmt: skip
    assert np.abs(kept.points).max() == pytest.approx(3.0, abs=0.2)


def test_small_point_clouds_are_padded_and_normals_are_required_when_asked(tmp_path):
    path = write(tmp_path, "few.xyz", "0 0 0\n1 0 0\n0 1 0\n0 0 1\n")
    cloud = meshes.cloud_from_file(path, meshes.SamplingOptions(num_points=32), np.random.default_rng(0))
    assert cloud.points.shape == (32, 3) and cloud.notes == ["upsampled"]
    assert len(np.unique(cloud.points, axis=0)) == 4
    with pytest.raises(meshes.BadFileError, match="normals were asked for") as info:
        meshes.cloud_from_file(path, meshes.SamplingOptions(num_points=32, normals=True), np.random.default_rng(0))
    assert info.value.kind == "no_normals"
    same = write(tmp_path, "same.xyz", "1 1 1\n1 1 1\n")
    with pytest.raises(meshes.BadFileError) as info:
        meshes.cloud_from_file(same, meshes.SamplingOptions(num_points=8), np.random.default_rng(0))
    assert info.value.kind == "degenerate"


def test_density_mode_samples_in_proportion_to_area():
    small = meshes.Mesh(TETRA_V, TETRA_F)
    options = meshes.SamplingOptions(num_points=16, density=1000.0)
    count = meshes.mesh_sample_count(small, options)
    # Area over the squared bounding radius, times the density.
    used = TETRA_V
    radius = np.linalg.norm(used - 0.5 * (used.min(0) + used.max(0)), axis=1).max()
    assert count == int(np.ceil(1000.0 * small.areas.sum() / radius**2))
    assert meshes.mesh_sample_count(small, meshes.SamplingOptions(num_points=16, fps=True, oversample=3)) == 48


@pytest.mark.parametrize("kwargs, match", [
    ({"num_points": 0}, "num_points must be a positive integer"),
    ({"density": -1.0}, "density must be a number > 0"),
    ({"normalize": "box"}, "normalize must be one of"),
    ({"up_axis": "w"}, "up axis must be x, y, z"),
    ({"columns": "xyz,colour"}, "columns 'xyz,colour'"),
])  # fmt: skip
def test_sampling_options_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        meshes.SamplingOptions(**kwargs)


def test_missing_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        meshes.read_geometry(os.path.join(tmp_path, "nope.off"))
