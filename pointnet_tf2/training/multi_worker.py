"""Multi-worker training: a custom loop over `MultiWorkerMirroredStrategy`.

Keras 3.15's `model.fit` fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585), so `--distribute multi_worker` trains with this
loop instead. It keeps the single-device trainer's feature set and formats:
the same model, loss (`model.compute_loss`, regulariser included), optimizer
and `StaircaseDecay` schedule, the BN-momentum staircase, the compiled Keras
metrics (plus `loss` and `regularization_loss`), and on the chief only
`log.csv`, TensorBoard events, `last.keras`/`best.keras` and
`training_state.json` written by the trainer's own callbacks, and the final
test evaluation. `--resume` works as for one device; only the chief needs the
run folder (it loads the checkpoint and broadcasts it to the other workers).

Data: worker `k` of `W` trains on positions `k, k + W, k + 2W, ...` of the
training rows (`distribute.shard_positions`), so no cloud is seen twice in
an epoch across workers. Each step every worker takes `batch_size / W` clouds
of its own shard; all workers run `floor(floor(n / W) / (batch_size / W))`
steps per epoch (full global batches; the few clouds left over change every
epoch with the shuffle). Each worker shuffles and augments its shard with its
own seed.

Validation is sharded the same way: each worker evaluates its shard of the
validation rows with a single-device copy of the current weights, the metric
states (sums, counts, confusion matrices) are summed over the workers, and
the results are exactly those of evaluating the whole validation split. A
hold-out of the training split is read with `sampling="fixed"` (a seeded
point subset per cloud, the same on any worker and in every epoch) where the
one-device trainer draws a new random subset per batch.
"""

import concurrent.futures
import contextlib
import json
import os
import time

import numpy as np

from pointnet_tf2.data.sequence import PointCloudSequence
from pointnet_tf2.evaluation import evaluate
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.kinds import output_names
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training import callbacks as cb
from pointnet_tf2.training import distribute as dist
from pointnet_tf2.training import families
from pointnet_tf2.training import run_setup
from pointnet_tf2.training.callbacks import batch_norm_layers
from pointnet_tf2.training.recipes import recipe_line
from pointnet_tf2.utils import atomic_output


def train_multi_worker(config):
    """Trains one worker's part of a multi-worker run (every worker runs this).

    The strategy is created first, before TensorFlow runs anything else.

    Args:
        config: A `TrainConfig` with `distribute="multi_worker"`.

    Returns:
        The result dict of `pointnet_tf2.training.run_setup.train` (checkpoint
        paths and test results are filled in on the chief), plus `worker_index`,
        `num_workers` and `shard_rows` (the dataset rows this worker trained on).

    Raises:
        ValueError: On bad arguments, data or `TF_CONFIG`.
        WorkerFailureError: If a peer died, froze or was unreachable; the
            chief's last checkpoint is kept and `--resume` continues from it.
    """
    config = config.resolved()
    cluster = dist.read_tf_config()
    strategy = dist.create_strategy("multi_worker")
    progress = {"epochs_done": None}
    try:
        with contextlib.ExitStack() as held:  # the chief's run lock, for the whole run
            return _train(config, strategy, cluster, progress, held)
    except dist.collective_errors() as error:
        done = progress["epochs_done"]
        where = os.path.join(os.path.abspath(config.log_dir), "last.keras")
        raise dist.WorkerFailureError(
            f"worker {cluster.worker_index} of {cluster.num_workers}: training stopped because another worker "
            f"failed or could not be reached ({type(error).__name__}: {dist.first_line(error)}). "
            + (f"{done} epoch(s) were complete; " if done is not None else "")
            + f"the chief's last checkpoint {where} is kept: restart every worker with --resume to continue"
        ) from None


def _log(config, cluster, message, *, everyone=False):
    if config.verbose and (cluster.is_chief or everyone):
        prefix = "" if cluster.num_workers == 1 else f"[worker {cluster.worker_index}/{cluster.num_workers}] "
        print(prefix + message, flush=True)


def _split_positions(description, split, indices):
    return np.arange(len(description.split_rows(split)), dtype=np.int64) if indices is None else np.asarray(indices)


