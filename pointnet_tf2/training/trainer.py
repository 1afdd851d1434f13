"""The trainer shared by the three tasks: data, model, compile, fit, test.

The set-up of a run (configuration, data, model, run folder) lives in
`pointnet_tf2.training.run_setup`, shared with the multi-worker loop; its
names are importable from here as well.
"""

import dataclasses
import functools
import json
import os
import time

from pointnet_tf2.checkpoints import CONFIG_FILE
from pointnet_tf2.checkpoints import load_checkpoint  # noqa: F401  (re-exported)
from pointnet_tf2.checkpoints import load_run_config  # noqa: F401  (re-exported)
from pointnet_tf2.data.sequence import PointCloudSequence
from pointnet_tf2.evaluation import evaluate
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.kinds import output_names
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training import callbacks as cb
from pointnet_tf2.training import distribute as dist
from pointnet_tf2.training import families
from pointnet_tf2.training.callbacks import locked_run_folder
from pointnet_tf2.training.multi_worker import train_multi_worker
from pointnet_tf2.training.recipes import recipe_line
from pointnet_tf2.training.run_setup import LR_SCHEDULES  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import MIN_BATCH_NORM_BATCH  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import MIN_LEARNING_RATE  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import ORIGINAL_SETTINGS  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import RESUME_DATASET  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import RESUME_SETTINGS  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import SMALL_BATCH_NORM_BATCH  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import TrainConfig  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import _log
from pointnet_tf2.training.run_setup import _visuals
from pointnet_tf2.training.run_setup import build_model
from pointnet_tf2.training.run_setup import check_batch_norm_batch
from pointnet_tf2.training.run_setup import check_run_folder
from pointnet_tf2.training.run_setup import compile_model
from pointnet_tf2.training.run_setup import divergence_guard
from pointnet_tf2.training.run_setup import input_channels
from pointnet_tf2.training.run_setup import open_training_data
from pointnet_tf2.training.run_setup import resolve_data
from pointnet_tf2.training.run_setup import resume_mismatch  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import run_validation_rows  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import save_run_config
from pointnet_tf2.training.run_setup import summary_line
from pointnet_tf2.training.run_setup import validation_rows
from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils.errors import first_line


def _one_run_per_log_dir(train_function):
    """Runs `train(config)` holding the run lock of its `--log_dir` (see `callbacks.locked_run_folder`).

    A second run into the same folder is refused while the first is alive;
    a folder left by a killed run is recovered first. Multi-worker runs lock
    on the chief, in `pointnet_tf2.training.multi_worker`.
    """

    @functools.wraps(train_function)
    def locked(config):
        resolved = config.resolved()
        if resolved.distribute == "multi_worker":
            return train_function(config)
        with locked_run_folder(os.path.abspath(resolved.log_dir), log=lambda line: _log(resolved, line)):
            return train_function(config)

    return locked


