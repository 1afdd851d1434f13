"""A model's original training recipe: how the code it comes from trained it, as plain data.

A family states its originals' settings once, as `TrainingRecipe`s, and
registers each with its model (`register_model(..., recipe=...)`); the train
scripts then default to them (`pointnet_tf2.training.recipes`): a flag the
user gives wins, else the recipe's value, else the task's (PointNet's).
PointNet models have no recipe: the tasks' defaults are PointNet's.

This module imports nothing of the package (the models layer may not import
`data` or `training`); the tests check the names below against
`TrainConfig` and `pointnet_tf2.data.augment`.
"""

import dataclasses

# `TrainConfig` fields a recipe may set (the train scripts' flags, in the zoo's
# units: `decay_step` and `bn_decay_decay_step` count samples = steps x batch).
RECIPE_FIELDS = ("num_point", "max_epoch", "batch_size", "optimizer", "momentum", "learning_rate", "lr_schedule",
                 "decay_step", "decay_rate", "bn_init_decay", "bn_decay_decay_rate", "bn_decay_decay_step",
                 "bn_decay_clip", "label_smoothing", "weight_decay")


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """How the original code trains one network.

    Attributes:
        sources: Files of the original repository the values come from.
        config: `TrainConfig` field -> value (keys of `RECIPE_FIELDS`).
            `lr_schedule` is the original's: "staircase" (x `decay_rate`
            every `decay_step` samples) or "cosine".
        augmentation: The training augmentation, in order, as `(class name in
            pointnet_tf2.data.augment, kwargs)`; a `RotateUp` without `axis`
            turns about the data's up axis (y for ModelNet40, z for S3DIS).
        not_applied: Settings of the original the zoo cannot apply: name ->
            value (printed once at the start of a run).
        notes: Quirks of the original runs a faithful reproduction should know.
        differences_from_pointnet: Where the recipe differs from the
            PointNet model of the same task (the task's defaults).
    """

    sources: tuple
    config: dict
    augmentation: tuple = ()
    not_applied: dict = dataclasses.field(default_factory=dict)
    notes: tuple = ()
    differences_from_pointnet: tuple = ()

    def __post_init__(self):
        unknown = sorted(set(self.config) - set(RECIPE_FIELDS))
        if unknown:
            raise ValueError(f"TrainingRecipe: config sets {', '.join(unknown)}, not training fields "
                             f"({', '.join(RECIPE_FIELDS)})")
        for step in self.augmentation:
            if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], str)
                    and isinstance(step[1], dict)):
                raise ValueError(f"TrainingRecipe: an augmentation step must be (class name, kwargs), got {step!r}")

    def train_config_values(self):
        """The `TrainConfig` field values, as a new dict."""
        return dict(self.config)

    def not_applied_text(self):
        """`name=value, ...` of `not_applied`, or "" when the zoo applies everything."""
        return ", ".join(f"{name}={value!r}" for name, value in self.not_applied.items())


def torch_label_smoothing(eps, num_classes):
    """The Keras `label_smoothing` equal to a PyTorch smoothing `eps` that spreads it over the other classes.

    DGCNN's `cal_loss` puts `1 - eps` on the true class and `eps / (C - 1)`
    on each other; Keras puts `1 - s + s / C` and `s / C`. They agree for
    `s = eps * C / (C - 1)` (0.2 at 40 classes: 0.2051...).
    """
    return eps * num_classes / (num_classes - 1)
