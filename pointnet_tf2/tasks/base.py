"""`Task`: what the trainer, the evaluator and the predictor need to know about a task.

The trainer, the evaluation loop and the commands are written once; a task
object supplies what depends on the task: its original defaults, the builder
arguments that come from a dataset, the channels a model reads, the compile
arguments (losses, metrics), the checkpoint monitor, the evaluation protocol,
the names its TensorBoard visuals use, and prediction on one's own clouds:
how a cloud becomes model inputs and the outputs a prediction, and what
`pointnet-tf2 predict` prints and writes for it. No other module compares
task names.
"""

import dataclasses

import numpy as np

from pointnet_tf2.data.geometry import normalize_unit_sphere
from pointnet_tf2.layers import OrthogonalRegularizer
from pointnet_tf2.tasks.predictions import chunked
from pointnet_tf2.tasks.predictions import resampled
from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy

OUTPUT_KINDS = ("logits", "embedding")


@dataclasses.dataclass(frozen=True)
class Task:
    """A task's defaults (the original's) and the pieces that depend on it.

    Subclasses implement `builder_args`, `logits_compile_args`,
    `evaluate_logits` and `predict_clouds`; the rest has a default here (what
    `pointnet-tf2 predict` prints and writes: that of per-point labels,
    which classification overrides).

    Attributes:
        name: "cls", "part_seg" or "sem_seg".
        title: Human name, e.g. "classification".
        default_model: Registry name used without `--model`.
        num_point: Points per cloud used for training.
        max_epoch: Epochs.
        batch_size: Samples per step.
        learning_rate: Initial learning rate.
        decay_step: Samples between two learning-rate decays.
        decay_rate: Learning-rate decay factor.
        bn_decay_step: Samples between two BN-momentum steps.
        monitor: Epoch-log key that picks the best checkpoint (validation).
        log_dir: Default log folder.
        per_point: Whether labels are per point (segmentation) or per cloud.
        sample_unit: What one sample of the task's data is called ("clouds", "blocks").
        predict_up_axis: The axis prediction votes rotate about by default.
        train_rotations: Whether `--train_rotation` applies (shape classification).
        script: The train script of the task.
        vote_rotation: Whether prediction votes rotate the clouds about the up
            axis (not for features that are not rotation-invariant).
        normalization: How the points a model of the task sees are prepared
            ("unit_sphere": shapes centred and scaled into the unit sphere;
            "s3dis_blocks": the 9 S3DIS block features).
    """

    name: str
    title: str
    default_model: str
    num_point: int
    max_epoch: int
    batch_size: int
    learning_rate: float
    decay_step: int
    decay_rate: float
    bn_decay_step: int
    monitor: str
    log_dir: str
    per_point: bool = True
    sample_unit: str = "clouds"
    predict_up_axis: int = 1
    train_rotations: bool = False
    script: str = ""
    vote_rotation: bool = True
    normalization: str = "unit_sphere"

    # -- the train script -------------------------------------------------------------------

    def add_train_arguments(self, add):
        """Adds the flags of the task's train script that other tasks' scripts do not have.

        Args:
            add: `parser.add_argument` of the script's parser.
        """
        add("--use_normals", action="store_true",
            help="feed the normals stored after XYZ (6-channel data, e.g. prepare-modelnet-normals) to the model")

    # -- building a model -------------------------------------------------------------------

    def input_channels(self, description, use_normals=False):
        """How many channels of the stored points a model of this task reads.

        Shapes may store normals after XYZ (6 channels); they are read only
        with `use_normals`.

        Raises:
            ValueError: If `use_normals` is asked for data without normals.
        """
        dims = description.input_dims
        if use_normals:
            if dims < 6:
                raise ValueError(f"{description.root}: --use_normals, but the points have {dims} channels (no normals)")
            return 6
        return 3

    def builder_args(self, description, num_point, input_dims):
        """The builder keyword arguments that come from the dataset.

        Args:
            description: The `DatasetDescription`.
            num_point: Points per cloud fed to the model.
            input_dims: Channels per point fed to the model.

        Returns:
            A dict of builder keyword arguments.
        """
        return {"num_points": num_point, "input_dims": input_dims, "num_classes": description.num_classes}

    def model_config(self, description, num_point, input_dims, orthogonal_weight=None):
        """`builder_args`, plus the feature-transform regulariser weight when given."""
        config = self.builder_args(description, num_point, input_dims)
        if orthogonal_weight is not None:
            config["orthogonal_weight"] = orthogonal_weight
        return config

    # -- compiling --------------------------------------------------------------------------

    def compile_args(self, description, *, output_kind="logits", label_smoothing=0.0, class_weights=None,
                     seg_weight=1.0, triplet=None, outputs=None):
        """Returns the `loss`, `loss_weights` and `metrics` arguments of `compile`.

        Args:
            description: The `DatasetDescription`.
            output_kind: "logits" (cross-entropy) or "embedding" (metric learning).
            label_smoothing: Label smoothing of the main cross-entropy.
            class_weights: Optional per-class weights of the main cross-entropy.
            seg_weight: Part segmentation only: weight `w` of the segmentation
                loss; the category loss gets `1 - w` (the original trains with 1).
            triplet: Embedding models: a dict of `TripletLoss` arguments.
            outputs: The names of the model's outputs when it has several
                (a dict output), else None.

        Returns:
            A dict of keyword arguments for `model.compile`.

        Raises:
            ValueError: On an output kind the task has no loss for, or bad arguments.
        """
        if output_kind == "embedding":
            return self.embedding_compile_args(triplet or {})
        if output_kind != "logits":
            raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}, got {output_kind!r}")
        main = SparseCrossEntropy(description.num_classes, label_smoothing=label_smoothing,
                                  class_weights=class_weights)
        return self.logits_compile_args(description, main, seg_weight=seg_weight, outputs=outputs)

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0, outputs=None):
        """The compile arguments of a model giving logits, around its main cross-entropy."""
        raise NotImplementedError

    def embedding_compile_args(self, triplet):
        """The compile arguments of an embedding model (only classification data has them)."""
        raise ValueError(f"embedding models are trained on classification data, not {self.title}")

    def monitor_key(self, output_kind="logits", outputs=None):
        """The epoch-log key that picks the best checkpoint.

        Args:
            output_kind: "logits" or "embedding".
            outputs: The names of the model's outputs when it has several, else None.
        """
        return self.monitor

    # -- evaluation and visuals -------------------------------------------------------------

    def label_names(self, description):
        """The names of the labels a model of the task predicts."""
        return description.class_names

    def evaluate_logits(self, predictions, description):
        """The task's metric protocol over predicted logits.

        Args:
            predictions: A dict with "logits" and "labels" (and, for part
                segmentation, "categories").
            description: The `DatasetDescription`.

        Returns:
            A dict of results whose "headline" lists the main figures' keys.
        """
        raise NotImplementedError

    # -- prediction on one's own clouds ------------------------------------------------------

    def model_classes(self, model):
        """How many classes a model of the task predicts: the builder's `num_classes`, else its output width."""
        config = getattr(model, "builder_config", None) or {}
        if config.get("num_classes") is not None:
            return int(config["num_classes"])
        return int(model.outputs[0].shape[-1])

    def logits_of(self, outputs):
        """The logits the metrics read, among a model's outputs (a dict for multi-output models)."""
        return outputs

    def split_targets(self, targets):
        """`(labels, categories or None)` of a batch's targets as `PointCloudSequence` yields them."""
        return targets, None

    def file_label_names(self, description):
        """`(names of per-point labels, names of cloud labels)` of a file of this task's dataset."""
        if self.per_point:
            return description.class_names, None
        return None, description.class_names

    def check_cloud(self, cloud, input_dims, index=0):
        """Checks one cloud given to `predict` and returns the channels the model takes.

        Extra channels after XYZ (normals, colours) are dropped for a model of
        XYZ points.

        Args:
            cloud: (N, C) points.
            input_dims: Channels per point the model takes.
            index: The cloud's position, for messages.

        Raises:
            ValueError: On an empty cloud, NaN/inf values or channels the model cannot take.
        """
        channels = cloud.shape[1]
        if len(cloud) == 0:
            raise ValueError(f"predict: cloud {index} has no points")
        if not np.isfinite(cloud).all():
            raise ValueError(f"predict: cloud {index} has NaN or inf values")
        if channels == input_dims:
            return cloud
        if channels > input_dims and input_dims == 3:
            return cloud[:, :3]
        need = "xyz + normals" if input_dims == 6 else f"{input_dims} channels"
        raise ValueError(f"predict: cloud {index} has {channels} channels per point, the model needs {input_dims} ({need})")

    def prepare_cloud(self, xyz, *, normals=None, colors=None, input_dims=3, normalize=True, name="cloud"):
        """A cloud read from a file (already turned to the model's up axis) as the model's channels.

        Shapes are centred and scaled into the unit sphere (as `prepare` and the
        original data) unless `normalize` is False; 6-channel models get the normals.

        Args:
            xyz: (N, 3) points.
            normals: (N, 3) normals (turned like the points) or None.
            colors: (N, 3) colours in [0, 1] or None.
            input_dims: Channels per point the model takes.
            normalize: Scale into the unit sphere.
            name: The cloud's name, for messages.

        Returns:
            float32 (N, C).

        Raises:
            ValueError: If the model needs normals the file lacks, or all points coincide.
        """
        if normalize:
            try:
                xyz, _, _ = normalize_unit_sphere(xyz)
            except ValueError:
                raise ValueError(f"{name}: all points coincide") from None
        if input_dims == 6:
            if normals is None:
                raise ValueError(f"{name}: the model needs normals (x y z nx ny nz); the file has none")
            return np.concatenate([xyz, normals], axis=1).astype(np.float32)
        return np.asarray(xyz, dtype=np.float32)

    def prediction_samples(self, cloud, num_points, input_dims, rng):
        """The model inputs of one cloud for one vote: a list of `Samples`.

        Per-cloud labels: one random subset of `num_points` points (all points
        plus repeats if fewer; None: every point). Per-point labels: random
        chunks of `num_points` covering every point once (None: one chunk).
        """
        if self.per_point:
            return [chunked(cloud, num_points, rng)]
        return [resampled(cloud, num_points, rng)]

    def predict_clouds(self, loop, clouds, *, num_points, input_dims, rng, top_k=5, class_names=None, category=None,
                       category_parts=None):  # fmt: skip
        """Predicts clouds through a prediction loop; the task's part of `pointnet_tf2.inference.predict`.

        Args:
            loop: A `pointnet_tf2.evaluation.loop.PredictionLoop` over the
                model: it rotates vote `v` of `loop.num_votes`, voxelises,
                batches and runs the model (`loop.run(inputs, vote=v)`).
            clouds: Checked (N_i, C) float32 clouds (`check_cloud`).
            num_points: Points per model input (None: the model takes any count).
            input_dims: Channels per point the model takes.
            rng: A `numpy.random.Generator` (sampling).
            top_k: Classification: how many best classes to list.
            class_names: Names of the classes (parts for part segmentation).
            category: Part segmentation: the object category of every cloud
                (an index, or one per cloud); None: predicted.
            category_parts: Part segmentation: the part ids of each category.

        Returns:
            A list of result dicts, one per cloud (see `inference.predict`).
        """
        raise NotImplementedError

    # -- what `pointnet-tf2 predict` prints and writes ------------------------------------------

    def parse_category(self, value, *, category_names=None, num_categories=None, where="the model"):
        """The category index of `--category` (part segmentation only)."""
        raise ValueError(f"--category is for part segmentation models; {where} is a {self.name} model")

    def prediction_title(self, name, result, *, category_names=None):
        """The title of a prediction's picture."""
        return name

    def prediction_row(self, name, result, *, label_names, category_names=None, files=None, notes=()):
        """One input's row of `--output` (JSON), from its `predict` result.

        Args:
            name: The input's name.
            result: The `predict` result.
            label_names: Names of the predicted labels.
            category_names: Part segmentation: the object categories' names.
            files: Per-point tasks: {"ply": path, "png": path} written for the input.
            notes: Remarks on the input (e.g. "non_manifold").
        """
        labels = result["labels"]
        counts = np.bincount(labels, minlength=len(label_names))
        order = np.argsort(-counts, kind="stable")
        row = {"file": name, **(files or {}), "points": int(len(labels)),
               "label_counts": {label_names[i]: int(counts[i]) for i in order if counts[i]}, "notes": list(notes)}
        return row

    def prediction_lines(self, row, notes_text=""):
        """What `pointnet-tf2 predict` prints for one input's row."""
        total = max(row["points"], 1)
        shares = ", ".join(f"{name} {100.0 * count / total:.0f}%" for name, count in list(row["label_counts"].items())[:5])
        category = f", category {row['category']}" if row.get("category") is not None else ""
        return [f"{row['file']}: {row['points']} points{category} -> {row.get('ply')}, {row.get('png')}; "
                f"{shares}{notes_text}"]  # fmt: skip

    def prediction_table(self, rows):
        """The CSV of `--output`: `(header, rows of cells)`; inputs that failed have an "error"."""
        header = ["file", "ply", "png", "points", "category", "most_common", "error"]
        table = []
        for row in rows:
            most = next(iter(row["label_counts"]), "") if row.get("label_counts") else ""
            table.append([row["file"], row.get("ply", ""), row.get("png", ""), row.get("points", ""),
                          row.get("category", ""), most, row.get("error", "")])  # fmt: skip
        return header, table


def orthogonal_weight_for(batch_size):
    """The regulariser weight reproducing the original's `0.001 * l2_loss` scale."""
    return OrthogonalRegularizer.original_scale(batch_size=batch_size).weight
