"""Broadcasting a per-cloud vector to every point of the cloud."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class BroadcastToPoints(keras.layers.Layer):
    """Tiles a per-cloud vector to every point: `(B, C), (B, N, *) -> (B, N, C)`.

    Called on `[vector, points]`; only the number of points N of `points` is
    used, so it works for a variable number of points.
    """

    def call(self, inputs):
        vector, points = inputs
        num_points = ops.shape(points)[1]
        vector = ops.expand_dims(vector, 1)
        return ops.repeat(vector, num_points, axis=1)

    def compute_output_shape(self, input_shape):
        vector_shape, points_shape = input_shape
        return (vector_shape[0], points_shape[1], vector_shape[-1])
