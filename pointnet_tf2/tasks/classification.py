"""Shape classification (ModelNet40 layout): one label per cloud."""

import keras
import numpy as np
from keras import ops

from pointnet_tf2 import metrics
from pointnet_tf2.losses.triplet import TripletLoss
from pointnet_tf2.losses.triplet import pairwise_distances
from pointnet_tf2.task_names import CLS
from pointnet_tf2.tasks.base import Task
from pointnet_tf2.tasks.predictions import softmax
from pointnet_tf2.tasks.predictions import split_outputs
from pointnet_tf2.tasks.predictions import stack_samples
from pointnet_tf2.tasks.predictions import top_k as best_classes


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

    def add_train_arguments(self, add):
        super().add_train_arguments(add)
        # Rotation protocols and metric learning (see pointnet_tf2.training.families).
        add("--train_rotation", default=None, choices=("none", "z", "so3"),
            help="random training rotations, in place of the rotation of the model's augmentation: z = about "
            "the up axis (PointNet's original), so3 = uniform over SO(3), none; default: none (with "
            "--original_settings: the model's original, z for PointNet)")
        add("--test_rotation", default="none", choices=("none", "z", "so3"), help="random rotations of the test set")
        add("--triplet_margin", type=float, default=0.2, help="embedding models: margin of the triplet loss")
        add("--triplet_mining", default="batch_hard", choices=("batch_hard", "batch_all"),
            help="embedding models: triplet mining within each batch")
        add("--triplet_distance", default="l2", choices=("l2", "cosine"), help="embedding models: distance")
        add("--classes_per_batch", type=int, default=None,
            help="embedding models: P classes x (batch_size // P) shapes per batch; default batch_size // 4")

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0, outputs=None):
        return {
            "loss": main_loss,
            "metrics": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                metrics.MeanClassAccuracy(description.num_classes, name="mean_class_accuracy"),
            ],
        }

    def embedding_compile_args(self, triplet):
        return {"loss": TripletLoss(**triplet), "metrics": [NearestNeighbourAccuracy()]}

    def monitor_key(self, output_kind="logits", outputs=None):
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

    def predict_clouds(self, loop, clouds, *, num_points, input_dims, rng, top_k=5, class_names=None, category=None,
                       category_parts=None):  # fmt: skip
        """Class probabilities of each cloud: softmax of its logits averaged over the votes.

        Vote `v` draws a new random subset of `num_points` points of every
        cloud (`loop` turns it by `2 pi v / V` about the up axis); the clouds
        of a vote go through the model together.
        """
        # Draw every cloud's samples first (cloud by cloud), then run each vote's samples together.
        drawn = [[self.prediction_samples(cloud, num_points, input_dims, rng)[0] for _ in range(loop.num_votes)]
                 for cloud in clouds]  # fmt: skip
        logits = [[] for _ in clouds]
        for vote in range(loop.num_votes):
            samples = [per_cloud[vote] for per_cloud in drawn]
            outputs = loop.run(stack_samples(samples), vote=vote)
            for i, part in enumerate(split_outputs(outputs, samples)):
                logits[i].append(np.asarray(part, dtype=np.float64).reshape(-1))
        results = []
        for per_vote in logits:
            probabilities = softmax(np.mean(per_vote, axis=0)).astype(np.float32)
            label = int(np.argmax(probabilities))
            result = {"label": label, "probabilities": probabilities,
                      "top_k": best_classes(probabilities, min(top_k, len(probabilities)), class_names)}  # fmt: skip
            if class_names is not None:
                result["class"] = str(class_names[label])
            results.append(result)
        return results

    def prediction_row(self, name, result, *, label_names, category_names=None, files=None, notes=()):
        return {"file": name, "class": result["class"], "label": result["label"], "top_k": result["top_k"],
                "notes": list(notes)}

    def prediction_lines(self, row, notes_text=""):
        best = row["top_k"][0]["probability"]  # the predicted class's
        lines = [f"{row['file']}: {row['class']} ({best:.3f}){notes_text}"]
        for rank, entry in enumerate(row["top_k"], 1):
            lines.append(f"  {rank:>2}. {entry['class']:<24} {entry['probability']:.4f}")
        return lines

    def prediction_table(self, rows):
        header = ["file", "rank", "class", "index", "probability", "error"]
        table = []
        for row in rows:
            for rank, entry in enumerate(row.get("top_k", []), 1):
                table.append([row["file"], rank, entry.get("class", ""), entry["index"], f"{entry['probability']:.6f}", ""])
            if "error" in row:
                table.append([row["file"], "", "", "", "", row["error"]])
        return header, table


def _named(names, values):
    return {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, values)}


CLASSIFICATION = Classification(
    CLS, "classification", "pointnet_cls", 1024, 250, 32, 0.001, 200_000, 0.7, 200_000, "val_accuracy", "log",
    per_point=False, train_rotations=True, script="train_cls.py")
