import pytest

from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models
from pointnet_tf2.models import model_entry
from pointnet_tf2.models import register_model


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
        register_model("pointnet_cls", task="cls")(lambda: None)
    with pytest.raises(ValueError, match="task must be one of"):
        register_model("something", task="detection")
