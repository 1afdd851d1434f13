"""Training on several devices and hosts with `tf.distribute`.

Three modes (`--distribute`):

- `none`: the default strategy, one device.
- `mirrored`: `tf.distribute.MirroredStrategy` over every visible GPU (or,
  without GPUs, every logical CPU device) of one host, trained by `model.fit`.
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy` over the hosts
  named in `TF_CONFIG`, trained by the custom loop of
  `pointnet_tf2.training.multi_worker` (Keras 3.15's `model.fit` fails under
  this strategy, keras-team/keras#20585).

`--batch_size` is always the GLOBAL batch: each optimizer step averages the
gradients of `batch_size` clouds, split evenly over the replicas, so the
schedules (which count `step * batch_size` samples) and the regulariser scale
are those of a single-device run with the same batch size.

Fault behaviour of `multi_worker` (see `create_strategy`): every process waits
at most `$POINTNET_TF2_STARTUP_TIMEOUT` seconds (default 600) for all workers
to join; TensorFlow's coordination service notices a dead or frozen peer
within about 10 s through its heartbeats and aborts the collectives of the
others; and each collective fails after `$POINTNET_TF2_COLLECTIVE_TIMEOUT`
seconds (default 1800) as a last resort. Such failures surface as
`WorkerFailureError`.
"""

import contextlib
import dataclasses
import json
import logging
import os
import re

import numpy as np

from pointnet_tf2 import compat
from pointnet_tf2.training.callbacks import batch_norm_layers

MODES = ("none", "mirrored", "multi_worker")
ENV_COLLECTIVE_TIMEOUT = "POINTNET_TF2_COLLECTIVE_TIMEOUT"
ENV_STARTUP_TIMEOUT = "POINTNET_TF2_STARTUP_TIMEOUT"
DEFAULT_COLLECTIVE_TIMEOUT = 1800.0
DEFAULT_STARTUP_TIMEOUT = 600.0
# Task types of TF_CONFIG that train (an "evaluator" or "ps" task does not).
_TRAINING_JOBS = ("chief", "worker")
_MIRRORED = {}


class WorkerFailureError(ConnectionError):
    """A peer of a multi-worker run died, froze or could not be reached."""


