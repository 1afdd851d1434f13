"""The trainer shared by the three tasks: Keras `fit` around the run set-up.

The set-up of a run (configuration, data, model, run folder, callbacks) and
its end (test evaluation, result, summary line) live in
`pointnet_tf2.training.run_setup` (`prepare_run`, `Run`, `finish_run`),
shared with the multi-worker loop; its names are importable from here as
well.
"""

import contextlib
import time

from pointnet_tf2.checkpoints import CONFIG_FILE  # noqa: F401  (re-exported)
from pointnet_tf2.checkpoints import load_checkpoint  # noqa: F401  (re-exported)
from pointnet_tf2.checkpoints import load_run_config  # noqa: F401  (re-exported)
from pointnet_tf2.training import distribute as dist
from pointnet_tf2.training.multi_worker import train_multi_worker
from pointnet_tf2.training.run_setup import LR_SCHEDULES  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import MIN_BATCH_NORM_BATCH  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import MIN_LEARNING_RATE  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import ORIGINAL_SETTINGS  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import RESUME_DATASET  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import RESUME_SETTINGS  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import SMALL_BATCH_NORM_BATCH  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import Run  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import RunCallbacks  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import TrainConfig  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import build_model  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import check_batch_norm_batch  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import check_run_folder  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import compile_model  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import divergence_guard  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import finish_run
from pointnet_tf2.training.run_setup import input_channels  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import open_training_data  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import prepare_run
from pointnet_tf2.training.run_setup import resolve_data  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import resume_mismatch  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import run_validation_rows  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import save_run_config  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import summary_line  # noqa: F401  (re-exported)
from pointnet_tf2.training.run_setup import validation_rows  # noqa: F401  (re-exported)


def train(config):
    """Trains a model as the original scripts did, with checkpoints and TensorBoard.

    The run holds the lock of its `--log_dir` throughout: a second run into
    the same folder is refused while the first is alive, and a folder left
    by a killed run is recovered first (see `callbacks.locked_run_folder`).
    `--distribute multi_worker` trains with the custom loop of
    `pointnet_tf2.training.multi_worker` instead of `fit`.

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
    config = config.resolved()
    if config.distribute == "multi_worker":  # model.fit fails under MultiWorkerMirroredStrategy (keras#20585)
        return train_multi_worker(config)
    with contextlib.ExitStack() as held:
        return _fit(prepare_run(config, held))


def _fit(run):
    """Trains a prepared `Run` with Keras `fit` (one device or `mirrored`) and finishes it."""
    config, description = run.config, run.description
    train_seq = run.training_sequence(run.train_indices, batch_size=config.batch_size, seed=config.seed)
    val_seq = None
    if run.val_split is not None:  # the same seeded points every epoch
        val_seq = run.validation_sequence(run.val_indices, sampling="fixed")
    run.log(f"dataset: {description.summary()}")
    run.log(f"training on {train_seq.num_samples} clouds, validating on "
            + (f"{val_seq.num_samples} clouds of the {run.val_split!r} split"
               + (" (held out of train)" if run.val_split == "train" else "")
               if val_seq is not None else "nothing"))

    model = run.build(steps_per_epoch=len(train_seq))
    if config.resume:
        run.load_last_checkpoint()
        run.start_after(*run.recorded_start())
        train_seq.set_epoch(run.initial_epoch)
    run.save_config()

    sync = dist.prepare_model(run.strategy, model, sync_batch_norm=config.sync_batch_norm)
    run.log(dist.describe(run.strategy, config.distribute, config.batch_size, sync_batch_norm=config.sync_batch_norm))
    callbacks = run.make_callbacks(precise_sequence=train_seq, visuals_sequence=val_seq).for_fit()
    if sync is not None and not config.sync_batch_norm:
        callbacks.append(dist.batch_norm_statistics_callback(sync))

    start = time.perf_counter()
    model.fit(train_seq, validation_data=val_seq, epochs=config.max_epoch, initial_epoch=run.initial_epoch,
              callbacks=callbacks, verbose=config.verbose, shuffle=False)
    return finish_run(run, time.perf_counter() - start)
