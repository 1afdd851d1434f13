"""Callbacks of the trainer: schedules, checkpoints and TensorBoard extras."""

import json
import os
import shutil
import time

import keras
import numpy as np

from pointnet_tf2.training.schedules import bn_momentum
from pointnet_tf2.utils import atomic_output

STATE_FILE = "training_state.json"


def batch_norm_layers(model):
    """Returns every BatchNormalization layer of a model, nested ones included."""
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.BatchNormalization)]


class BatchNormMomentumScheduler(keras.callbacks.Callback):
    """Applies the original's BN-momentum schedule to every BatchNormalization layer.

    The momentum follows `pointnet_tf2.training.schedules.bn_momentum` of the
    samples seen (optimizer iterations x batch size). Keras bakes a layer's
    momentum into the traced train step, so when the staircase moves (a few
    times per run) the train function is traced again.

    Args:
        batch_size: Samples per optimizer step.
        initial: Momentum at the start (original: 0.5).
        decay_step: Samples between two steps (original cls: 200,000).
        decay_rate: Factor on `1 - momentum` per step (original: 0.5).
        maximum: Upper bound (original: 0.99).
    """

    def __init__(self, batch_size, *, initial=0.5, decay_step=200_000, decay_rate=0.5, maximum=0.99):
        super().__init__()
        self.batch_size = int(batch_size)
        self.schedule = dict(initial=initial, decay_step=decay_step, decay_rate=decay_rate, maximum=maximum)
        self.current = None

    def momentum_at(self, step):
        """Returns the momentum after `step` optimizer steps."""
        return bn_momentum(step * self.batch_size, **self.schedule)

    def _apply(self, retrace):
        step = int(self.model.optimizer.iterations.numpy())
        momentum = self.momentum_at(step)
        if momentum == self.current:
            return
        for layer in batch_norm_layers(self.model):
            layer.momentum = momentum
        self.current = momentum
        if retrace:
            self.model.make_train_function(force=True)

    def on_train_begin(self, logs=None):
        self._apply(retrace=True)

    def on_train_batch_begin(self, batch, logs=None):
        self._apply(retrace=True)


class EpochStatistics(keras.callbacks.Callback):
    """Adds learning rate, BN momentum, regulariser loss and steps/s to the epoch logs.

    `steps_per_second` counts the epoch's optimizer steps over the time spent
    training them: the clock stops when the validation pass begins (or at
    the end of the epoch without one). Put it before the TensorBoard and CSV
    callbacks so they record the values.
    """

    def __init__(self, momentum_scheduler=None):
        super().__init__()
        self.momentum_scheduler = momentum_scheduler
        self._start = None
        self._training_seconds = None
        self._first_step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._training_seconds = None
        # Optimizer steps, not batch callbacks: with steps_per_execution > 1
        # Keras calls the batch callbacks once per execution.
        self._first_step = int(self.model.optimizer.iterations.numpy())

    def on_test_begin(self, logs=None):
        # fit() validates through evaluate(), which reports here: the epoch's training ends.
        if self._start is not None and self._training_seconds is None:
            self._training_seconds = time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        start, self._start = self._start, None
        if logs is None:
            return
        # Both values are the ones the next optimizer step will use.
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if self.momentum_scheduler is not None:
            logs["bn_momentum"] = float(self.momentum_scheduler.momentum_at(int(optimizer.iterations.numpy())))
        elapsed = self._training_seconds
        if elapsed is None:
            elapsed = time.perf_counter() - (start or time.perf_counter())
        steps = int(optimizer.iterations.numpy()) - self._first_step
        if elapsed > 0 and steps:
            logs["steps_per_second"] = steps / elapsed


