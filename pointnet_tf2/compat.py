"""Every private Keras or TensorFlow detail the package relies on, in one place.

Keras 3 and TensorFlow keep some things the package needs behind private
names: the walk over a model's nested layers, the nodes of a Functional graph,
re-running a graph with some layers swapped, the batch-statistics method of
`BatchNormalization`, and TensorFlow's coordination-service set-up. Each is
wrapped here in a small function, so that an upgrade of Keras or TensorFlow
that moves one of them breaks this module (and `tests/test_compat.py`) only.

No other module of the package may use these private names or import
`tensorflow.python`; `tests/test_compat.py` checks it. The versions this module
is tested with are the bounds of `setup.cfg`.
"""

import types

# The attribute name under which Keras 3 `BatchNormalization` computes the batch mean and variance.
_MOMENTS = "_moments"


def flatten_layers(model, include_self=False):
    """Every layer of a model, nested ones (layers of sub-models) included.

    Args:
        model: A Keras `Layer` or `Model`.
        include_self: Whether `model` itself is the first element.

    Returns:
        A list of layers, in Keras's depth-first order.
    """
    return list(model._flatten_layers(include_self=include_self))


def graph_nodes(model):
    """The nodes of a Functional model's own graph, outermost inputs first.

    A layer shared with another model (e.g. a folded copy) also has nodes in
    that model's graph; `inbound_nodes(layer)` lists them all, this only the
    nodes of `model`.

    Args:
        model: A Keras Functional model.

    Returns:
        A list of Keras `Node`s.
    """
    by_depth = model._nodes_by_depth
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def inbound_nodes(layer):
    """The nodes at which `layer` was called, in every graph it belongs to.

    Args:
        layer: A Keras layer.

    Returns:
        A list of Keras `Node`s (`node.operation` is `layer`).
    """
    return list(layer._inbound_nodes)


def outbound_nodes(layer):
    """The nodes of the layers that read `layer`'s outputs, in every graph it belongs to.

    Args:
        layer: A Keras layer.

    Returns:
        A list of Keras `Node`s (`node.operation` is the reading layer).
    """
    return list(layer._outbound_nodes)


def is_functional(model):
    """Whether a Keras model has a Functional graph (`run_through_graph` and `graph_nodes` apply)."""
    return hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth")


def run_through_graph(model, inputs, operation_fn, call_fn):
    """Runs a Functional model's graph on `inputs`, each layer possibly replaced or bypassed.

    Args:
        model: A Keras Functional model.
        inputs: Tensors (or symbolic `keras.Input`s) with the structure of
            `model.input`.
        operation_fn: Maps each layer of the graph to the layer to call
            instead (itself to keep it).
        call_fn: Called as `call_fn(layer, *args, **kwargs)` in place of
            `layer(*args, **kwargs)`.

    Returns:
        The outputs, with the structure of `model.output`.
    """
    return model._run_through_graph(inputs, operation_fn=operation_fn, call_fn=call_fn)


def batch_norm_reduction_axes(layer):
    """The axes a built `BatchNormalization` layer reduces over for its batch statistics."""
    return layer._reduction_axes


def can_patch_batch_norm_moments(layer):
    """Whether this Keras's `BatchNormalization` computes its batch statistics in a patchable method."""
    return hasattr(type(layer), _MOMENTS)


def batch_norm_moments(layer, inputs, mask):
    """Keras's own batch mean and variance of a `BatchNormalization` layer (ignores any patch).

    Args:
        layer: A built `keras.layers.BatchNormalization`.
        inputs: The layer's input tensor.
        mask: Its mask, or None.

    Returns:
        `(mean, variance)` over the layer's reduction axes.
    """
    return getattr(type(layer), _MOMENTS)(layer, inputs, mask)


def patch_batch_norm_moments(layer, fn):
    """Makes one `BatchNormalization` layer compute its batch statistics with `fn`.

    Only this instance changes; `restore_batch_norm_moments` undoes it.

    Args:
        layer: A `keras.layers.BatchNormalization`.
        fn: Called as `fn(layer, inputs, mask)`, returns `(mean, variance)`;
            `batch_norm_moments` gives Keras's own.

    Returns:
        True if patched, False if this Keras has no such method (the layer is
        left unchanged).
    """
    if not can_patch_batch_norm_moments(layer):
        return False
    setattr(layer, _MOMENTS, types.MethodType(fn, layer))
    return True


def restore_batch_norm_moments(layer):
    """Undoes `patch_batch_norm_moments` on a layer (nothing if it was not patched)."""
    vars(layer).pop(_MOMENTS, None)


def is_batch_norm_moments_patched(layer):
    """Whether `patch_batch_norm_moments` is in effect on this layer."""
    return _MOMENTS in vars(layer)


def configure_coordination_service(job_names, register_timeout):
    """Sets up TensorFlow's coordination service as `MultiWorkerMirroredStrategy` would, with a timeout.

    The cluster comes from `TF_CONFIG`. The registration of the tasks becomes a
    barrier that fails after `register_timeout` seconds (TensorFlow's default
    waits for hours). Does nothing if the service is already configured.

    Args:
        job_names: The jobs of the cluster to coordinate (those absent from
            the cluster spec are skipped).
        register_timeout: Seconds.

    Raises:
        ImportError, AttributeError, TypeError, ValueError: When TensorFlow's
            internals moved; callers fall back to the strategy's defaults.
    """
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = multi_worker_util.normalize_cluster_spec(resolver.cluster_spec())
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
            for job in job_names if job in spec.jobs]  # fmt: skip
    ctx = context.context()
    if ctx.coordination_service is not None:
        return
    ctx.configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs,
        cluster_register_timeout_in_ms=int(register_timeout * 1000),
    )
    ctx.coordination_service.cluster_register_with_barrier = True


def coordination_service_configured():
    """Whether TensorFlow's coordination service is configured in this process."""
    from tensorflow.python.eager import context

    return context.context().coordination_service is not None


__all__ = [
    "batch_norm_moments",
    "batch_norm_reduction_axes",
    "can_patch_batch_norm_moments",
    "configure_coordination_service",
    "coordination_service_configured",
    "flatten_layers",
    "graph_nodes",
    "inbound_nodes",
    "is_batch_norm_moments_patched",
    "is_functional",
    "outbound_nodes",
    "patch_batch_norm_moments",
    "restore_batch_norm_moments",
    "run_through_graph",
]
