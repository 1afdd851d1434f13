"""A per-point Dense on a concatenation of per-point and per-cloud features, without tiling.

The segmentation heads concatenate, at every point, a per-cloud vector (the
global feature, the category) tiled to every point with per-point features,
then apply a shared Dense. Since the tiled rows are the same for every point
of a cloud, `concat([tile(g), p]) @ W + b == p @ W_p + (g @ W_g + b)` with
`W_p`, `W_g` the kernel rows of `p` and `g`: the per-cloud part is multiplied
once per cloud instead of once per point, and the tiled tensor is never built.
"""

import keras
from keras import ops

from pointnet_tf2.layers.broadcast import BroadcastToPoints
from pointnet_tf2.layers.fused import _ENABLED
from pointnet_tf2.layers.fused import PointwiseDense
from pointnet_tf2.layers.fused import _tensorflow


def _row_ranges(ranges):
    """Merges adjacent `(start, stop)` kernel row ranges."""
    merged = []
    for start, stop in ranges:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class ConcatPointwiseDense(PointwiseDense):
    """`Dense(units)(Concatenate()([tiled inputs]))` without the tiled tensor.

    Called on a list of inputs in concatenation order, each either per cloud
    `(B, C_i)` (as if tiled to every point) or per point `(B, N, C_i)`;
    returns `(B, N, units)`. There is one kernel of shape `(sum C_i, units)`
    (and one bias), named and ordered as the Dense it replaces, so parameter
    counts, weight order and checkpoint mappings are those of that Dense.
    The per-point inputs are concatenated and multiplied by their kernel rows
    as in `PointwiseDense` (a 1x1 convolution in training, in bf16 with
    `set_bf16_products` when they have enough channels); the per-cloud
    inputs are multiplied by theirs once per cloud, `(B, units)`, plus the
    bias, and added to every point before the activation. Works with any
    number of points (`N = None`).

    With `set_fused_kernels(False)`, or a LoRA or quantised kernel, it tiles
    and concatenates its inputs and runs `keras.layers.Dense`: the plain path.

    Args:
        units: Output channels.
        **kwargs: Other `keras.layers.Dense` arguments (activation, names,
            initialisers, dtype).

    Raises:
        ValueError: When built on anything but a list of `(B, C)` and
            `(B, N, C)` inputs with known channels, at least one per point.
    """

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.input_spec = None  # one spec per input, set by `build`
        self.supports_masking = False

    def build(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        super().build((None, None, sum(shape[-1] for shape in shapes)))
        self.input_spec = [keras.layers.InputSpec(ndim=len(shape), axes={-1: shape[-1]}) for shape in shapes]
        # Kernel rows of the per-point and of the per-cloud inputs, merged where adjacent.
        starts = [sum(shape[-1] for shape in shapes[:i]) for i in range(len(shapes))]
        self._point_rows = _row_ranges([(a, a + s[-1]) for a, s in zip(starts, shapes) if len(s) == 3])
        self._cloud_rows = _row_ranges([(a, a + s[-1]) for a, s in zip(starts, shapes) if len(s) == 2])

    def _checked_shapes(self, input_shape):
        """The input shapes as tuples, validated (see the class docstring)."""
        if not isinstance(input_shape, list | tuple) or any(s is None or isinstance(s, int) for s in input_shape):
            raise ValueError(f"{self.name}: ConcatPointwiseDense is called on a list of (B, C) and (B, N, C) "
                             f"inputs, got shape {input_shape}")
        shapes = [tuple(shape) for shape in input_shape]
        if not shapes or any(len(shape) not in (2, 3) or shape[-1] is None for shape in shapes):
            raise ValueError(f"{self.name}: inputs must be (B, C) per cloud or (B, N, C) per point with known C, "
                             f"got shapes {shapes}")
        if not any(len(shape) == 3 for shape in shapes):
            raise ValueError(f"{self.name}: at least one input must be per point (B, N, C), got shapes {shapes}")
        return shapes

    def compute_output_shape(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        batch = next((shape[0] for shape in shapes if shape[0] is not None), None)
        points = next(shape[1] for shape in shapes if len(shape) == 3)
        return (batch, points, self.units)

    def _split_kernel(self, kernel):
        """`(per-point rows, per-cloud rows)` of `kernel`, each one block.

        One split at every range boundary: its gradient is one concatenation,
        where a strided slice per range would cost a full-kernel
        `StridedSliceGrad` each (9% of a `pointnet_sem_seg` training step).
        """
        bounds = sorted({0, kernel.shape[0], *(b for r in self._point_rows + self._cloud_rows for b in r)})
        pieces = dict(zip(bounds, ops.split(kernel, bounds[1:-1], axis=0)))

        def rows(ranges):
            parts = [pieces[b] for start, stop in ranges for b in bounds if start <= b < stop]
            return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=0)

        return rows(self._point_rows), rows(self._cloud_rows)

    def call(self, inputs, training=None):
        inputs = [ops.cast(x, self.compute_dtype) for x in inputs]
        per_point = [x for x in inputs if len(x.shape) == 3]
        per_cloud = [x for x in inputs if len(x.shape) == 2]
        if not _ENABLED[0] or self.lora_enabled or self.quantization_mode:
            return super().call(tile_and_concatenate(inputs, layers=False), training=training)
        points = per_point[0] if len(per_point) == 1 else ops.concatenate(per_point, axis=-1)
        if not per_cloud:
            return super().call(points, training=training)
        point_kernel, cloud_kernel = self._split_kernel(ops.cast(self.kernel, self.compute_dtype))
        tf = _tensorflow()
        if training and tf is not None:
            outputs = self._conv_product(tf, points, point_kernel)
        else:
            shape = [*ops.shape(points)[:-1], self.units]
            outputs = ops.reshape(ops.matmul(ops.reshape(points, (-1, points.shape[-1])), point_kernel), shape)
        cloud = per_cloud[0] if len(per_cloud) == 1 else ops.concatenate(per_cloud, axis=-1)
        cloud = ops.matmul(cloud, cloud_kernel)
        if self.use_bias:
            cloud = cloud + ops.cast(self.bias, self.compute_dtype)
        return self.activation(outputs + ops.expand_dims(cloud, 1))


def tile_and_concatenate(inputs, *, layers=True, name="concat", tile_name="tile_global"):
    """The concatenation `ConcatPointwiseDense` avoids: per-cloud inputs tiled to every point.

    Args:
        inputs: A list of `(B, C_i)` and `(B, N, C_i)` tensors (at least one
            per point), in concatenation order; a single tensor is returned as is.
        layers: True (functional models): through `BroadcastToPoints` layers
            (named `tile_name`, numbered from 1 when there are several) and a
            `Concatenate` layer named `name`; False: with ops, inside a call.
        name: Name of the `Concatenate` layer.
        tile_name: Name of the tiling layer.

    Returns:
        The `(B, N, sum C_i)` tensor.
    """
    if not isinstance(inputs, list | tuple):
        return inputs
    points = next(x for x in inputs if len(x.shape) == 3)
    clouds = sum(len(x.shape) == 2 for x in inputs)
    tiled, index = [], 0
    for x in inputs:
        if len(x.shape) == 2:
            index += 1
            if layers:
                x = BroadcastToPoints(name=tile_name if clouds == 1 else f"{tile_name}{index}")([x, points])
            else:
                x = ops.repeat(ops.expand_dims(x, 1), ops.shape(points)[1], axis=1)
        tiled.append(x)
    if len(tiled) == 1:
        return tiled[0]
    return keras.layers.Concatenate(name=name)(tiled) if layers else ops.concatenate(tiled, axis=-1)
