"""The shape of `pointnet_tf2.data`: datasets own their layouts, io and geometry sit below them, old paths stay.

- every dataset module declares what its rows hold (`LABELS`) and the
  description it opens carries it; no task name is compared in data/, and the
  one table `description.TASK_LABELS` is keyed by `pointnet_tf2.task_names`;
- inside data/, the generic modules (io, geometry, checks, description,
  conversion) do not import the dataset modules, the generators or the
  PyDataset, and dataset modules do not import the generators;
- the former modules (formats, writers, raw.*, prepare*, shapes, vds_reader,
  h5read) re-export the very objects of their new homes, and no module of the
  package imports them.
"""

import importlib
import importlib.util
import pathlib
import re

import numpy as np
import pytest

from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.checks import check_int
from pointnet_tf2.data.checks import check_non_negative_int
from pointnet_tf2.data.checks import check_positive_float
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.datasets import LAYOUTS
from pointnet_tf2.data.datasets import LAYOUT_TASKS
from pointnet_tf2.data.datasets import modelnet40
from pointnet_tf2.data.datasets import s3dis
from pointnet_tf2.data.datasets import shapenet_part
from pointnet_tf2.data.description import CLOUD_LABELS
from pointnet_tf2.data.description import PART_LABELS
from pointnet_tf2.data.description import POINT_LABELS
from pointnet_tf2.data.description import TASK_LABELS
from pointnet_tf2.data.description import labels_of

TESTS = pathlib.Path(__file__).resolve().parents[1]
DATA = TESTS.parent / "pointnet_tf2" / "data"

# Former module -> {name: new home}.
MOVED = {
    "formats": {"open_dataset": "datasets", "detect_layout": "datasets", "read_list_file": "io.hdf5",
                "inspect_h5": "io.hdf5", "S3DIS_CLASS_NAMES": "datasets.s3dis"},
    "writers": {"write_modelnet_layout": "datasets.modelnet40", "write_shapenet_part_layout": "datasets.shapenet_part",
                "write_shapenet_part_full_resolution": "datasets.shapenet_part",
                "write_s3dis_layout": "datasets.s3dis", "staged_folder": "io.shards"},
    "raw.s3dis": {"prepare_s3dis": "datasets.s3dis", "block_features": "datasets.s3dis",
                  "room_blocks": "datasets.s3dis"},
    "raw.shapenet_part": {"prepare_shapenet_part": "datasets.shapenet_part",
                          "read_full_resolution": "datasets.shapenet_part"},
    "raw.modelnet_normals": {"prepare_modelnet_normals": "datasets.modelnet40"},
    "raw.tables": {"read_table": "io.tables", "resample_indices": "geometry", "to_unit_sphere": "geometry",
                   "check_positive_int": "checks"},
    "raw.runner": {"run_kwargs": "runner", "add_run_arguments": "runner"},
    "prepare": {"prepare_dataset": "datasets.mesh_folder", "scan_tree": "io.class_folders"},
    "prepare_common": {"publish_cls_dataset": "datasets.modelnet40", "scan_tree": "io.class_folders"},
    "prepare_voxels": {"prepare_voxels": "datasets.voxel_archive"},
    "shapes": {"sample_patches": "synthetic.shapes", "Patch": "synthetic.shapes"},
    "vds": {"open_vds": "io.vds_reader", "check_sources": "io.vds_reader"},
    "vds_reader": {"open_vds": "io.vds_reader", "VDS_ATTRIBUTE": "io.vds_reader"},
    "h5read": {"read": "io.h5read", "DataReadError": "io.h5read"},
    "meshes": {"read_geometry": "io.mesh_files", "BadFileError": "io.mesh_files", "sample_surface": "geometry",
               "farthest_point_sampling": "geometry", "reorient": "geometry"},
    "voxels": {"read_binvox": "io.binvox", "load_voxel_npz": "io.binvox"},
}
SHIMS = ("formats", "writers", "raw", "prepare", "prepare_common", "prepare_voxels", "shapes", "vds_reader", "h5read")
# A task name as a string literal; compared with something; a key of a dict.
TASK_NAME = r"""["'](?:cls|part_seg|sem_seg)["']"""
COMPARED = re.compile(rf"(==|!=|\bin)\s*[(\[{{]?\s*{TASK_NAME}|{TASK_NAME}\s*(==|!=|\bin\b)")
KEYED = re.compile(rf"{TASK_NAME}\s*:")
GENERIC = ("io", "geometry", "checks", "description", "conversion", "runner")
ABOVE_GENERIC = ("datasets", "vds", "synthetic", "sequence", "meshes", "voxels", "samplers", "augment") + SHIMS


