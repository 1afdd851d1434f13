"""Part segmentation (ShapeNet part layout): a part per point, and the shape's category."""

import keras
import numpy as np

from pointnet_tf2 import metrics
from pointnet_tf2.tasks.base import Task
from pointnet_tf2.task_names import PART_SEG
from pointnet_tf2.tasks.predictions import scatter_mean
from pointnet_tf2.tasks.predictions import softmax
from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy


class PartSegmentation(Task):
    """Part segmentation with the original protocol (instance and category mIoU)."""

    def add_train_arguments(self, add):
        super().add_train_arguments(add)
        add("--seg_weight", type=float, default=1.0,
            help="weight w of the segmentation loss; the category loss gets 1 - w (the original: 1.0)")

    def builder_args(self, description, num_point, input_dims):
        return {"num_points": num_point, "input_dims": input_dims, "num_parts": description.num_parts,
                "num_categories": description.num_categories}

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0, outputs=None):
        """The part losses and metrics, and the category's when the model has a category classifier.

        Models without one (DGCNN, PointNet++: their originals read the
        category as an input only) give `{"parts": ...}` alone (`outputs`
        without "category"): only the part loss and metrics are compiled.
        """
        if not 0.0 <= seg_weight <= 1.0:
            raise ValueError(f"seg_weight must be in [0, 1], got {seg_weight!r}")
        part_metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            metrics.PartInstanceMIoU(description.category_parts, name="instance_miou"),
            metrics.PartCategoryMIoU(description.category_parts, name="category_miou"),
        ]
        if outputs is not None and "category" not in outputs:
            if seg_weight != 1.0:
                raise ValueError(f"seg_weight {seg_weight!r}: the model has no category output to weigh against")
            return {"loss": {"parts": main_loss}, "metrics": {"parts": part_metrics}}
        return {
            "loss": {"parts": main_loss, "category": SparseCrossEntropy(description.num_categories)},
            "loss_weights": {"parts": float(seg_weight), "category": 1.0 - float(seg_weight)},
            "metrics": {
                "parts": part_metrics,
                "category": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            },
        }

    def monitor_key(self, output_kind="logits", outputs=None):
        # With the parts as the only output, Keras names the metrics without the "parts_" prefix.
        if outputs is not None and "category" not in outputs:
            return self.monitor.replace("val_parts_", "val_")
        return self.monitor

    def label_names(self, description):
        return description.part_names

    def evaluate_logits(self, predictions, description):
        logits, labels = predictions["logits"], predictions["labels"]
        summary = metrics.part_seg_summary(logits, labels, predictions["categories"], description.category_parts)
        per_category = {
            name: float(value)
            for name, value in zip(description.category_names, summary["per_category_miou"])
            if not np.isnan(value)
        }
        return {
            "miou": float(summary["instance_miou"]),
            "instance_miou": float(summary["instance_miou"]),
            "category_miou": float(summary["category_miou"]),
            "per_category_miou": per_category,
            "overall_accuracy": float(np.mean(np.argmax(logits, -1) == labels)),
            "headline": ["instance_miou", "category_miou"],
        }

    # -- prediction ---------------------------------------------------------------------------

    def model_classes(self, model):
        """Parts a model predicts: the builder's `num_parts`, else the width of its per-point output."""
        config = getattr(model, "builder_config", None) or {}
        if config.get("num_parts") is not None:
            return int(config["num_parts"])
        return int([output for output in model.outputs if len(output.shape) == 3][0].shape[-1])

    def logits_of(self, outputs):
        return outputs["parts"] if isinstance(outputs, dict) else outputs

    def split_targets(self, targets):
        return targets["parts"], targets["category"]

    def file_label_names(self, description):
        return description.part_names, description.category_names

    def predict_clouds(self, loop, clouds, *, num_points, input_dims, rng, top_k=5, class_names=None, category=None,
                       category_parts=None):  # fmt: skip
        """Per-point parts of each cloud, given or predicting its object category.

        Each vote cuts the cloud into random chunks of `num_points` (turned by
        the loop); a point's logits are averaged over the votes. Without a
        category, the category branch's logits (fed an all-zero category)
        averaged over the chunks and votes pick it; with `category_parts`,
        only that category's parts are predicted.
        """
        shapes = loop.input_shapes
        if "category" not in shapes:
            raise ValueError(f"{loop.name}: a part segmentation model needs a 'category' input")
        num_categories = int(shapes["category"][-1])
        categories = category if isinstance(category, (list, tuple, np.ndarray)) else [category] * len(clouds)
        if len(categories) != len(clouds):
            raise ValueError(f"predict: {len(categories)} categories for {len(clouds)} clouds")
        classifies = "category" in loop.output_names
        if not classifies and any(cat is None for cat in categories):
            raise ValueError(f"predict: {loop.name} has no category classifier (its original reads the category as "
                             "an input only); give each cloud's category (--category)")
        results = []
        for cloud, cat in zip(clouds, categories):
            passes = [self.prediction_samples(cloud, num_points, input_dims, rng)[0] for _ in range(loop.num_votes)]
            category_logits = None
            if cat is None:
                means = [loop.run(_inputs(s.points, np.zeros((len(s.points), num_categories), np.float32)),
                                  vote=v)["category"].mean(axis=0) for v, s in enumerate(passes)]  # fmt: skip
                category_logits = np.mean(means, axis=0)
                cat = int(np.argmax(category_logits))
            cat = int(cat)
            if not 0 <= cat < num_categories:
                raise ValueError(f"predict: category {cat} is outside [0, {num_categories})")
            outputs = []
            for vote, samples in enumerate(passes):
                onehot = np.zeros((len(samples.points), num_categories), np.float32)
                onehot[:, cat] = 1.0
                out = loop.run(_inputs(samples.points, onehot), vote=vote)
                outputs.append((samples, out["parts"]))
                if category_logits is None and classifies:
                    category_logits = out["category"].mean(axis=0)
            total = scatter_mean(len(cloud), outputs)
            if category_parts is not None:
                mask = np.full(total.shape[-1], -np.inf)
                mask[list(category_parts[cat])] = 0.0
                total = total + mask
            probabilities = softmax(total).astype(np.float32)
            result = {"labels": np.argmax(probabilities, axis=-1).astype(np.int64), "probabilities": probabilities,
                      "category": cat}
            if category_logits is not None:
                result["category_probabilities"] = softmax(category_logits).astype(np.float32)
            results.append(result)
        return results

    def parse_category(self, value, *, category_names=None, num_categories=None, where="the model"):
        """The index of a category given by name (any case) or index.

        Raises:
            ValueError: If it is not one of the model's categories.
        """
        names = list(category_names or [])
        lowered = [name.lower() for name in names]
        if value.lower() in lowered:
            return lowered.index(value.lower())
        if value.isdigit() and num_categories is not None and int(value) < num_categories:
            return int(value)
        raise ValueError(f"--category {value!r}: not one of the model's categories ({', '.join(names) or 'unknown names'})")

    def prediction_title(self, name, result, *, category_names=None):
        return f"{name}  ({_category_name(result['category'], category_names)})"

    def prediction_row(self, name, result, *, label_names, category_names=None, files=None, notes=()):
        row = super().prediction_row(name, result, label_names=label_names, files=files, notes=notes)
        row["category"] = _category_name(result["category"], category_names)
        return row


def _inputs(points, category):
    """A part segmentation model's inputs (a dict; `PredictionLoop` turns the points)."""
    return {"points": points, "category": category}


def _category_name(index, category_names):
    return category_names[index] if category_names else str(index)


PART_SEGMENTATION = PartSegmentation(
    PART_SEG, "part segmentation", "pointnet_part_seg", 2048, 200, 32, 0.001, 16881 * 20, 0.5, 16881 * 40,
    "val_parts_instance_miou", "log_part_seg", script="train_part_seg.py")