def check_mode(mode):
    """Validates a `--distribute` value without importing TensorFlow.

    Args:
        mode: None (automatic) or one of `MODES`.

    Returns:
        The value.

    Raises:
        ValueError: For any other value, quoting it.
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"--distribute must be none, mirrored or multi_worker, got {mode!r}")
    return mode


def resolve_mode(mode):
    """Returns the mode to use: `mode`, or for None the automatic choice.

    The automatic choice is `mirrored` when more than one GPU is visible,
    else `none`.

    Raises:
        ValueError: For an unknown mode.
    """
    check_mode(mode)
    if mode is not None:
        return mode
    import tensorflow as tf

    return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"


def _env_seconds(name, default):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"${name} must be a positive number of seconds, got {value!r}")
    return seconds


def collective_timeout():
    """Seconds after which one collective operation fails (`$POINTNET_TF2_COLLECTIVE_TIMEOUT`, default 1800)."""
    return _env_seconds(ENV_COLLECTIVE_TIMEOUT, DEFAULT_COLLECTIVE_TIMEOUT)


def startup_timeout():
    """Seconds to wait for every worker to join (`$POINTNET_TF2_STARTUP_TIMEOUT`, default 600)."""
    return _env_seconds(ENV_STARTUP_TIMEOUT, DEFAULT_STARTUP_TIMEOUT)


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    """Where this process stands in a multi-worker cluster (from `TF_CONFIG`).

    Attributes:
        num_workers: Training processes (the "chief" task, if any, and the "worker" tasks).
        worker_index: This process's rank among them: the chief is 0, then the
            workers in order (TensorFlow's own numbering).
        is_chief: Whether this process writes checkpoints and logs (the "chief"
            task, else worker 0).
        task_type: "chief" or "worker".
        task_index: Index within `task_type`.
        addresses: The `host:port` of every training process, by rank.
    """

    num_workers: int
    worker_index: int
    is_chief: bool
    task_type: str
    task_index: int
    addresses: tuple


def read_tf_config(environ=None):
    """Parses `TF_CONFIG` into a `ClusterInfo`.

    Without `TF_CONFIG` the process is a cluster of one.

    Args:
        environ: Mapping to read `TF_CONFIG` from (default `os.environ`).

    Returns:
        A `ClusterInfo`.

    Raises:
        ValueError: If `TF_CONFIG` is not JSON, has no cluster of "chief"/"worker"
            tasks, or its task is not one of them.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG", "")
    if not text.strip():
        return ClusterInfo(1, 0, True, "worker", 0, ())
    try:
        config = json.loads(text)
        cluster = config["cluster"]
        task = config["task"]
        task_type, task_index = task["type"], int(task["index"])
        jobs = {job: list(cluster.get(job) or []) for job in _TRAINING_JOBS}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"TF_CONFIG: not a valid cluster description ({type(error).__name__}: {error}); expected e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
        ) from None
    if len(jobs["chief"]) > 1:
        raise ValueError(f"TF_CONFIG: at most one 'chief' task, got {len(jobs['chief'])}")
    addresses = tuple(jobs["chief"] + jobs["worker"])
    if not addresses:
        raise ValueError("TF_CONFIG: the cluster has no 'chief' or 'worker' tasks")
    for address in addresses:
        if not isinstance(address, str) or ":" not in address:
            raise ValueError(f"TF_CONFIG: cluster addresses must be 'host:port' strings, got {address!r}")
    if task_type not in _TRAINING_JOBS:
        raise ValueError(f"TF_CONFIG: task type {task_type!r} does not train; use 'chief' or 'worker'")
    if not 0 <= task_index < len(jobs[task_type]):
        raise ValueError(f"TF_CONFIG: task index {task_index} is out of range for the {len(jobs[task_type])} "
                         f"{task_type!r} task(s)")
    rank = task_index if task_type == "chief" else len(jobs["chief"]) + task_index
    return ClusterInfo(len(addresses), rank, rank == 0, task_type, task_index, addresses)


def mirrored_devices():
    """The devices `mirrored` replicates over: every GPU, else every logical CPU device."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in (gpus or tf.config.list_logical_devices("CPU"))]


def create_strategy(mode):
    """Creates the strategy of a mode (None for `none`).

    For `multi_worker` this must run before TensorFlow executes anything else
    in the process. It reads `TF_CONFIG` and configures TensorFlow's
    coordination service so that joining the cluster fails after
    `startup_timeout()` seconds instead of waiting forever, and every
    collective after `collective_timeout()` seconds.

    Args:
        mode: One of `MODES` (resolved, see `resolve_mode`).

    Returns:
        A `tf.distribute.Strategy`, or None for `none`.

    Raises:
        ValueError: For a bad mode or `TF_CONFIG`.
        WorkerFailureError: If the cluster does not come up in time.
    """
    check_mode(mode)
    if mode in (None, "none"):
        return None
    import tensorflow as tf

    if mode == "mirrored":
        # One strategy per device set and process: a second MirroredStrategy's
        # collectives would reuse the first one's keys and clash.
        devices = tuple(mirrored_devices())
        if devices not in _MIRRORED:
            _MIRRORED[devices] = tf.distribute.MirroredStrategy(devices=list(devices))
        return _MIRRORED[devices]
    cluster = read_tf_config()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout())
    if cluster.num_workers > 1:
        _configure_coordination(startup_timeout())
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except tf.errors.OpError as error:
        raise WorkerFailureError(
            f"multi-worker cluster {', '.join(cluster.addresses)} did not come up within {startup_timeout():g} s "
            f"(${ENV_STARTUP_TIMEOUT}); start every worker with the same TF_CONFIG cluster "
            f"({type(error).__name__}: {first_line(error)})"
        ) from None


def _configure_coordination(register_timeout):
    """Makes joining the cluster time out (TensorFlow's default waits for hours).

    Sets up TensorFlow's coordination service as `MultiWorkerMirroredStrategy`
    would, plus a registration barrier with a timeout
    (`compat.configure_coordination_service`). Uses TensorFlow internals; if
    they moved, the strategy's defaults are kept.
    """
    try:
        compat.configure_coordination_service(_TRAINING_JOBS, register_timeout)
    except (ImportError, AttributeError, TypeError, ValueError) as error:  # TensorFlow internals moved.
        logging.getLogger(__name__).warning("cannot set the cluster start-up timeout (%s); waiting without one", error)


def first_line(error):
    """The first non-empty line of an exception's message (TensorFlow's are long)."""
    text = getattr(error, "message", None) or str(error)
    for line in text.splitlines():
        line = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", line).strip()
        if line:
            return line
    return type(error).__name__


def collective_errors():
    """The TensorFlow errors a failed or unreachable peer raises in a collective."""
    import tensorflow as tf

    return (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.AbortedError)


def num_replicas(strategy):
    """Replicas in sync (1 without a strategy)."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def replica_batch_size(global_batch, replicas):
    """Clouds per replica and step.

    Raises:
        ValueError: If the global batch does not split evenly.
    """
    if global_batch % replicas:
        raise ValueError(f"--batch_size {global_batch} (the global batch) must be a multiple of the "
                         f"{replicas} replicas in sync")
    return global_batch // replicas


