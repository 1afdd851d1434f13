"""Batch-norm folding: an inference copy of a model without its batch-norm layers.

At inference a batch norm is a fixed per-channel affine map, so a
`Dense -> BatchNormalization [-> ReLU]` block equals one dense layer with
scaled weights followed by the ReLU: `W' = W * s`, `b' = (b - mean) * s + beta`
with `s = gamma / sqrt(moving_variance + epsilon)`. `fold_batch_norm` returns
such a copy, whose per-point blocks run as one fused matmul + bias + ReLU
kernel. When such a block feeds a max over points (the global feature of
PointNet and of its T-Nets), the block and the pooling become one
`DenseMaxPooling` that pools the product while it is in cache. The original
model and its weights are not touched (checkpoints keep their layout); the
copy is a snapshot for prediction and export.
"""

import keras
import numpy as np

from pointnet_tf2.layers.concat_dense import ConcatPointwiseDense
from pointnet_tf2.layers.fused import DenseMaxPooling
from pointnet_tf2.layers.fused import PointwiseDense
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.compat import graph_nodes
from pointnet_tf2.compat import inbound_nodes
from pointnet_tf2.compat import is_functional
from pointnet_tf2.compat import outbound_nodes
from pointnet_tf2.compat import run_through_graph


def _single_consumer(layer, nodes):
    """The only layer reading `layer`'s output among `nodes` (a model's node ids), or None.

    Nodes outside the model are ignored: a layer shared with another model
    (e.g. an earlier folded copy) is still judged by this model's graph.
    """
    if sum(id(node) in nodes for node in inbound_nodes(layer)) != 1:
        return None
    consumers = [node for node in outbound_nodes(layer) if id(node) in nodes]
    if len(consumers) != 1:
        return None
    consumer = consumers[0].operation
    return consumer if sum(id(node) in nodes for node in inbound_nodes(consumer)) == 1 else None


def _foldable_pairs(model, nodes):
    """`{dense name: (dense, batch norm, relu or None)}` for every foldable block."""
    blocks = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dense) or layer.activation not in (None, keras.activations.linear):
            continue
        bn = _single_consumer(layer, nodes)
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        rank = len(layer.output.shape)
        if bn.axis % rank != rank - 1 or getattr(bn, "renorm", False):
            continue
        relu = _single_consumer(bn, nodes)
        is_relu = isinstance(relu, keras.layers.ReLU) and relu.max_value is None and not relu.negative_slope and not relu.threshold
        blocks[layer.name] = (layer, bn, relu if is_relu else None)
    return blocks


def _max_over_points(layer, nodes):
    """The max-over-points pooling that alone reads `layer`'s `(B, N, C)` output, or None."""
    pool = _single_consumer(layer, nodes)
    if not isinstance(pool, keras.layers.GlobalMaxPooling1D):
        return None
    if pool.data_format != "channels_last" or pool.keepdims or len(layer.output.shape) != 3:
        return None
    return pool


def folded_weights(dense, batch_norm):
    """The kernel and bias of `dense` with `batch_norm`'s inference transform folded in.

    Args:
        dense: A built `keras.layers.Dense`.
        batch_norm: The built `keras.layers.BatchNormalization` applied to its output.

    Returns:
        `(kernel, bias)` as float32 numpy arrays.
    """
    kernel = np.asarray(dense.kernel.numpy(), np.float64)
    bias = np.asarray(dense.bias.numpy(), np.float64) if dense.use_bias else np.zeros(kernel.shape[-1])
    channels = kernel.shape[-1]
    gamma = np.asarray(batch_norm.gamma.numpy(), np.float64) if batch_norm.scale else np.ones(channels)
    beta = np.asarray(batch_norm.beta.numpy(), np.float64) if batch_norm.center else np.zeros(channels)
    mean = np.asarray(batch_norm.moving_mean.numpy(), np.float64)
    variance = np.asarray(batch_norm.moving_variance.numpy(), np.float64)
    scale = gamma / np.sqrt(variance + batch_norm.epsilon)
    return (kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def fold_batch_norm(model, *, fuse_max_pool=True):
    """Returns an inference copy of `model` with every Dense + batch norm block folded.

    Each `Dense -> BatchNormalization` pair (with the following `ReLU`, when
    it is the batch norm's only consumer) becomes one `PointwiseDense` named
    like the Dense layer (a `ConcatPointwiseDense` for a `ConcatPointwiseDense`,
    on the same list of inputs); with `fuse_max_pool`, a block whose only consumer
    is a max over points becomes, together with that pooling, one
    `DenseMaxPooling` named like the pooling layer (so `get_layer("max_pool")`
    still gives the global feature). Every other layer is shared with `model`. The copy
    gives the same outputs as `model(x, training=False)` within float32
    rounding, takes the same inputs and carries `task` and `builder_config`
    as attributes, so prediction code can use either. It is a snapshot:
    training `model` afterwards does not change it. It saves and loads as
    a plain Functional model (`.keras`), for inference and export.

    Args:
        model: A built Keras Functional model (any model of the zoo).
        fuse_max_pool: Also fuse the blocks that feed a max over points.

    Returns:
        A new Functional `keras.Model`. A model without foldable blocks gives
        an equivalent copy.

    Raises:
        ValueError: If `model` is not a Functional model.
    """
    if not isinstance(model, keras.Model) or not is_functional(model):
        raise ValueError(f"fold_batch_norm needs a Functional model, got {type(model).__name__}")
    nodes = {id(node) for node in graph_nodes(model)}
    blocks = _foldable_pairs(model, nodes)
    skipped = {id(bn) for _, bn, _ in blocks.values()} | {id(relu) for _, _, relu in blocks.values() if relu is not None}
    replacements = {}
    for name, (dense, bn, relu) in blocks.items():
        activation = "relu" if relu is not None else None
        concatenating = isinstance(dense, ConcatPointwiseDense)  # called on a list of inputs
        pool = _max_over_points(relu or bn, nodes) if fuse_max_pool and not concatenating else None
        if pool is not None:
            skipped.add(id(pool))
            layer = DenseMaxPooling(dense.units, activation=activation, name=pool.name, dtype=dense.dtype_policy)
        else:
            kind = ConcatPointwiseDense if concatenating else PointwiseDense
            layer = kind(dense.units, activation=activation, name=name, dtype=dense.dtype_policy)
        layer.build([x.shape for x in keras.tree.flatten(dense.input)] if concatenating else dense.input.shape)
        layer.set_weights(folded_weights(dense, bn))
        replacements[id(dense)] = layer

    def call_function(layer, *args, **kwargs):
        if id(layer) in skipped:
            return args[0]
        return layer(*args, **kwargs)

    inputs = keras.tree.map_structure(
        lambda x: keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name), model.input
    )
    outputs = run_through_graph(model, inputs, operation_fn=lambda layer: replacements.get(id(layer), layer),
                                call_fn=call_function)  # fmt: skip
    # A plain Functional model: the zoo's builder config would rebuild the unfolded layers on loading.
    folded = keras.Model(inputs, outputs, name=f"{model.name}_folded")
    if isinstance(model, PointCloudModel):
        folded.task = model.task
        folded.builder_config = dict(model.builder_config)
    return folded
