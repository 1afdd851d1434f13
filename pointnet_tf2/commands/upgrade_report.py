"""`pointnet-tf2 upgrade-report`: run tf_upgrade_v2 on TF1 PointNet code, or compare two reports.

    pointnet-tf2 upgrade-report --output original/tf_upgrade_v2_report.txt
    pointnet-tf2 upgrade-report --source ~/pointnet --upgraded-tree ~/pointnet_tf2x
    pointnet-tf2 upgrade-report --compare original/tf_upgrade_v2_report.txt new.txt
"""

import sys

from pointnet_tf2.utils import atomic_output

HELP = "run tf_upgrade_v2 on TF1 PointNet code (default: original/) and write its normalised report, or --compare two reports"


def add_arguments(parser):
    parser.add_argument("--source", metavar="DIR",
                        help="folder of TF1 code to upgrade (default: the repository's original/)")
    parser.add_argument("--output", metavar="FILE",
                        help="write the normalised report here (default: print it)")
    parser.add_argument("--upgraded-tree", metavar="DIR", dest="upgraded_tree",
                        help="also keep the upgraded code, with the post-upgrade fixes applied, in this new folder")
    parser.add_argument("--no-fixes", action="store_true", dest="no_fixes",
                        help="with --upgraded-tree: keep tf_upgrade_v2's output as is")
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                        help="compare two reports instead; exit status 1 when NEW has warnings or errors OLD has not")


def _compare(args, compare_report_files):
    if args.source or args.output or args.upgraded_tree or args.no_fixes:
        raise ValueError("--compare takes only the two report files")
    old, new = args.compare
    comparison = compare_report_files(old, new)
    print(comparison.format(old, new))
    problems = comparison.new_problems
    if problems:
        names = "; ".join(entry.headline(width=100) for entry in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        print(f"pointnet-tf2 upgrade-report: {len(problems)} new warning(s)/error(s) in {new}: {names}{more}",
              file=sys.stderr)
        return 1
    return 0


def run(args):
    from pointnet_tf2.migration.upgrade_report import compare_report_files
    from pointnet_tf2.migration.upgrade_report import upgrade_tree

    if args.compare:
        return _compare(args, compare_report_files)

    if args.no_fixes and not args.upgraded_tree:
        raise ValueError("--no-fixes only applies with --upgraded-tree")
    report, fixes = upgrade_tree(args.source, args.upgraded_tree, fixes=not args.no_fixes)
    if args.output:
        with atomic_output(args.output) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(report)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(report)
    if args.upgraded_tree:
        print(f"wrote the upgraded tree to {args.upgraded_tree} with {len(fixes)} post-upgrade fix(es):",
              file=sys.stderr)
        for fix in fixes:
            print(f"  {fix}", file=sys.stderr)
    return 0