def describe(strategy, mode, global_batch, *, sync_batch_norm=False, num_workers=1):
    """The log line saying how a run is distributed and how the batch is split."""
    replicas = num_replicas(strategy)
    if strategy is None:
        return f"distribute: none (one device); batch {global_batch}"
    per_replica = global_batch // replicas
    devices = ", ".join(name.split("device:")[-1] for name in getattr(strategy.extended, "worker_devices", ()))
    if mode == "multi_worker":
        where = f"{num_workers} worker(s) x {replicas // max(num_workers, 1)} device(s) ({devices}) = {replicas} replica(s)"
    else:
        where = f"{replicas} replica(s) ({devices})"
    bn = ("synchronised over all replicas (--sync_batch_norm)" if sync_batch_norm
          else f"per replica ({per_replica} clouds), moving averages averaged over the replicas every epoch")
    return (f"distribute: {mode} over {where}: global batch {global_batch} = {replicas} x {per_replica} per replica; "
            f"batch-norm statistics {bn}")


def shard_positions(positions, num_shards, index):
    """One worker's shard of a split: every `num_shards`-th position, from `index`.

    The shards of `index = 0 .. num_shards - 1` are disjoint and cover
    `positions`; their sizes differ by at most one, and each spreads over the
    whole split (storage order is often sorted by class or room).

    Args:
        positions: Positions within a split (or a count, meaning `range(count)`).
        num_shards: Number of workers.
        index: This worker's rank.

    Returns:
        An int64 array.

    Raises:
        ValueError: If `index` is not in `[0, num_shards)`.
    """
    if isinstance(positions, (int, np.integer)):
        positions = np.arange(int(positions), dtype=np.int64)
    if num_shards < 1 or not 0 <= index < num_shards:
        raise ValueError(f"shard index {index} is out of range for {num_shards} shard(s)")
    return np.asarray(positions, dtype=np.int64)[index::num_shards]