class TrainingDiverged(ValueError):
    """Raised by `DivergenceGuard` when the training loss is non-finite or explodes."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops a run whose training loss becomes non-finite or explodes.

    Raising from inside `fit` ends the run before the callbacks after this
    one see the bad epoch: put it before `AtomicCheckpoint`, so neither
    `last.keras` nor `best.keras` is written from diverged weights.

    Args:
        factor: The run stops when an epoch's mean training loss exceeds
            `factor` times the lowest epoch mean so far (0 disables this
            check; non-finite losses always stop the run).
        checkpoint_hint: Text naming the checkpoint that stays intact, added
            to the message.
    """

    def __init__(self, factor=5.0, checkpoint_hint=""):
        super().__init__()
        if not factor >= 0:
            raise ValueError(f"--divergence_factor must be >= 0, got {factor!r}")
        self.factor = float(factor)
        self.checkpoint_hint = checkpoint_hint
        self.lowest = None  # (loss, 1-based epoch)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def _stop(self, why):
        hint = f"; {self.checkpoint_hint}" if self.checkpoint_hint else ""
        raise TrainingDiverged(f"epoch {self._epoch}: {why}: training diverged and was stopped{hint}; "
                               "try a lower --learning_rate")

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            self._stop(f"the training loss is {float(loss)} at step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None:
            self.check_epoch(epoch, loss)

    def check_epoch(self, epoch, loss):
        """Checks the mean training loss of epoch `epoch` (0-based).

        Raises:
            TrainingDiverged: If it is non-finite or exploded.
        """
        self._epoch = epoch + 1
        loss = float(loss)
        if not np.isfinite(loss):
            self._stop(f"the training loss is {loss}")
        if self.lowest is not None and self.factor > 0 and loss > self.factor * self.lowest[0]:
            self._stop(f"the training loss {loss:.4g} is more than {self.factor:g}x the lowest epoch loss "
                       f"{self.lowest[0]:.4g} (epoch {self.lowest[1]})")
        if self.lowest is None or loss < self.lowest[0]:
            self.lowest = (loss, epoch + 1)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` on improvement, atomically.

    Each file is written under a temporary name and renamed when complete, so
    a crash, a kill or a full disk never leaves a truncated checkpoint or
    replaces a good one. After the checkpoints, a small JSON state
    (`training_state.json`: epochs done, best value and epoch) is written the
    same way; `--resume` reads it.

    Args:
        directory: Folder of the checkpoints.
        monitor: Log key of the metric deciding the best checkpoint.
        mode: "max" or "min".
        best_value: Best value so far (when resuming).
        best_epoch: Epoch (1-based) of the best value so far.
    """

    def __init__(self, directory, monitor, mode="max", best_value=None, best_epoch=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.directory = directory
        self.monitor = monitor
        self.mode = mode
        self.best_value = best_value
        self.best_epoch = best_epoch

    @property
    def last_path(self):
        return os.path.join(self.directory, "last.keras")

    @property
    def best_path(self):
        return os.path.join(self.directory, "best.keras")

    def _improved(self, value):
        if value is None or not np.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.mode == "max" else value < self.best_value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        with atomic_output(self.last_path) as tmp:
            self.model.save(tmp)
        if self._improved(value) or not os.path.exists(self.best_path):
            if self._improved(value):
                self.best_value, self.best_epoch = float(value), epoch + 1
            with atomic_output(self.best_path) as tmp:
                shutil.copyfile(self.last_path, tmp)
        write_state(
            self.directory,
            {"epochs_done": epoch + 1, "monitor": self.monitor, "mode": self.mode,
             "best_value": self.best_value, "best_epoch": self.best_epoch},
        )


def write_state(directory, state):
    """Writes the training state JSON atomically."""
    with atomic_output(os.path.join(directory, STATE_FILE)) as tmp:
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2)


def read_state(directory):
    """Reads the training state JSON, or returns None when there is none.

    Raises:
        ValueError: If the file exists but is not valid JSON with `epochs_done`.
    """
    path = os.path.join(directory, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        int(state["epochs_done"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a valid training state ({error})") from None
    return state


class ValidationVisuals(keras.callbacks.Callback):
    """Logs a confusion-matrix image and coloured point clouds to TensorBoard.

    Every `every` epochs (and at the last one) the model predicts the whole
    validation sequence; the confusion matrix is logged as an image
    ("confusion_matrix"), and the first `num_clouds` clouds are logged with
    the mesh plugin twice, coloured by the prediction ("cloud_i/prediction")
    and by the ground truth ("cloud_i/ground_truth"). For part segmentation
    the prediction is restricted to the ground-truth category's parts, as in
    the evaluation protocol.

    Args:
        log_dir: TensorBoard log folder (events go to `<log_dir>/validation`).
        sequence: The validation `PointCloudSequence` (not augmented).
        class_names: Names of the classes (or overall parts).
        every: Epoch period.
        num_clouds: How many clouds to log.
        category_parts: For part segmentation, category -> overall part ids.
    """

    def __init__(self, log_dir, sequence, class_names, *, every=10, num_clouds=3, category_parts=None):
        super().__init__()
        self.log_dir = os.path.join(log_dir, "validation")
        self.sequence = sequence
        self.class_names = list(class_names)
        self.every = max(1, int(every))
        self.num_clouds = int(num_clouds)
        self.category_parts = category_parts
        self._writer = None
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def _predict(self, inputs, targets):
        out = self.model(inputs, training=False)
        if isinstance(out, dict):
            out = np.asarray(out["parts"])
            categories, labels = np.asarray(targets["category"]), np.asarray(targets["parts"])
            masked = np.full_like(out, -np.inf)
            for i, category in enumerate(categories):
                parts = self.category_parts[int(category)]
                masked[i, :, parts] = out[i, :, parts]
            return np.argmax(masked, axis=-1), labels
        return np.argmax(np.asarray(out), axis=-1), np.asarray(targets)

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        import tensorflow as tf
        from tensorboard.plugins.mesh import summary_v2 as mesh_summary

        from pointnet_tf2.viz import confusion_matrix_png
        from pointnet_tf2.viz import label_colors

        num_classes = len(self.class_names)
        confusion = np.zeros((num_classes, num_classes), np.int64)
        first = None
        for index in range(len(self.sequence)):
            inputs, targets = self.sequence[index]
            predictions, labels = self._predict(inputs, targets)
            confusion += np.bincount(labels.ravel().astype(np.int64) * num_classes + predictions.ravel(),
                                     minlength=num_classes**2).reshape(num_classes, num_classes)
            if first is None:
                first = (inputs["points"] if isinstance(inputs, dict) else inputs, predictions, labels)
        png = confusion_matrix_png(confusion, self.class_names, title=f"validation, epoch {epoch + 1}")
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        points, predictions, labels = first
        config = {"material": {"cls": "PointsMaterial", "size": 0.03}}
        with self._writer.as_default(step=epoch):
            tf.summary.image("confusion_matrix", tf.image.decode_png(png)[None], step=epoch)
            for i in range(min(self.num_clouds, len(points))):
                xyz = np.asarray(points[i, :, :3], dtype=np.float32)[None]
                for kind, values in (("prediction", predictions[i]), ("ground_truth", labels[i])):
                    colors = label_colors(np.broadcast_to(values, xyz.shape[1:2]))[None]
                    mesh_summary.mesh(f"cloud_{i}/{kind}", vertices=xyz, colors=colors, config_dict=config, step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
