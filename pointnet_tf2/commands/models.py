"""`pointnet-tf2 models`: the zoo with each model's parameter count."""

from pointnet_tf2.cli_facts import FACTS

HELP = "list the models of the zoo with their task and trainable parameter count"


def add_arguments(parser):
    parser.add_argument("--task", choices=("cls", "part_seg", "sem_seg"), help="only the models of this task")
    parser.add_argument("--family", choices=FACTS["families"], help="only the models of this family")


def run(args):
    from pointnet_tf2.models import registry
    from pointnet_tf2.utils.keras_utils import count_trainable_params

    rows = []
    for name in registry.list_models(args.task, family=args.family):
        entry = registry.model_entry(name)
        model = entry.builder()
        rows.append((name, entry.task, f"{count_trainable_params(model):,}", entry.description))
    widths = [max(len(row[i]) for row in rows + [("model", "task", "params", "")]) for i in range(3)]
    print(f"{'model':<{widths[0]}}  {'task':<{widths[1]}}  {'params':>{widths[2]}}  description")
    for name, task, params, description in rows:
        print(f"{name:<{widths[0]}}  {task:<{widths[1]}}  {params:>{widths[2]}}  {description}")
    return 0