def _layering():
    spec = importlib.util.spec_from_file_location("layering_for_data", TESTS / "test_layering.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data_imports():
    layering = _layering()
    files = layering.module_files()
    return [(a, b) for a, b, _, _ in layering.imports(files) if b.startswith("pointnet_tf2")]


def _part(module):
    """`pointnet_tf2.data.io.hdf5` -> "io"; a module outside data -> None."""
    prefix = "pointnet_tf2.data."
    return module[len(prefix):].split(".")[0] if module.startswith(prefix) else None


def test_each_dataset_declares_its_labels_and_the_description_carries_them(
    modelnet_dir, shapenet_part_dir, s3dis_dir
):
    expected = {
        modelnet_dir: (modelnet40, CLOUD_LABELS, "label", False, False),
        shapenet_part_dir: (shapenet_part, PART_LABELS, "pid", True, True),
        s3dis_dir: (s3dis, POINT_LABELS, "label", True, False),
    }
    for path, (module, labels, key, per_point, categories) in expected.items():
        description = open_dataset(path)
        assert module.LABELS is labels and description.labels is labels
        assert (description.label_key, description.per_point_labels, description.has_categories) == (
            key, per_point, categories)  # fmt: skip
        assert description.keys == labels.keys
        assert description.layout == module.NAME and description.up_axis == module.UP_AXIS
        assert TASK_LABELS[description.task] is labels and LAYOUT_TASKS[module.NAME] == description.task
    assert list(LAYOUTS) == ["modelnet40", "shapenet_part", "s3dis"]


def test_labels_of_a_task():
    assert labels_of("part_seg") is PART_LABELS and PART_LABELS.keys == ["data", "label", "pid"]
    assert CLOUD_LABELS.keys == POINT_LABELS.keys == ["data", "label"]
    with pytest.raises(ValueError, match=r"task must be one of \('cls', 'part_seg', 'sem_seg'\), got 'det'"):
        labels_of("det")


def test_task_names_are_compared_nowhere_in_data_and_tabled_nowhere():
    comparisons, tables = [], []
    for path in sorted(DATA.rglob("*.py")):
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            if COMPARED.search(code):
                comparisons.append(f"{path.relative_to(DATA)}: {code.strip()}")
            if KEYED.search(code) and not code.lstrip().startswith("task:"):  # `task: "cls", ...` in docstrings
                tables.append(f"{path.relative_to(DATA)}: {code.strip()}")
    assert comparisons == []
    assert tables == []  # the one table, description.TASK_LABELS, is keyed by `pointnet_tf2.task_names`


def test_the_task_name_check_can_fail():
    assert COMPARED.search('if task == "cls":') and COMPARED.search("if task in ('part_seg', 'sem_seg'):")
    assert COMPARED.search('if "sem_seg" != task:') and not COMPARED.search('raise ValueError(f"not {task!r}")')
    assert KEYED.search('GENERATORS = {"cls": objects}') and not KEYED.search('f"task {task!r}: cls"')


def test_generic_modules_do_not_import_datasets_generators_or_the_sequence(data_imports):
    upward = sorted((a, b) for a, b in data_imports
                    if _part(a) in GENERIC and _part(b) in ABOVE_GENERIC)  # fmt: skip
    assert upward == []
    above = ("vds", "synthetic", "sequence") + SHIMS
    datasets_up = sorted((a, b) for a, b in data_imports if _part(a) == "datasets" and _part(b) in above)
    assert datasets_up == []


def test_no_module_of_the_package_imports_a_former_module(data_imports):
    users = sorted((a, b) for a, b in data_imports if _part(b) in SHIMS and _part(a) not in SHIMS)
    assert users == []


@pytest.mark.parametrize("old", sorted(MOVED))
def test_former_modules_re_export_the_objects_of_their_new_homes(old):
    former = importlib.import_module(f"pointnet_tf2.data.{old}")
    for name, home in MOVED[old].items():
        assert getattr(former, name) is getattr(importlib.import_module(f"pointnet_tf2.data.{home}"), name), name


def test_one_resample_indices_and_one_positive_int_check():
    from pointnet_tf2 import inference
    from pointnet_tf2.data import geometry

    assert inference.resample_indices is geometry.resample_indices
    padded = geometry.resample_indices(4, 9, np.random.default_rng(0))
    assert len(padded) == 9 and set(padded.tolist()) == {0, 1, 2, 3}
    names = "resample_indices|_check_int|_positive_int|_check_positive_int|check_positive_int"
    pattern = re.compile(rf"^def ({names})\(", re.M)
    package = DATA.parent
    definitions = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if pattern.search(p.read_text()))
    # layers/ sits beside data (neither imports the other) and keeps the builders' own check.
    assert definitions == ["data/checks.py", "data/geometry.py", "layers/validation.py"]


@pytest.mark.parametrize(
    "check, args, message",
    [
        (check_positive_int, ("shard_size", 0), "shard_size must be a positive integer, got 0"),
        (check_positive_int, ("shard_size", True), "shard_size must be a positive integer, got True"),
        (check_positive_int, ("shard_size", 2.0), "shard_size must be a positive integer, got 2.0"),
        (check_non_negative_int, ("seed", -1), "seed must be a non-negative integer, got -1"),
        (check_int, ("num_votes", 0, 1), "num_votes must be an integer >= 1, got 0"),
        (check_positive_float, ("stride", float("nan")), "stride must be a positive number, got nan"),
        (check_positive_float, ("stride", "1"), "stride must be a positive number, got '1'"),
    ],
)
def test_checks_quote_the_bad_value(check, args, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check(*args)


def test_checks_return_plain_numbers():
    assert check_positive_int("n", np.int64(3)) == 3 and type(check_positive_int("n", np.int64(3))) is int
    assert check_non_negative_int("seed", 0) == 0
    assert check_int("k", 5, 2) == 5
    assert check_positive_float("stride", np.float32(0.5)) == 0.5 and type(check_positive_float("s", 2)) is float


def test_the_task_table_covers_the_task_names():
    from pointnet_tf2.data.description import TASKS
    from pointnet_tf2.task_names import TASK_NAMES

    assert TASKS == TASK_NAMES


def test_every_folder_of_data_is_a_package():
    # setup.cfg's `packages = find:` ships only folders with an __init__.py.
    folders = sorted({path.parent for path in DATA.rglob("*.py")} - {DATA})
    assert [f.name for f in folders if not (f / "__init__.py").is_file()] == []
    assert {f.name for f in folders} >= {"datasets", "io", "raw", "synthetic"}
