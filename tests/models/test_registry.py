import pytest

from pointnet_tf2.models import Preprocessing
from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models
from pointnet_tf2.models import model_entry
from pointnet_tf2.models import register_model
from pointnet_tf2.models.kinds import model_family
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.kinds import model_preprocessing


def test_list_models_by_task():
    assert {"pointnet_cls", "pointnet_cls_basic"} <= set(list_models("cls"))
    assert "pointnet_sem_seg" in list_models("sem_seg")
    assert "pointnet_part_seg" in list_models("part_seg")
    assert list_models() == sorted(list_models())


def test_entry_defaults_match_the_paper():
    defaults = model_entry("pointnet_cls").defaults()
    assert defaults["num_classes"] == 40 and defaults["num_points"] == 1024 and defaults["dropout_rate"] == 0.3
    assert model_entry("pointnet_part_seg").defaults()["seg_dropout_rate"] == 0.2


def test_unknown_model_lists_known_ones():
    with pytest.raises(ValueError, match="unknown model 'pointnet_xyz'; known models: .*pointnet_cls"):
        get_model("pointnet_xyz")


def test_unknown_argument():
    with pytest.raises(ValueError, match=r"pointnet_cls: unknown argument\(s\) 'num_class'"):
        get_model("pointnet_cls", num_class=10)


def test_registered_builder_records_its_call():
    model = get_model("pointnet_cls_basic", num_classes=3, mlp=(8, 16), head_widths=(8,))
    assert model.builder == "pointnet_cls_basic" and model.task == "cls"
    assert model.builder_config["num_classes"] == 3 and model.builder_config["num_points"] == 1024


def test_register_rejects_duplicates_and_unknown_tasks():
    with pytest.raises(ValueError, match="already registered"):
        register_model("pointnet_cls", family="pointnet", task="cls")(lambda: None)
    with pytest.raises(ValueError, match="task must be one of"):
        register_model("something", family="pointnet", task="detection")
    with pytest.raises(ValueError, match="family must be lower-case letters, digits and underscores, got 'Point Net'"):
        register_model("something", family="Point Net", task="cls")
    with pytest.raises(ValueError, match="preprocessing must be a Preprocessing, got {'num_points': 5}"):
        register_model("something", family="pointnet", task="cls", preprocessing={"num_points": 5})
    with pytest.raises(ValueError, match="something: test_config has unknown argument\\(s\\) 'width'"):
        register_model("something", family="pointnet", task="cls", test_config={"width": 4})(lambda *, depth=1: None)
    assert "something" not in list_models()


def test_list_models_by_family():
    assert list_models(family="voxel") == ["voxel_cnn", "voxel_resnet"]
    assert list_models(family="pointnet") == [
        "pointnet_cls", "pointnet_cls_basic", "pointnet_embed", "pointnet_part_seg", "pointnet_sem_seg"]
    assert list_models(family="dgcnn") == ["dgcnn_cls", "dgcnn_cls_tf", "dgcnn_part_seg", "dgcnn_sem_seg"]
    assert list_models("part_seg", family="voxel") == []
    families = ("voxel", "pointnet", "pointnet2", "dgcnn")
    assert sorted(sum((list_models(family=f) for f in families), [])) == list_models()
    with pytest.raises(ValueError, match="list_models: family must be one of .*, got 'no_such_family'"):
        list_models(family="no_such_family")


def test_preprocessing_of_the_entries_follows_the_builder_defaults():
    cls = model_entry("pointnet_cls").preprocessing
    assert (cls.num_points, cls.channels, cls.normalization, cls.up_axis) == (1024, 3, "unit_sphere", "y")
    assert model_entry("pointnet_part_seg").preprocessing.num_points == 2048
    sem = model_entry("pointnet_sem_seg").preprocessing
    assert (sem.num_points, sem.channels, sem.normalization, sem.up_axis) == (4096, 9, "s3dis_blocks", "z")
    voxel = model_entry("voxel_resnet").preprocessing
    assert (voxel.resolution, voxel.inner, voxel.normalization, voxel.num_points) == (30, 24, "occupancy_grid", 1024)
    assert cls.resolution is None and cls.to_dict()["normalization_description"].endswith("(unit sphere)")
    with pytest.raises(ValueError, match="normalization must be one of .*, got 'minmax'"):
        Preprocessing(normalization="minmax")
    with pytest.raises(ValueError, match="up_axis must be one of .*, got 'up'"):
        Preprocessing(up_axis="up")


def test_a_built_model_knows_its_family_kinds_and_preprocessing():
    voxel = get_model("voxel_cnn", num_classes=3, resolution=20, inner=16, filters=(4, 4, 4), padding="same")
    assert model_family(voxel) == "voxel" and model_kinds(voxel) == ("voxels", "logits")
    assert (model_preprocessing(voxel).resolution, model_preprocessing(voxel).inner) == (20, 16)
    points = get_model("pointnet_cls_basic", num_classes=3, num_points=None, input_dims=6, mlp=(8,), head_widths=())
    assert model_family(points) == "pointnet"
    assert (model_preprocessing(points).num_points, model_preprocessing(points).channels) == (1024, 6)
    assert model_preprocessing(object()) is None and model_family(object()) is None
