"""Moving from the original TF1 PointNet: code upgrade reports and checkpoint conversion.

`upgrade_report` runs `tf_upgrade_v2` on TF1 code (by default the repository's
`original/`), normalises and compares its reports; `post_upgrade` fixes what
the upgrade leaves broken; `tf1_checkpoint` loads the original's checkpoints
into the zoo's Keras models; `torch_checkpoint` reads PyTorch state_dicts
without torch and loads the official PyTorch DGCNN classifier's.
"""

from pointnet_tf2.migration.post_upgrade import PostUpgradeFix
from pointnet_tf2.migration.post_upgrade import apply_post_upgrade_fixes
from pointnet_tf2.migration.tf1_checkpoint import Tf1CheckpointMapping
from pointnet_tf2.migration.tf1_checkpoint import load_tf1_checkpoint
from pointnet_tf2.migration.tf1_checkpoint import read_tf1_checkpoint
from pointnet_tf2.migration.torch_checkpoint import TorchCheckpointMapping
from pointnet_tf2.migration.torch_checkpoint import dgcnn_cls_config
from pointnet_tf2.migration.torch_checkpoint import load_torch_checkpoint
from pointnet_tf2.migration.torch_checkpoint import read_torch_state_dict
from pointnet_tf2.migration.upgrade_report import ReportComparison
from pointnet_tf2.migration.upgrade_report import ReportEntry
from pointnet_tf2.migration.upgrade_report import UpgradeReport
from pointnet_tf2.migration.upgrade_report import compare_report_files
from pointnet_tf2.migration.upgrade_report import compare_reports
from pointnet_tf2.migration.upgrade_report import generate_report
from pointnet_tf2.migration.upgrade_report import parse_report
from pointnet_tf2.migration.upgrade_report import read_report
from pointnet_tf2.migration.upgrade_report import upgrade_tree
from pointnet_tf2.migration.upgrade_report import write_report

__all__ = [
    "PostUpgradeFix",
    "ReportComparison",
    "ReportEntry",
    "Tf1CheckpointMapping",
    "TorchCheckpointMapping",
    "UpgradeReport",
    "apply_post_upgrade_fixes",
    "compare_report_files",
    "compare_reports",
    "dgcnn_cls_config",
    "generate_report",
    "load_tf1_checkpoint",
    "load_torch_checkpoint",
    "parse_report",
    "read_report",
    "read_tf1_checkpoint",
    "read_torch_state_dict",
    "upgrade_tree",
    "write_report",
]