@_one_run_per_log_dir
def train(config):
    """Trains a model as the original scripts did, with checkpoints and TensorBoard.

    Args:
        config: A `TrainConfig`.

    Returns:
        A dict with the best validation value, the checkpoint paths and the
        final test results (if `config.test`).

    Raises:
        ValueError: On bad arguments, a bad dataset, or a resume that does
            not match the run in `log_dir`.
        FileNotFoundError: If the data or the checkpoint to resume is missing.
    """
    import keras

    config = config.resolved()
    if config.distribute == "multi_worker":  # model.fit fails under MultiWorkerMirroredStrategy (keras#20585)
        return train_multi_worker(config)
    config = dataclasses.replace(config, distribute=dist.resolve_mode(config.distribute))
    strategy = dist.create_strategy(config.distribute)
    per_replica = dist.replica_batch_size(config.batch_size, dist.num_replicas(strategy))
    task = get_task(config.task)
    data = resolve_data(task.name, config.data, verbose=config.verbose)
    description = open_training_data(config, data)
    if config.num_point > description.num_points:
        raise ValueError(f"{description.root}: --num_point {config.num_point} is more than the {description.num_points} points stored per cloud")

    log_dir = os.path.abspath(config.log_dir)
    last_path = os.path.join(log_dir, "last.keras")
    state = check_run_folder(config, log_dir, description)

    keras.utils.set_random_seed(config.seed)
    train_indices, val_split, val_indices = validation_rows(description, config)
    channels = input_channels(config, description)
    train_seq = PointCloudSequence(description, batch_size=config.batch_size, num_points=config.num_point,
                                   split="train", indices=train_indices, seed=config.seed, channels=channels,
                                   drop_remainder=True,  # batch norm never sees a runt batch (the original drops it too)
                                   **families.train_sequence_options(config, description))
    val_seq = None
    if val_split is not None:
        val_seq = PointCloudSequence(description, batch_size=config.batch_size, num_points=config.num_point,
                                     split=val_split, indices=val_indices, augment=False, shuffle=False,
                                     sampling="fixed",  # the same seeded points every epoch
                                     channels=channels, **families.eval_sequence_options(config))
    _log(config, f"dataset: {description.summary()}")
    if recipe_line(config):  # the model's original settings, and what of them the zoo cannot apply
        _log(config, recipe_line(config))
    _log(config, f"training on {train_seq.num_samples} clouds, validating on "
                 + (f"{val_seq.num_samples} clouds of the {val_split!r} split" + (" (held out of train)" if val_split == "train" else "")
                    if val_seq is not None else "nothing"))

    with dist.scope(strategy):
        model = compile_model(build_model(config, description), config, description, steps_per_epoch=len(train_seq))
        model.optimizer.build(model.trainable_variables)
    check_batch_norm_batch(model, per_replica, config)
    initial_epoch = 0
    best_value = best_epoch = None
    if config.resume:
        try:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(last_path)
        except ValueError as error:
            raise ValueError(f"{last_path}: does not fit the model {config.model} for this dataset "
                             f"({first_line(error)})") from None
        initial_epoch = int(state["epochs_done"])
        best_value, best_epoch = state.get("best_value"), state.get("best_epoch")
        train_seq.set_epoch(initial_epoch)
        _log(config, f"resuming {log_dir} after epoch {initial_epoch} (optimizer step {int(model.optimizer.iterations.numpy())})")
    save_run_config(config, description, model, os.path.join(log_dir, CONFIG_FILE))

    sync = dist.prepare_model(strategy, model, sync_batch_norm=config.sync_batch_norm)
    _log(config, dist.describe(strategy, config.distribute, config.batch_size, sync_batch_norm=config.sync_batch_norm))
    monitor = task.monitor_key(model_kinds(model)[1], output_names(model))
    monitor = monitor if val_seq is not None else monitor.removeprefix("val_")
    momentum = cb.BatchNormMomentumScheduler(config.batch_size, initial=config.bn_init_decay,
                                             decay_step=config.bn_decay_decay_step,
                                             decay_rate=config.bn_decay_decay_rate, maximum=config.bn_decay_clip)
    checkpoint = cb.AtomicCheckpoint(log_dir, monitor, "max", best_value=best_value, best_epoch=best_epoch)
    precise = []
    if config.precise_bn_batches and strategy is None:
        precise.append(cb.PreciseBatchNorm(train_seq, config.precise_bn_batches))
    elif config.precise_bn_batches:
        _log(config, "precise batch norm: off for distributed runs (the moving averages are kept)")
    callbacks = [
        momentum,
        cb.EpochStatistics(momentum),
        *precise,  # after EpochStatistics: its passes are not counted as training time
        divergence_guard(config, checkpoint),  # before the checkpoint: a diverged epoch is never saved
        checkpoint,
        keras.callbacks.CSVLogger(os.path.join(log_dir, "log.csv"), append=config.resume),
        keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False, update_freq="epoch"),
    ]
    if val_seq is not None and config.visuals_every > 0 and families.wants_visuals(model):
        callbacks.append(_visuals(log_dir, val_seq, description, config))
    if sync is not None and not config.sync_batch_norm:
        callbacks.append(dist.batch_norm_statistics_callback(sync))

    start = time.perf_counter()
    model.fit(train_seq, validation_data=val_seq, epochs=config.max_epoch, initial_epoch=initial_epoch,
              callbacks=callbacks, verbose=config.verbose, shuffle=False)
    result = {
        "log_dir": log_dir,
        "best_checkpoint": checkpoint.best_path,
        "last_checkpoint": checkpoint.last_path,
        "monitor": monitor,
        "best_value": checkpoint.best_value,
        "best_epoch": checkpoint.best_epoch,
        "train_seconds": time.perf_counter() - start,
    }
    if config.test and "test" in description.splits:
        best = keras.saving.load_model(checkpoint.best_path, compile=False)
        results = evaluate(best, description, split="test", num_points=config.num_point,
                           batch_size=config.batch_size, rotation=config.test_rotation, seed=config.seed)
        result["test"] = results
        with atomic_output(os.path.join(log_dir, "test_results.json")) as tmp:
            with open(tmp, "w") as f:
                json.dump(results, f, indent=2)
    _log(config, summary_line(result))
    return result
