"""Evaluation: the one prediction loop, split evaluation with voting, the results table.

- `loop.py`: `PredictionLoop`, which runs a model over clouds (votes by
  rotations about the up axis, test rotation protocols, voxel inputs,
  batching) for evaluation, retrieval (`pointnet_tf2.retrieval`) and
  prediction (`pointnet_tf2.inference.predict`);
- `split.py`: `predict_split` and `evaluate` (a split with the task's metric
  protocol), `format_results`.
"""

from pointnet_tf2.evaluation.loop import PredictionLoop
from pointnet_tf2.evaluation.loop import input_transform
from pointnet_tf2.evaluation.split import evaluate
from pointnet_tf2.evaluation.split import format_results
from pointnet_tf2.evaluation.split import predict_split

__all__ = ["PredictionLoop", "evaluate", "format_results", "input_transform", "predict_split"]
