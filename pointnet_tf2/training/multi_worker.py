"""Multi-worker training: a custom loop over `MultiWorkerMirroredStrategy`.

Keras 3.15's `model.fit` fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585), so `--distribute multi_worker` trains with this
loop instead, around the same run set-up as `fit` (`run_setup.prepare_run`,
`Run`, `finish_run`). It keeps the single-device trainer's feature set and
formats: the same model, loss (`model.compute_loss`, regulariser included),
optimizer and `StaircaseDecay` schedule, the BN-momentum staircase, the
compiled Keras metrics (plus `loss` and `regularization_loss`), and on the
chief only `log.csv`, TensorBoard events, `last.keras`/`best.keras` and
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
point subset per cloud, the same on any worker and in every epoch), as by the
one-device trainer; a "val" or "test" split with its first points per cloud
(the one-device trainer reads the seeded subset there too).
"""

import concurrent.futures
import contextlib
import os
import time

import numpy as np

from pointnet_tf2.training import distribute as dist
from pointnet_tf2.training import run_setup
from pointnet_tf2.training.callbacks import batch_norm_layers


def train_multi_worker(config):
    """Trains one worker's part of a multi-worker run (every worker runs this).

    The strategy is created first, before TensorFlow runs anything else.

    Args:
        config: A `TrainConfig` with `distribute="multi_worker"`.

    Returns:
        The result dict of `pointnet_tf2.training.run_setup.finish_run` (the
        best value and epoch and the test results on the chief), plus `worker_index`,
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


def _split_positions(description, split, indices):
    return np.arange(len(description.split_rows(split)), dtype=np.int64) if indices is None else np.asarray(indices)


def _train(config, strategy, cluster, progress, held):
    import keras

    run = run_setup.prepare_run(config, held, strategy=strategy, cluster=cluster)
    config, description = run.config, run.description
    chief = cluster.is_chief
    workers, rank = cluster.num_workers, cluster.worker_index
    local = len(strategy.extended.worker_devices)
    per_worker = run.per_replica * local
    train_positions = _split_positions(description, "train", run.train_indices)
    shard = dist.shard_positions(train_positions, workers, rank)
    steps = (len(train_positions) // workers) // per_worker
    if steps == 0:
        raise ValueError(f"{description.root}: {len(train_positions)} training clouds over {workers} workers "
                         f"make no full global batch of {config.batch_size}")
    if "sampler" in run.train_options:
        raise ValueError(f"--model {config.model}: class-balanced (P x K) batches are not supported with "
                         "--distribute multi_worker; use mirrored or none")
    train_seq = run.training_sequence(shard, batch_size=per_worker, seed=config.seed * workers + rank)
    val_seq = None
    # A hold-out: the same points of a cloud on whichever worker evaluates it.
    sampling = "fixed" if run.val_split == "train" else None
    if run.val_split is not None:
        val_positions = _split_positions(description, run.val_split, run.val_indices)
        val_shard = dist.shard_positions(val_positions, workers, rank)
        if len(val_shard) == 0:
            raise ValueError(f"{description.root}: {len(val_positions)} validation clouds cannot be shared by "
                             f"{workers} workers")
        val_seq = run.validation_sequence(val_shard, sampling=sampling)

    model = run.build(steps_per_epoch=steps)
    if config.sync_batch_norm:
        dist.set_synchronized_batch_norm(model, local_replicas=local)
    # A one-device copy of the weights for validation (no collectives inside).
    eval_model = run_setup.compile_model(run_setup.build_model(config, description), config, description,
                                         steps_per_epoch=steps)
    sync = dist.ReplicaSync(strategy, model)

    # The chief alone checked the run folder; everybody learns the verdict (and
    # waits for all workers to be up) in the first collective.
    verdict = sync.sum_over_workers([np.array([0.0 if run.refusal is None else 1.0])])[0]
    if run.refusal is not None:
        raise run.refusal
    if verdict[0] > 0:
        raise ValueError("the chief (worker 0) refused to start this run; its log says why")

    if config.resume:
        if chief:
            run.load_last_checkpoint()
        sync.broadcast_training_state()
        run.start_after(*_share_state(sync, run.recorded_start() if chief else None))
    sync.decorrelate_dropout()
    progress["epochs_done"] = run.initial_epoch
    if chief:
        run.save_config()

    run.log(f"dataset: {description.summary()}")
    run.log(dist.describe(strategy, "multi_worker", config.batch_size, sync_batch_norm=config.sync_batch_norm,
                          num_workers=workers))
    run.log(f"training shard: {len(shard)} of {len(train_positions)} clouds, {steps} steps of {per_worker} per "
            "epoch; validation shard: "
            + (f"{val_seq.num_samples} clouds of the {run.val_split!r} split" if val_seq else "none"),
            everyone=True)

    # The chief's visuals predict the whole validation split, with the one-device copy.
    full_val_seq = None
    if chief and run.wants_visuals():
        full_val_seq = run.validation_sequence(run.val_indices, sampling=sampling)
    # Every worker's divergence guard judges the same losses, so none reads the chief's log.csv.
    callbacks = run.make_callbacks(visuals_sequence=full_val_seq, resumed_history=False)
    writers = visuals = None
    if chief:
        writers = keras.callbacks.CallbackList(callbacks.epoch_writers(), model=model, epochs=config.max_epoch,
                                               steps=steps, verbose=0)
        if callbacks.visuals is not None:
            visuals = keras.callbacks.CallbackList([callbacks.visuals], model=eval_model, epochs=config.max_epoch,
                                                   steps=steps, verbose=0)

    loop = _Loop(strategy, model, callbacks.momentum, local, run.per_replica)
    start = time.perf_counter()
    for group in (writers, visuals):
        if group is not None:
            group.on_train_begin()
    for epoch in range(run.initial_epoch, config.max_epoch):
        epoch_start = time.perf_counter()
        train_seq.set_epoch(epoch + 1)  # as model.fit: training epoch e reads sequence epoch e + 1
        model.reset_metrics()
        if writers is not None:
            writers.on_epoch_begin(epoch)
        for index, batch in _prefetched(train_seq, steps):
            loop.step(batch)
            if writers is not None:
                writers.on_train_batch_end(index)
        logs = {name: float(value) for name, value in model.get_metrics_result().items()}
        # Every worker judges the same (global mean) loss, so all stop together before any checkpoint.
        callbacks.guard.check_epoch(epoch, sync.sum_over_workers([np.array([logs["loss"]])])[0][0] / workers)
        if not config.sync_batch_norm:
            sync.average_moving_statistics()
        if val_seq is not None:
            logs.update(_validate(model, eval_model, val_seq, sync))
        if chief:
            writers.on_epoch_end(epoch, logs)
            if visuals is not None:
                eval_model.set_weights(model.get_weights())
                visuals.on_epoch_end(epoch, logs)
        progress["epochs_done"] = epoch + 1
        run.log(f"epoch {epoch + 1}/{config.max_epoch} ({time.perf_counter() - epoch_start:.1f} s): "
                + ", ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items())))
    for group in (writers, visuals):
        if group is not None:
            group.on_train_end()

    # Keep every worker up until the chief is done, so none looks crashed to the others.
    result = run_setup.finish_run(run, time.perf_counter() - start, wait=lambda: sync.barrier(dist.collective_timeout()),
                                  worker_index=rank, num_workers=workers, shard_rows=train_seq.rows.tolist())
    if not chief:
        run.log(f"done: {config.max_epoch - run.initial_epoch} epoch(s) of {steps} steps", everyone=True)
    return result


def _share_state(sync, start):
    """Sends the chief's `(epochs done, best value, best epoch)` to every worker (the others pass None)."""
    values = np.zeros(4)
    if start is not None:
        epochs, best, best_epoch = start
        values[:] = [epochs, best is not None, best or 0.0, best_epoch or 0]
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

