"""Small helpers around Keras models."""

import numpy as np


def count_trainable_params(model):
    """Returns the number of trainable scalars of a Keras model."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def graph_nodes(model):
    """The nodes of a Functional model's own graph, outermost inputs first.

    A layer shared with another model (e.g. a folded copy) also has nodes in
    that model's graph; `layer._inbound_nodes` lists them all, this only the
    nodes of `model`.

    Args:
        model: A Keras Functional model.

    Returns:
        A list of `keras` `Node`s.
    """
    return [node for depth in sorted(model._nodes_by_depth, reverse=True) for node in model._nodes_by_depth[depth]]