def set_synchronized_batch_norm(model, enabled=True, *, local_replicas=1):
    """Makes every BatchNormalization layer compute its batch statistics over all replicas.

    The statistics are all-reduced in two passes (the global mean, then the
    global mean of squared deviations), which gives the single-device
    numbers. Keras 3's own `synchronized=True` computes the variance as
    E[x^2] - E[x]^2 clipped at 0, which loses the variance (and its gradient)
    of nearly constant channels: measured on `pointnet_cls`, one step then
    differs from the single-device step by up to 1.5% of the step size, and
    by 2e-7 with the two-pass statistics. Works on a built model, before the
    train function is traced; it is not saved (a loaded checkpoint uses
    per-replica statistics again).

    Args:
        model: The model.
        enabled: On or off.
        local_replicas: Replicas in this process.

    Returns:
        The number of BatchNormalization layers.

    Raises:
        ValueError: With more than one replica in the process and an activity
            regulariser (the feature-transform loss): Keras 3 keeps a layer's
            losses in one list shared by the replica threads, and the
            all-reduces of synchronised batch norm interleave those threads,
            so each replica would add up every replica's regulariser
            (measured: twice the loss with 2 replicas).
    """
    regularised = [layer.name for layer in compat.flatten_layers(model)
                   if getattr(layer, "activity_regularizer", None) is not None]
    if enabled and local_replicas > 1 and regularised:
        raise ValueError(
            f"--sync_batch_norm with {local_replicas} replicas in one process would count the regulariser of "
            f"{', '.join(regularised)} once per replica (Keras 3 shares layer losses between replica threads); "
            "train without --sync_batch_norm, with --orthogonal_weight 0, or with one device per worker "
            "(--distribute multi_worker)")
    layers = batch_norm_layers(model)
    for layer in layers:
        if not enabled:
            compat.restore_batch_norm_moments(layer)
            layer.synchronized = False
        elif compat.can_patch_batch_norm_moments(layer):
            compat.patch_batch_norm_moments(layer, _synchronized_moments)
        else:  # Keras changed: fall back to its own (one-pass) synchronised statistics.
            layer.synchronized = True
    return len(layers)