def _train(config, strategy, cluster, progress, held):
    import keras

    task = get_task(config.task)
    chief = cluster.is_chief
    workers, rank = cluster.num_workers, cluster.worker_index
    replicas = strategy.num_replicas_in_sync
    local = len(strategy.extended.worker_devices)
    per_replica = dist.replica_batch_size(config.batch_size, replicas)
    per_worker = per_replica * local
    data = run_setup.resolve_data(task.name, config.data, verbose=config.verbose if chief else 0)
    description = run_setup.open_training_data(config, data)
    if config.num_point > description.num_points:
        raise ValueError(f"{description.root}: --num_point {config.num_point} is more than the "
                         f"{description.num_points} points stored per cloud")
    log_dir = os.path.abspath(config.log_dir)
    last_path = os.path.join(log_dir, "last.keras")

    # The chief alone checks the run folder; everybody learns the verdict (and
    # waits for all workers to be up) in the first collective.
    refusal = None
    state = None
    if chief:
        try:
            held.enter_context(cb.locked_run_folder(log_dir, log=lambda line: _log(config, cluster, line)))
            state = run_setup.check_run_folder(config, log_dir, description)
        except (ValueError, OSError) as error:
            refusal = error

    keras.utils.set_random_seed(config.seed)
    train_indices, val_split, val_indices = run_setup.validation_rows(description, config)
    train_positions = _split_positions(description, "train", train_indices)
    shard = dist.shard_positions(train_positions, workers, rank)
    steps = (len(train_positions) // workers) // per_worker
    if steps == 0:
        raise ValueError(f"{description.root}: {len(train_positions)} training clouds over {workers} workers "
                         f"make no full global batch of {config.batch_size}")
    channels = run_setup.input_channels(config, description)
    options = families.train_sequence_options(config, description)
    if "sampler" in options:
        raise ValueError(f"--model {config.model}: class-balanced (P x K) batches are not supported with "
                         "--distribute multi_worker; use mirrored or none")
    train_seq = PointCloudSequence(description, batch_size=per_worker, num_points=config.num_point, split="train",
                                   indices=shard, seed=config.seed * workers + rank, drop_remainder=True,
                                   channels=channels, **options)
    val_seq = full_val_seq = None
    if val_split is not None:
        val_positions = _split_positions(description, val_split, val_indices)
        val_shard = dist.shard_positions(val_positions, workers, rank)
        if len(val_shard) == 0:
            raise ValueError(f"{description.root}: {len(val_positions)} validation clouds cannot be shared by "
                             f"{workers} workers")
        val_options = dict(augment=False, shuffle=False, channels=channels, **families.eval_sequence_options(config))
        if val_split == "train":  # a hold-out: the same points of a cloud on whichever worker evaluates it
            val_options["sampling"] = "fixed"
        val_seq = PointCloudSequence(description, batch_size=config.batch_size, num_points=config.num_point,
                                     split=val_split, indices=val_shard, **val_options)
        if chief and config.visuals_every > 0:
            full_val_seq = PointCloudSequence(description, batch_size=config.batch_size, num_points=config.num_point,
                                              split=val_split, indices=val_indices, **val_options)

    with strategy.scope():
        model = run_setup.compile_model(run_setup.build_model(config, description), config, description,
                                      steps_per_epoch=steps)
        model.optimizer.build(model.trainable_variables)
    run_setup.check_batch_norm_batch(model, per_replica, config)
    if config.sync_batch_norm:
        dist.set_synchronized_batch_norm(model, local_replicas=local)
    # A one-device copy of the weights for validation (no collectives inside).
    eval_model = run_setup.compile_model(run_setup.build_model(config, description), config, description,
                                       steps_per_epoch=steps)
    sync = dist.ReplicaSync(strategy, model)

    verdict = sync.sum_over_workers([np.array([0.0 if refusal is None else 1.0])])[0]
    if refusal is not None:
        raise refusal
    if verdict[0] > 0:
        raise ValueError("the chief (worker 0) refused to start this run; its log says why")

    initial_epoch, best_value, best_epoch = 0, None, None
    if config.resume:
        if chief:
            try:
                model.load_weights(last_path)
            except ValueError as error:
                raise ValueError(f"{last_path}: does not fit the model {config.model} for this dataset ({error})") from None
        sync.broadcast_training_state()
        initial_epoch, best_value, best_epoch = _share_state(sync, state if chief else None)
        _log(config, cluster, f"resuming {log_dir} after epoch {initial_epoch} "
                              f"(optimizer step {int(model.optimizer.iterations.numpy())})")
    sync.decorrelate_dropout()
    progress["epochs_done"] = initial_epoch
    if chief:
        run_setup.save_run_config(config, description, model, os.path.join(log_dir, run_setup.CONFIG_FILE))

    _log(config, cluster, f"dataset: {description.summary()}")
    if recipe_line(config):
        _log(config, cluster, recipe_line(config))
    _log(config, cluster, dist.describe(strategy, "multi_worker", config.batch_size,
                                        sync_batch_norm=config.sync_batch_norm, num_workers=workers))
    _log(config, cluster, f"training shard: {len(shard)} of {len(train_positions)} clouds, {steps} steps of "
                          f"{per_worker} per epoch; validation shard: "
                          + (f"{val_seq.num_samples} clouds of the {val_split!r} split" if val_seq else "none"),
         everyone=True)

    monitor = task.monitor_key(model_kinds(model)[1], output_names(model))
    monitor = monitor if val_seq is not None else monitor.removeprefix("val_")
    momentum = cb.BatchNormMomentumScheduler(config.batch_size, initial=config.bn_init_decay,
                                             decay_step=config.bn_decay_decay_step,
                                             decay_rate=config.bn_decay_decay_rate, maximum=config.bn_decay_clip)
    checkpoint = None
    callbacks = visuals = None
    if chief:
        checkpoint = cb.AtomicCheckpoint(log_dir, monitor, "max", best_value=best_value, best_epoch=best_epoch)
        callbacks = keras.callbacks.CallbackList(
            [cb.EpochStatistics(momentum), checkpoint,
             keras.callbacks.CSVLogger(os.path.join(log_dir, "log.csv"), append=config.resume),
             keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False, update_freq="epoch")],
            model=model, epochs=config.max_epoch, steps=steps, verbose=0)
        if full_val_seq is not None and families.wants_visuals(model):
            visuals = keras.callbacks.CallbackList([run_setup._visuals(log_dir, full_val_seq, description, config)],
                                                   model=eval_model, epochs=config.max_epoch, steps=steps, verbose=0)

    guard = run_setup.divergence_guard(config, cb.AtomicCheckpoint(log_dir, monitor), resumed_history=False)
    loop = _Loop(strategy, model, momentum, local, per_replica)
    start = time.perf_counter()
    for group in (callbacks, visuals):
        if group is not None:
            group.on_train_begin()
    for epoch in range(initial_epoch, config.max_epoch):
        epoch_start = time.perf_counter()
        train_seq.set_epoch(epoch + 1)  # as model.fit: training epoch e reads sequence epoch e + 1
        model.reset_metrics()
        if callbacks is not None:
            callbacks.on_epoch_begin(epoch)
        for index, batch in _prefetched(train_seq, steps):
            loop.step(batch)
            if callbacks is not None:
                callbacks.on_train_batch_end(index)
        logs = {name: float(value) for name, value in model.get_metrics_result().items()}
        # Every worker judges the same (global mean) loss, so all stop together before any checkpoint.
        guard.check_epoch(epoch, sync.sum_over_workers([np.array([logs["loss"]])])[0][0] / workers)
        if not config.sync_batch_norm:
            sync.average_moving_statistics()
        if val_seq is not None:
            logs.update(_validate(model, eval_model, val_seq, sync))
        if chief:
            callbacks.on_epoch_end(epoch, logs)
            if visuals is not None:
                eval_model.set_weights(model.get_weights())
                visuals.on_epoch_end(epoch, logs)
        progress["epochs_done"] = epoch + 1
        _log(config, cluster, f"epoch {epoch + 1}/{config.max_epoch} ({time.perf_counter() - epoch_start:.1f} s): "
                              + ", ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items())))
    for group in (callbacks, visuals):
        if group is not None:
            group.on_train_end()

    result = {
        "log_dir": log_dir,
        "best_checkpoint": checkpoint.best_path if chief else os.path.join(log_dir, "best.keras"),
        "last_checkpoint": checkpoint.last_path if chief else last_path,
        "monitor": monitor,
        "best_value": checkpoint.best_value if chief else None,
        "best_epoch": checkpoint.best_epoch if chief else None,
        "train_seconds": time.perf_counter() - start,
        "worker_index": rank,
        "num_workers": workers,
        "shard_rows": train_seq.rows.tolist(),
    }
    if chief and config.test and "test" in description.splits:
        best = keras.saving.load_model(checkpoint.best_path, compile=False)
        results = evaluate(best, description, split="test", num_points=config.num_point, batch_size=config.batch_size,
                           rotation=config.test_rotation, seed=config.seed)
        result["test"] = results
        _write_json(os.path.join(log_dir, "test_results.json"), results)
    # Keep every worker up until the chief is done, so none looks crashed to the others.
    sync.barrier(dist.collective_timeout())
    if chief:
        _log(config, cluster, run_setup.summary_line(result))
    else:
        _log(config, cluster, f"done: {config.max_epoch - initial_epoch} epoch(s) of {steps} steps", everyone=True)
    return result


def _share_state(sync, state):
    """Sends the chief's training state to every worker: (epochs done, best value, best epoch)."""
    values = np.zeros(4)
    if state is not None:
        best = state.get("best_value")
        values[:] = [int(state["epochs_done"]), best is not None, best or 0.0, state.get("best_epoch") or 0]
    epochs, has_best, best, best_epoch = sync.sum_over_workers([values])[0]
    return int(epochs), (float(best) if has_best else None), (int(best_epoch) if has_best else None)


def _validate(model, eval_model, sequence, sync):
    """Evaluates this worker's validation shard and sums the metric states over the workers."""
    eval_model.set_weights(model.get_weights())
    eval_model.evaluate(sequence, verbose=0)
    variables = [v for metric in eval_model.metrics for v in metric.variables]
    for variable, total in zip(variables, sync.sum_over_workers([np.asarray(v) for v in variables])):
        variable.assign(total)
    return {"val_" + name: float(value) for name, value in eval_model.get_metrics_result().items()}


def _prefetched(sequence, steps):
    """Yields `(index, batch)` for `index < steps`, reading the next batch in a thread meanwhile."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(sequence.__getitem__, 0)
        for index in range(steps):
            batch = pending.result()
            if index + 1 < steps:
                pending = pool.submit(sequence.__getitem__, index + 1)
            yield index, batch


class _Loop:
    """The distributed train step, traced again whenever the BN momentum moves."""

    def __init__(self, strategy, model, momentum, local, per_replica):
        self.strategy = strategy
        self.model = model
        self.momentum = momentum
        self.local = local
        self.per_replica = per_replica
        self.step_count = int(model.optimizer.iterations.numpy())
        self.current = None
        self._function = None
        self._loss = next(metric for metric in model.metrics if metric.name == "loss")

    def _make_function(self):
        import tensorflow as tf

        model, loss_tracker = self.model, self._loss
        replicas = self.strategy.num_replicas_in_sync

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                # Keras divides the loss by the replica count; gradients are summed.
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
                scaled = model.optimizer.scale_loss(loss)
            size = tf.shape(tf.nest.flatten(x)[0])[0]
            loss_tracker.update_state(loss * replicas, sample_weight=size)
            gradients = tape.gradient(scaled, model.trainable_weights)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_weights))
            model.compute_metrics(x, y, y_pred)

        return tf.function(lambda x, y: self.strategy.run(replica_step, args=(x, y)))

    def _distribute(self, batch):
        import tensorflow as tf

        x, y = batch
        local, size = self.local, self.per_replica

        def part(context):
            k = context.replica_id_in_sync_group % local
            return tf.nest.map_structure(lambda a: tf.constant(a[k * size:(k + 1) * size]), (x, y))

        return self.strategy.experimental_distribute_values_from_function(part)

    def step(self, batch):
        value = self.momentum.momentum_at(self.step_count)
        if value != self.current:
            for layer in batch_norm_layers(self.model):
                layer.momentum = value
            self.current = value
            self._function = self._make_function()
        x, y = self._distribute(batch)
        self._function(x, y)
        self.step_count += 1


def _write_json(path, payload):
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2)
