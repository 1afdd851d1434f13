"""Moving from the original TF1 PointNet: code upgrade reports and checkpoint conversion.

`upgrade_report` runs `tf_upgrade_v2` on TF1 code (by default the repository's
`original/`), normalises and compares its reports; `post_upgrade` fixes what
the upgrade leaves broken; `tf1_checkpoint` loads the original's checkpoints
into the zoo's Keras models.
"""

from pointnet_tf2.migration.post_upgrade import PostUpgradeFix
from pointnet_tf2.migration.post_upgrade import apply_post_upgrade_fixes
from pointnet_tf2.migration.tf1_checkpoint import Tf1CheckpointMapping
from pointnet_tf2.migration.tf1_checkpoint import load_tf1_checkpoint
from pointnet_tf2.migration.tf1_checkpoint import read_tf1_checkpoint
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
    "UpgradeReport",
    "apply_post_upgrade_fixes",
    "compare_report_files",
    "compare_reports",
    "generate_report",
    "load_tf1_checkpoint",
    "parse_report",
    "read_report",
    "read_tf1_checkpoint",
    "upgrade_tree",
    "write_report",
]