def _synchronized_moments(layer, inputs, mask):
    """Two-pass batch mean and variance over every replica (see `compat.patch_batch_norm_moments`)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if mask is not None or context is None or context.num_replicas_in_sync == 1:
        return compat.batch_norm_moments(layer, inputs, mask)
    axes = compat.batch_norm_reduction_axes(layer)
    local_sum = tf.reduce_sum(inputs, axis=axes, keepdims=True)
    local_count = tf.cast(tf.size(inputs) // tf.size(local_sum), inputs.dtype)
    total, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [local_sum, local_count])
    mean = total / count
    squares = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                 tf.reduce_sum(tf.square(inputs - mean), axis=axes, keepdims=True))
    return tf.squeeze(mean, axes), tf.squeeze(squares / count, axes)


def _moving_statistics(model):
    return [v for layer in batch_norm_layers(model) for v in (layer.moving_mean, layer.moving_variance)]


def _seed_states(model):
    import keras

    states = []
    for layer in compat.flatten_layers(model):
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                states.append(value.state)
    return states


class ReplicaSync:
    """Collective helpers of a strategy and a model (traced once, reused).

    - `average_moving_statistics()`: sets every replica's batch-norm moving
      mean and variance to their mean over all replicas. Keras 3 keeps one
      copy per replica of these variables and each replica updates its own
      from its own part of the batch; averaging keeps the copies equal (the
      moving mean becomes exactly the average over the global batch), so every
      replica validates with the statistics the checkpoint stores.
    - `decorrelate_dropout()`: gives each replica its own dropout random stream
      (Keras 3 would draw the same masks on every replica).
    - `broadcast(variables)`: copies the first replica's (the chief's) values
      to every replica, e.g. after the chief alone loaded a checkpoint.
    - `sum_over_workers(arrays)`: sums numpy arrays over the workers.
    - `barrier(timeout)`: waits until every worker reaches it.
    """

    def __init__(self, strategy, model):
        import tensorflow as tf

        self.strategy = strategy
        self.model = model
        self._local = len(strategy.extended.worker_devices)
        statistics = _moving_statistics(model)

        def average():
            context = tf.distribute.get_replica_context()
            means = context.all_reduce(tf.distribute.ReduceOp.MEAN, [v.value.read_value() for v in statistics])
            for variable, mean in zip(statistics, means):
                variable.value.assign(mean)

        self._average = tf.function(lambda: strategy.run(average)) if statistics else None
        states = _seed_states(model)

        def decorrelate():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            for state in states:
                offset = tf.cast(tf.stack([replica * 1_000_003, 0]), state.dtype)
                state.value.assign(state.value.read_value() + offset)

        self._decorrelate = tf.function(lambda: strategy.run(decorrelate)) if states else None

        def total(values):
            # tf.identity places the value on the replica's device (an input has none).
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(values))

        self._sum = tf.function(lambda values: strategy.run(total, args=(values,)))
        self._barriers = {}

    def average_moving_statistics(self):
        """Averages the batch-norm moving statistics over all replicas (a collective)."""
        if self._average is not None:
            self._average()

    def decorrelate_dropout(self):
        """Offsets each replica's random seed state by its replica id (no collective)."""
        if self._decorrelate is not None:
            self._decorrelate()

    def broadcast(self, variables):
        """Gives every replica the first replica's values of Keras `variables` (a collective)."""
        import tensorflow as tf

        variables = list(variables)
        if not variables:
            return

        def take_first():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            # float64 carries every dtype here exactly (the step counter is int64).
            values = [tf.cast(tf.where(first, v.value.read_value(), tf.zeros_like(v.value.read_value())), tf.float64)
                      for v in variables]
            return context.all_reduce(tf.distribute.ReduceOp.SUM, values)

        results = tf.function(lambda: self.strategy.run(take_first))()
        for variable, value in zip(variables, results):
            variable.value.assign(tf.cast(self.strategy.experimental_local_results(value)[0], variable.dtype))

    def broadcast_training_state(self):
        """Broadcasts the model's weights, dropout seed states and optimizer variables from the chief."""
        model = self.model
        self.broadcast(list(model.weights) + _seed_states(model) + list(model.optimizer.variables))

    def sum_over_workers(self, arrays):
        """Returns the element-wise sums of numpy `arrays` over all workers (a collective).

        Every worker must pass arrays of the same shapes in the same order.
        """
        import tensorflow as tf

        arrays = [np.asarray(a) for a in arrays]
        if not arrays:
            return []
        flat = np.concatenate([a.astype(np.float64).ravel() for a in arrays]) / self._local
        result = self._sum(tf.constant(flat))
        summed = np.asarray(self.strategy.experimental_local_results(result)[0])
        out, start = [], 0
        for a in arrays:
            out.append(summed[start:start + a.size].reshape(a.shape).astype(a.dtype) if a.dtype.kind == "f"
                       else np.rint(summed[start:start + a.size]).reshape(a.shape).astype(a.dtype))
            start += a.size
        return out

    def barrier(self, timeout=None):
        """Returns when every worker has called it; fails after `timeout` seconds."""
        import tensorflow as tf

        if timeout not in self._barriers:
            options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)

            def meet():
                return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.ones([]),
                                                                       options=options)

            self._barriers[timeout] = tf.function(lambda: self.strategy.run(meet))
        self._barriers[timeout]()


def scope(strategy):
    """`strategy.scope()`, or a no-op context without a strategy."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def prepare_model(strategy, model, *, sync_batch_norm=False):
    """Readies a model built under `strategy` for training; returns its `ReplicaSync` (None without a strategy).

    Turns on synchronised batch norm if asked and gives each replica its own
    dropout random stream.
    """
    if strategy is None:
        return None
    if sync_batch_norm:
        set_synchronized_batch_norm(model, local_replicas=len(strategy.extended.worker_devices))
    sync = ReplicaSync(strategy, model)
    sync.decorrelate_dropout()
    return sync


def batch_norm_statistics_callback(sync):
    """A Keras callback averaging the BN moving statistics over the replicas after each epoch's training.

    It acts at the end of the epoch's last training batch (before `model.fit`
    validates and before the checkpoint callbacks run, wherever it sits in the
    callback list) and again when validation begins.
    """
    import keras

    class BatchNormStatisticsAverager(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps = (self.params or {}).get("steps")
            if steps and batch + 1 == steps:
                sync.average_moving_statistics()

        def on_test_begin(self, logs=None):
            sync.average_moving_statistics()

        def on_epoch_end(self, epoch, logs=None):
            sync.average_moving_statistics()

    return BatchNormStatisticsAverager()
