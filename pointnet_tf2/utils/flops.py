"""Counting a model's multiply-adds, to turn samples/s into GFLOP/s."""

import math

import keras

from pointnet_tf2.compat import graph_nodes
from pointnet_tf2.layers import ApplyTransform


def _spatial(shape):
    """Product of the axes between batch and channels (1 for `(B, C)`)."""
    return math.prod(int(d) for d in shape[1:-1])


def count_multiply_adds(model, num_points=None):
    """Multiply-adds of one sample's forward pass through the model's layers.

    Counts what dominates a PointNet: every dense layer (shared per-point
    layers count once per point; a `ConcatPointwiseDense` counts its
    per-cloud inputs once per cloud, as it computes them), convolutions,
    and the per-sample transform products of `ApplyTransform`. Batch norm,
    activations, pooling and the
    loss are a few operations per activation and are left out, as in the
    paper's figures (the classifier at 1024 points: about 440M).

    Args:
        model: A built Keras Functional model.
        num_points: Points per cloud for models built with `num_points=None`.

    Returns:
        The number of multiply-adds (an int). FLOPs are twice that; a
        training step is about three forward passes (forward, and the two
        products of the backward pass).

    Raises:
        ValueError: If a counted layer has an unknown point count and
            `num_points` is not given.
    """
    def shape_of(tensor):
        shape = list(tensor.shape)
        if any(d is None for d in shape[1:-1]):
            if num_points is None:
                raise ValueError(f"{model.name}: layer inputs of shape {tuple(shape)} need num_points to be counted")
            shape = [shape[0]] + [num_points if d is None else d for d in shape[1:-1]] + [shape[-1]]
        return shape

    total = 0
    for node in graph_nodes(model):
        layer = node.operation
        inputs = node.input_tensors
        if isinstance(layer, keras.layers.Dense):
            for tensor in inputs:  # one, or a ConcatPointwiseDense's list
                shape = shape_of(tensor)
                total += _spatial(shape) * int(shape[-1]) * layer.units
        elif isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D):
            out = shape_of(node.output_tensors[0])
            kernel = math.prod(int(d) for d in layer.kernel.shape[:-1])  # window x input channels / groups
            total += _spatial(out) * kernel * layer.filters
        elif isinstance(layer, ApplyTransform):
            points, transform = (shape_of(t) for t in inputs)
            total += _spatial(points) * int(transform[-1]) * int(transform[-1])
    return total
