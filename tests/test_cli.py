import subprocess
import sys

from pointnet_tf2 import cli


def test_models_command_prints_parameter_counts(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name, count in [("pointnet_cls", "3,480,049"), ("pointnet_cls_basic", "819,624"),
                        ("pointnet_sem_seg", "1,174,669"), ("pointnet_part_seg", "8,574,923"),
                        ("dgcnn_cls", "1,809,576"), ("dgcnn_sem_seg", "985,677"),
                        ("pointnet2_cls_ssg", "1,475,688"), ("pointnet2_sem_seg", "967,981")]:
        line = next(line for line in out.splitlines() if line.split()[0] == name)
        assert count in line


def test_models_command_filters_by_task(capsys):
    assert cli.main(["models", "--task", "sem_seg"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["dgcnn_sem_seg", "pointnet2_sem_seg", "pointnet_sem_seg"]
    assert cli.main(["models", "--family", "voxel"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[:3] for row in rows] == [["voxel_cnn", "cls", "646,200"], ["voxel_resnet", "cls", "901,960"]]


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "pointnet_tf2", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "models" in out.stdout
