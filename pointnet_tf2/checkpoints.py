"""Loading a training run's checkpoint with its run configuration and dataset.

A run folder (written by `pointnet_tf2.training.trainer.train`) holds the
checkpoints and `config.json`; evaluation, retrieval and the rotation
protocols load checkpoints through `load_checkpoint`, without depending on the
trainer.
"""

import json
import os

from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.inference import check_point_model
from pointnet_tf2.inference import model_input_spec
from pointnet_tf2.inference import model_task
from pointnet_tf2.inference import output_width
from pointnet_tf2.utils.keras_utils import check_keras_file
from pointnet_tf2.utils.keras_utils import load_keras_model

# The run configuration file of a run folder.
CONFIG_FILE = "config.json"


def load_run_config(directory):
    """Reads the `config.json` of a run folder.

    Raises:
        FileNotFoundError: If the folder has no `config.json`.
        ValueError: If it is not valid.
    """
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no run configuration (is this a pointnet-tf2 log folder?)")
    try:
        with open(path) as f:
            payload = json.load(f)
        payload["train_config"]["task"], payload["dataset"]["task"], payload["model"]["builder"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a valid run configuration ({error})") from None
    return payload


def load_checkpoint(checkpoint, *, data=None, test_area=None):
    """Loads a checkpoint with the dataset it was trained on (or `data`).

    A checkpoint in a run folder comes with its `config.json`. A standalone
    `.keras` file (a `convert-tf1` output, a model saved by hand: no
    `config.json` beside it) needs `data`; its run configuration is then made
    from the model: its task, builder and points per cloud (None when the
    model takes any count). Any other Keras model must take points (B, N, C)
    and give logits (see `pointnet_tf2.inference.check_point_model`).

    Args:
        checkpoint: A `.keras` file.
        data: Dataset to use instead of the recorded one.
        test_area: S3DIS test area instead of the recorded one.

    Returns:
        `(model, description, run_config)`.

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: If the file is damaged or not a point model, a standalone
            file comes without `data`, or the dataset's task or class count
            does not fit the model.
    """
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint")
    check_keras_file(checkpoint)
    folder = os.path.dirname(os.path.abspath(checkpoint))
    run_config = None
    if os.path.exists(os.path.join(folder, CONFIG_FILE)):
        run_config = load_run_config(folder)
    elif data is None:
        raise ValueError(f"{checkpoint}: no {CONFIG_FILE} beside it (not in a training run folder), so its dataset "
                         "is unknown: pass --data")  # fmt: skip
    model = load_keras_model(checkpoint)
    builder_config = getattr(model, "builder_config", None) or {}
    if getattr(model, "builder", None) is None:
        check_point_model(model, checkpoint)
    task = model_task(model)
    if run_config is None:
        num_point = builder_config["num_points"] if "num_points" in builder_config else model_input_spec(model)[0]
        run_config = {"train_config": {"task": task, "model": getattr(model, "builder", None) or model.name,
                                       "num_point": num_point},
                      "dataset": None, "standalone": True,
                      "model": {"builder": getattr(model, "builder", None), "builder_config": builder_config}}  # fmt: skip
    if task != run_config["train_config"]["task"]:
        raise ValueError(f"{checkpoint}: a {task} model, but config.json describes a {run_config['train_config']['task']} run")
    recorded = run_config["dataset"] or {}
    if test_area is None:
        test_area = recorded.get("test_area") or 6
    expected = builder_config.get("num_parts", builder_config.get("num_classes"))
    if expected is None:
        expected = int(output_width(model, task))
    description = open_dataset(data or recorded["root"], task=task, test_area=test_area, num_classes=expected)
    if expected != description.num_classes:
        raise ValueError(f"{description.root}: has {description.num_classes} classes, the model {checkpoint} predicts {expected}")
    return model, description, run_config
