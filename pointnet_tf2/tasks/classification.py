"""Shape classification (ModelNet40 layout): one label per cloud."""

import keras
import numpy as np
from keras import ops

from pointnet_tf2 import metrics
from pointnet_tf2.tasks.base import Task
from pointnet_tf2.tasks.base import triplet_loss
from pointnet_tf2.task_names import CLS
from pointnet_tf2.losses.triplet import pairwise_distances


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class NearestNeighbourAccuracy(keras.metrics.Mean):
    """Leave-one-out 1-nearest-neighbour accuracy of embeddings within each batch.

    For every shape of a batch, whether its nearest other shape (L2) has its
    label; averaged over shapes. It rises as the embedding separates classes,
    so it picks the best checkpoint of embedding runs (`val_nn_accuracy`).
    """

    def __init__(self, name="nn_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        d = pairwise_distances(y_pred, "l2")
        d = d + ops.eye(ops.shape(d)[0]) * (ops.max(d) + 1.0)
        nearest = ops.argmin(d, axis=1)
        hits = ops.cast(ops.equal(ops.take(labels, nearest), labels), "float32")
        return super().update_state(hits)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class Classification(Task):
    """Classification: accuracy and mean class accuracy; embeddings by retrieval."""

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0):
        return {
            "loss": main_loss,
            "metrics": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                metrics.MeanClassAccuracy(description.num_classes, name="mean_class_accuracy"),
            ],
        }

    def embedding_compile_args(self, triplet):
        return {"loss": triplet_loss(triplet), "metrics": [NearestNeighbourAccuracy()]}

    def monitor_key(self, output_kind="logits"):
        return "val_nn_accuracy" if output_kind == "embedding" else self.monitor

    def evaluate_logits(self, predictions, description):
        confusion = metrics.confusion_matrix(predictions["labels"], predictions["logits"], description.num_classes)
        per_class = metrics.per_class_accuracy(confusion)
        return {
            "overall_accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "confusion_matrix": confusion.tolist(),
            "mean_class_accuracy": float(np.nanmean(per_class)),
            "per_class_accuracy": _named(description.class_names, per_class),
            "headline": ["overall_accuracy", "mean_class_accuracy"],
        }


def _named(names, values):
    return {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, values)}


CLASSIFICATION = Classification(
    CLS, "classification", "pointnet_cls", 1024, 250, 32, 0.001, 200_000, 0.7, 200_000, "val_accuracy", "log",
    per_point=False, train_rotations=True)
