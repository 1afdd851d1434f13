"""Callbacks of the trainer: schedules, checkpoints and TensorBoard extras."""

import contextlib
import csv
import io
import json
import os
import re
import shutil
import time

import keras
import numpy as np

from pointnet_tf2.compat import flatten_layers
from pointnet_tf2.training.schedules import bn_momentum
from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils.files import remove_path
from pointnet_tf2.utils.files import remove_stale_temporaries
from pointnet_tf2.utils.locking import run_lock
from pointnet_tf2.viz import confusion_matrix_png
from pointnet_tf2.viz import label_colors

STATE_FILE = "training_state.json"
LAST_CHECKPOINT = "last.keras"
BEST_CHECKPOINT = "best.keras"
LOG_FILE = "log.csv"
# A checkpoint written for an epoch that training_state.json has not committed yet.
_PENDING = re.compile(r"^\.(?P<name>last|best)\.epoch-(?P<epoch>\d+)\.pending\.keras$")


def batch_norm_layers(model):
    """Returns every BatchNormalization layer of a model, nested ones included."""
    return [layer for layer in flatten_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


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


class PreciseBatchNorm(keras.callbacks.Callback):
    """Recomputes every batch-norm layer's moving statistics before validation and checkpoints.

    The moving averages a batch-norm layer keeps during training trail the
    weights: with the original's momentum of 0.5 they are the statistics of
    the last two or three batches (validation then swings by several points
    between epochs), with 0.99 they lag behind weights that still move fast
    (validation stays near chance for epochs on a small dataset). This
    callback replaces them, before each validation pass (or at the end of an
    epoch without one, so checkpoints hold them too), by the mean of the
    batch means and of the (biased) batch variances over `num_batches`
    training batches run through the current weights in training mode: the
    value the moving averages estimate, without their lag or noise ("precise
    batch norm"). Training itself, which uses each batch's own statistics, is
    unchanged.

    Args:
        sequence: The training `PointCloudSequence` (batches are read with
            `sequence[i]`, a pure function of the seed, epoch and index).
        num_batches: Batches to average (at most the sequence's length).
    """

    def __init__(self, sequence, num_batches=16):
        super().__init__()
        if isinstance(num_batches, bool) or not isinstance(num_batches, int) or num_batches < 1:
            raise ValueError(f"--precise_bn_batches must be a positive integer, got {num_batches!r}")
        self.sequence = sequence
        self.num_batches = num_batches
        self._probe = None
        self._done_this_epoch = False

    def _statistics_function(self, layers):
        import tensorflow as tf

        probe = keras.Model(self.model.inputs, [layer.input for layer in layers])

        @tf.function
        def statistics(inputs):
            outputs = probe(inputs, training=True)
            means, variances = [], []
            for value in outputs:
                axes = list(range(len(value.shape) - 1))
                mean, variance = tf.nn.moments(tf.cast(value, "float32"), axes)
                means.append(mean)
                variances.append(variance)
            return means, variances

        return statistics

    def recompute(self):
        """Sets the moving statistics from the current weights (see the class docstring)."""
        layers = batch_norm_layers(self.model)
        if not layers:
            return
        if self._probe is None:
            self._probe = self._statistics_function(layers)
        count = min(self.num_batches, len(self.sequence))
        sums = None
        for index in range(count):
            inputs, _ = self.sequence[index]
            means, variances = self._probe(inputs)
            values = [np.asarray(v, np.float64) for v in (*means, *variances)]
            sums = values if sums is None else [a + b for a, b in zip(sums, values)]
        for i, layer in enumerate(layers):
            layer.moving_mean.assign((sums[i] / count).astype(np.float32))
            layer.moving_variance.assign((sums[len(layers) + i] / count).astype(np.float32))

    def on_epoch_begin(self, epoch, logs=None):
        self._done_this_epoch = False

    def on_test_begin(self, logs=None):
        # fit() validates through evaluate(): the epoch's training is over.
        if not self._done_this_epoch:
            self.recompute()
            self._done_this_epoch = True

    def on_epoch_end(self, epoch, logs=None):
        if not self._done_this_epoch:
            self.recompute()
            self._done_this_epoch = True


class TrainingDiverged(ValueError):
    """Raised by `DivergenceGuard` when the training loss is non-finite or explodes."""


def logged_losses(directory):
    """The `loss` column of a run folder's `log.csv` (empty without one)."""
    try:
        with open(os.path.join(directory, LOG_FILE), newline="") as f:
            return [float(row["loss"]) for row in csv.DictReader(f) if row.get("loss")]
    except (OSError, ValueError, KeyError):
        return []


class DivergenceGuard(keras.callbacks.Callback):
    """Stops a run whose training loss becomes non-finite or explodes.

    Raising from inside `fit` ends the run before the callbacks after this
    one see the bad epoch: put it before `AtomicCheckpoint`, so neither
    `last.keras` nor `best.keras` is written from diverged weights.

    Args:
        factor: The run stops when an epoch's mean training loss exceeds
            both `factor` times the lowest epoch mean so far and the first
            epoch's mean (a loss back above where training started, not the
            noise of a loss near 0); 0 disables this check. Non-finite
            losses always stop the run.
        checkpoint_hint: Text naming the checkpoint that stays intact, added
            to the message.
        history: Mean training losses of the epochs already done (a resumed
            run), so the first and the lowest loss are the run's, not those
            of the resumed part.
    """

    def __init__(self, factor=5.0, checkpoint_hint="", history=()):
        super().__init__()
        if not factor >= 0:
            raise ValueError(f"--divergence_factor must be >= 0, got {factor!r}")
        self.factor = float(factor)
        self.checkpoint_hint = checkpoint_hint
        self.lowest = None  # (loss, 1-based epoch)
        self.first = None
        self._epoch = 0
        for epoch, loss in enumerate(history):
            self._remember(epoch, float(loss))

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
        if self.lowest is not None and self.factor > 0 and loss > max(self.factor * self.lowest[0], self.first):
            self._stop(f"the training loss {loss:.4g} is more than {self.factor:g}x the lowest epoch loss "
                       f"{self.lowest[0]:.4g} (epoch {self.lowest[1]}) and above the first epoch's {self.first:.4g}")
        self._remember(epoch, loss)

    def _remember(self, epoch, loss):
        if self.first is None:
            self.first = loss
        if np.isfinite(loss) and (self.lowest is None or loss < self.lowest[0]):
            self.lowest = (loss, epoch + 1)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` on improvement, atomically and consistently.

    The files of an epoch are committed together: the checkpoints are first
    written under hidden pending names (`.last.epoch-000007.pending.keras`),
    then a small JSON state (`training_state.json`: epochs done, best value
    and epoch, the epoch's logs and which pending files it commits) is
    written atomically, and then the pending files are renamed into place.
    A crash, a kill or a full disk never leaves a truncated checkpoint or
    replaces a good one, and `recover_run_folder` (run before `--resume`)
    finishes the renames of a committed epoch and drops those of an epoch
    that was not committed, so `last.keras`, `best.keras` and the state
    always describe the same epoch.

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
        return os.path.join(self.directory, LAST_CHECKPOINT)

    @property
    def best_path(self):
        return os.path.join(self.directory, BEST_CHECKPOINT)

    def _improved(self, value):
        if value is None or not np.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.mode == "max" else value < self.best_value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        done = epoch + 1
        value = logs.get(self.monitor)
        improved = self._improved(value)
        names = [LAST_CHECKPOINT]
        if improved or not os.path.exists(self.best_path):
            names.append(BEST_CHECKPOINT)
        pending = {name: os.path.join(self.directory, pending_name(name, done)) for name in names}
        try:
            self.model.save(pending[LAST_CHECKPOINT])
            if BEST_CHECKPOINT in pending:
                shutil.copyfile(pending[LAST_CHECKPOINT], pending[BEST_CHECKPOINT])
            best_value, best_epoch = (float(value), done) if improved else (self.best_value, self.best_epoch)
            write_state(self.directory, {
                "epochs_done": done, "monitor": self.monitor, "mode": self.mode, "best_value": best_value,
                "best_epoch": best_epoch, "pending": names, "logs": _json_logs(logs),
            })  # fmt: skip
        except BaseException:
            if _committed_epoch(self.directory) == done:  # interrupted just after the commit
                _commit_pending(self.directory, done, names)
            else:
                for path in pending.values():
                    remove_path(path)
            raise
        self.best_value, self.best_epoch = best_value, best_epoch
        _commit_pending(self.directory, done, names)


def pending_name(name, epoch):
    """The hidden name of checkpoint `name` ("last.keras") of `epoch` before its epoch is committed."""
    return f".{name.removesuffix('.keras')}.epoch-{epoch:06d}.pending.keras"


def _committed_epoch(directory):
    try:
        state = read_state(directory)
    except ValueError:
        return None
    return None if state is None else int(state["epochs_done"])


def _commit_pending(directory, epoch, names):
    for name in names:
        path = os.path.join(directory, pending_name(name, epoch))
        if os.path.exists(path):
            os.replace(path, os.path.join(directory, name))


def _json_logs(logs):
    out = {}
    for key, value in logs.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


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


def recover_run_folder(directory):
    """Brings a run folder left by a killed run back to its last committed epoch.

    Call it holding the folder's run lock (`locked_run_folder`), so no live
    run's files are touched. It removes the temporaries of killed writes
    (`pointnet_tf2.utils.files.remove_stale_temporaries`), renames the
    pending checkpoints of the epoch `training_state.json` committed into
    place and deletes those of an uncommitted epoch, and repairs `log.csv`:
    a torn last line and rows of uncommitted epochs are dropped, and the
    row of the committed epoch is added from the state if the run died
    before writing it. A folder without a run is left alone.

    Args:
        directory: The run folder.

    Returns:
        A list of lines saying what was repaired (empty if nothing was).

    Raises:
        ValueError: If `training_state.json` is not valid.
    """
    if not os.path.isdir(directory):
        return []
    notes = [f"removed the temporary {name} of a killed run" for name in remove_stale_temporaries(directory)]
    state = read_state(directory)
    done = int(state["epochs_done"]) if state is not None else None
    committed = state.get("pending", []) if state is not None else []
    for name in sorted(os.listdir(directory)):
        match = _PENDING.match(name)
        if match is None:
            continue
        target = f"{match['name']}.keras"
        if int(match["epoch"]) == done and target in committed:
            os.replace(os.path.join(directory, name), os.path.join(directory, target))
            notes.append(f"finished writing {target} of epoch {done}")
        else:
            remove_path(os.path.join(directory, name))
            notes.append(f"removed {name}: its epoch {int(match['epoch'])} was never committed")
    if state is not None and _repair_log(directory, done, state.get("logs")):
        notes.append(f"repaired {LOG_FILE} to hold epochs 1..{done} once each")
    return notes


def _csv_line(fields):
    buffer = io.StringIO()
    csv.writer(buffer).writerow(fields)  # the excel dialect, as keras.callbacks.CSVLogger
    return buffer.getvalue()


def _repair_log(directory, done, last_logs):
    """Makes `log.csv` hold one row per committed epoch, numbered 0..done-1 as CSVLogger does.

    Drops torn lines and rows of epochs that were not committed (or seen
    twice), and adds the last committed epoch's row from `last_logs` if the
    run died before writing it. Returns whether the file was rewritten.
    """
    path = os.path.join(directory, LOG_FILE)
    header, rows, changed = None, {}, False
    if os.path.exists(path):
        with open(path, newline="") as f:
            lines = f.read().splitlines(keepends=True)
        if lines and lines[0].endswith("\n"):
            header = next(csv.reader([lines[0]]))
        changed = bool(lines) and header is None
        for line in lines[1:]:
            fields = next(csv.reader([line]), [])
            epoch = int(fields[0]) if fields and fields[0].isdigit() else None
            whole = header is not None and line.endswith("\n") and len(fields) == len(header)
            if whole and epoch is not None and epoch < done and epoch not in rows:
                rows[epoch] = line
            else:
                changed = True  # torn by a kill, or of an epoch that was not committed
    elif done != 1:
        return False  # no log to repair (the first epoch's row is added below)
    if done - 1 not in rows and last_logs and (rows or done == 1):
        header = header or ["epoch", *sorted(last_logs)]
        rows[done - 1] = _csv_line([done - 1] + [last_logs.get(key, "NA") for key in header[1:]])
        changed = True
    if not changed:
        return False
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            if header is not None:
                f.write(_csv_line(header) + "".join(rows[epoch] for epoch in sorted(rows)))
    return True


@contextlib.contextmanager
def locked_run_folder(log_dir, *, log=None):
    """Holds the run lock of `log_dir` for a whole run, after recovering it from a killed run.

    Args:
        log_dir: The run folder (created if missing; removed again if the
            run fails before writing anything into it).
        log: Optional function taking one line (what was taken over or repaired).

    Yields:
        The `pointnet_tf2.utils.locking.RunLock`.

    Raises:
        pointnet_tf2.utils.locking.FolderLockedError: If another live run holds it.
    """
    with run_lock(log_dir, what="log folder") as lock:
        notes = recover_run_folder(log_dir)
        if lock.stale_holder:
            notes.insert(0, f"took over the lock of a run that died ({lock.stale_holder})")
        for note in notes:
            if log is not None:
                log(f"{log_dir}: {note}")
        yield lock


class ValidationVisuals(keras.callbacks.Callback):
    """Logs a confusion-matrix image and coloured point clouds to TensorBoard.

    Every `every` epochs (and at the last one) the model predicts the whole
    validation sequence; the confusion matrix is logged as an image
    ("confusion_matrix"), and the first `num_clouds` clouds are logged with
    the mesh plugin twice, coloured by the prediction ("cloud_i/prediction")
    and by the ground truth ("cloud_i/ground_truth"). Where the task's
    targets carry a category (part segmentation) the prediction is restricted
    to the ground-truth category's parts, as in the evaluation protocol.

    Args:
        log_dir: TensorBoard log folder (events go to `<log_dir>/validation`).
        sequence: The validation `PointCloudSequence` (not augmented).
        class_names: Names of the classes (or overall parts).
        task: The run's `pointnet_tf2.tasks.Task`: which output holds the
            logits (`logits_of`) and what the targets hold (`split_targets`).
        every: Epoch period.
        num_clouds: How many clouds to log.
        category_parts: With categories, category -> overall part ids.
    """

    def __init__(self, log_dir, sequence, class_names, *, task, every=10, num_clouds=3, category_parts=None):
        super().__init__()
        self.task = task
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
        """`(predicted labels, true labels)` of a batch."""
        logits = np.asarray(self.task.logits_of(self.model(inputs, training=False)))
        labels, categories = self.task.split_targets(targets)
        if categories is not None:  # only the parts of the cloud's category
            masked = np.full_like(logits, -np.inf)
            for i, category in enumerate(np.asarray(categories)):
                parts = self.category_parts[int(category)]
                masked[i, :, parts] = logits[i, :, parts]
            logits = masked
        return np.argmax(logits, axis=-1), np.asarray(labels)

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        import tensorflow as tf
        from tensorboard.plugins.mesh import summary_v2 as mesh_summary

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
