"""Small helpers around Keras models."""

import numpy as np


def count_trainable_params(model):
    """Returns the number of trainable scalars of a Keras model."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
