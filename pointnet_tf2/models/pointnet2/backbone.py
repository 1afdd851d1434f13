"""PointNet++ building blocks: set abstraction (single- and multi-scale, group-all) and feature propagation.

Each block is a function of Keras tensors that adds named layers to a
Functional model, following the original's variable scopes
(charlesq34/pointnet2, `utils/pointnet_util.py`) with "/" replaced by "_":

- set abstraction `layer1`: `layer1_sample` (farthest point sampling),
  `layer1_group` (ball query + grouping), `layer1_conv0`, `layer1_conv0_bn`,
  ..., `layer1_maxpool` (max over each ball);
- multi-scale set abstraction: one `layer1_group{s}` and `layer1_conv{s}_{j}`
  per scale, concatenated by `layer1_concat`;
- group-all `layer3`: `layer3_group_all`, `layer3_conv0`, ...;
- feature propagation `fa_layer1`: `fa_layer1_interpolate` (three nearest
  neighbours), `fa_layer1_concat` (with the skip features), `fa_layer1_conv_0`, ...

Every convolution is the original's `[1, 1]` convolution + bias + batch norm
(epsilon 1e-3) + ReLU, here `dense_bn_relu` (a shared Dense, so a TF1
`[1, 1, C_in, C_out]` kernel maps onto the `(C_in, C_out)` Dense kernel).
The sampling and grouping layers (`pointnet_tf2.layers.neighbours`) are plain
TensorFlow ops, with the original kernels' semantics.
"""

import numbers

import keras
from keras import ops

from pointnet_tf2.layers import dense_bn_relu
from pointnet_tf2.layers.neighbours import BallQueryGroup
from pointnet_tf2.layers.neighbours import FarthestPointSample
from pointnet_tf2.layers.neighbours import GroupAll
from pointnet_tf2.layers.neighbours import ThreeNNInterpolate
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_widths


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class SliceChannels(keras.layers.Layer):
    """`(B, N, C) -> (B, N, stop - start)`: channels `start:stop` of every point.

    Splits a cloud into its coordinates (`0:3`) and the features after them
    (normals, colours), as the original's `tf.slice`.

    Args:
        start: First channel.
        stop: One past the last channel (None: to the end).
    """

    def __init__(self, start, stop=None, **kwargs):
        super().__init__(**kwargs)
        self.start = int(start)
        self.stop = None if stop is None else int(stop)

    def call(self, inputs):
        return inputs[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is not None:
            channels = len(range(channels)[self.start : self.stop])
        elif self.stop is not None and self.stop >= 0 and self.start >= 0:
            channels = self.stop - self.start
        return (*input_shape[:-1], channels)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class NeighbourMaxPooling(keras.layers.Layer):
    """`(B, M, S, C) -> (B, M, C)`: the max over each group's S points (the original's `reduce_max`)."""

    def call(self, inputs):
        return ops.max(inputs, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[3])


def split_points(points, what):
    """Splits a `(B, N, C)` cloud into XYZ `(B, N, 3)` and its other channels (None when C is 3).

    Raises:
        ValueError: If the cloud has fewer than 3 channels.
    """
    channels = points.shape[-1]
    if channels is None or channels < 3:
        raise ValueError(f"{what}: input_dims must be at least 3 (XYZ first), got {channels!r}")
    xyz = SliceChannels(0, 3, name="xyz")(points)
    features = SliceChannels(3, name="point_features")(points) if channels > 3 else None
    return xyz, features


def _mlp(x, widths, names, bn_momentum):
    for units, name in zip(widths, names, strict=True):
        x = dense_bn_relu(x, units, name=name, bn_momentum=bn_momentum)
    return x


def set_abstraction(xyz, features, *, npoint, radius, nsample, mlp, name, bn_momentum=0.99, chunk_size=None):
    """Single-scale set abstraction (the original `pointnet_sa_module`, radius search).

    Samples `npoint` centres by farthest point sampling, groups up to
    `nsample` points within `radius` of each (coordinates relative to the
    centre, then the features: `[xyz, features]`), applies the shared MLP
    `mlp` to every grouped point and takes the max over each group.

    Args:
        xyz: `(B, N, 3)` coordinates.
        features: `(B, N, C)` features, or None (the coordinates alone).
        npoint: Number of centres.
        radius: Ball radius.
        nsample: Points per ball.
        mlp: Widths of the shared MLP.
        name: Scope, e.g. "layer1".
        bn_momentum: Batch-norm momentum.
        chunk_size: Centres per ball-query chunk (None: all at once).

    Returns:
        `(new_xyz, new_features)`: `(B, npoint, 3)` and `(B, npoint, mlp[-1])`.
    """
    new_xyz = FarthestPointSample(npoint, name=f"{name}_sample")(xyz)
    inputs = [xyz, new_xyz] + ([features] if features is not None else [])
    grouped = BallQueryGroup(radius, nsample, xyz_first=True, chunk_size=chunk_size, name=f"{name}_group")(inputs)
    x = _mlp(grouped, mlp, [f"{name}_conv{i}" for i in range(len(mlp))], bn_momentum)
    return new_xyz, NeighbourMaxPooling(name=f"{name}_maxpool")(x)


def set_abstraction_msg(xyz, features, *, npoint, radii, nsamples, mlps, name, bn_momentum=0.99, chunk_size=None):
    """Multi-scale set abstraction (the original `pointnet_sa_module_msg`).

    One farthest point sampling; per scale `s` a ball query with `radii[s]`
    and `nsamples[s]`, grouped as `[features, xyz]` (the MSG order), the
    shared MLP `mlps[s]` (layers `{name}_conv{s}_{j}`) and a max per ball; the
    scales' features are concatenated.

    Returns:
        `(new_xyz, new_features)`: `(B, npoint, 3)` and `(B, npoint, sum of mlps[s][-1])`.
    """
    new_xyz = FarthestPointSample(npoint, name=f"{name}_sample")(xyz)
    inputs = [xyz, new_xyz] + ([features] if features is not None else [])
    pooled = []
    for s, (radius, nsample, mlp) in enumerate(zip(radii, nsamples, mlps, strict=True)):
        grouped = BallQueryGroup(radius, nsample, xyz_first=False, chunk_size=chunk_size,
                                 name=f"{name}_group{s}")(inputs)  # fmt: skip
        x = _mlp(grouped, mlp, [f"{name}_conv{s}_{j}" for j in range(len(mlp))], bn_momentum)
        pooled.append(NeighbourMaxPooling(name=f"{name}_maxpool{s}")(x))
    return new_xyz, keras.layers.Concatenate(name=f"{name}_concat")(pooled)


def set_abstraction_all(xyz, features, *, mlp, name, bn_momentum=0.99):
    """The last set abstraction: every point in one group centred at the origin (`group_all=True`).

    Returns:
        `(new_xyz, new_features)`: `(B, 1, 3)` zeros and `(B, 1, mlp[-1])`.
    """
    inputs = [xyz] + ([features] if features is not None else [])
    new_xyz, grouped = GroupAll(return_centre=True, name=f"{name}_group_all")(inputs)
    x = _mlp(grouped, mlp, [f"{name}_conv{i}" for i in range(len(mlp))], bn_momentum)
    return new_xyz, NeighbourMaxPooling(name=f"{name}_maxpool")(x)


def feature_propagation(xyz1, xyz2, features1, features2, *, mlp, name, bn_momentum=0.99, chunk_size=None):
    """Feature propagation (the original `pointnet_fp_module`).

    Interpolates `features2` (known at the sparser `xyz2`) at `xyz1` from the
    three nearest neighbours (weights `1 / max(d^2, 1e-10)`, normalised),
    concatenates `[interpolated, features1]` and applies the shared MLP
    (layers `{name}_conv_{i}`).

    Args:
        xyz1: `(B, N, 3)` points to interpolate at.
        xyz2: `(B, M, 3)` points with features.
        features1: `(B, N, C1)` skip features, or None.
        features2: `(B, M, C2)` features to interpolate.
        mlp: Widths of the shared MLP.
        name: Scope, e.g. "fa_layer1".
        bn_momentum: Batch-norm momentum.
        chunk_size: Points per three-NN chunk (None: all at once).

    Returns:
        `(B, N, mlp[-1])` features.
    """
    x = ThreeNNInterpolate(chunk_size=chunk_size, name=f"{name}_interpolate")([xyz1, xyz2, features2])
    if features1 is not None:
        x = keras.layers.Concatenate(name=f"{name}_concat")([x, features1])
    return _mlp(x, mlp, [f"{name}_conv_{i}" for i in range(len(mlp))], bn_momentum)


def propagate(pyramid, skip0, *, fp_mlps, names, bn_momentum=0.99, chunk_size=None):
    """Feature propagation from the top of a set abstraction pyramid down to the input points.

    Args:
        pyramid: `[(xyz, features), ...]` from the input points (level 0) up
            to the last level (group-all included).
        skip0: The skip features of the input points (level 0), or None.
        fp_mlps: One shared MLP per level above the input, top down.
        names: Their scopes, top down (e.g. "fa_layer1", "fa_layer2", ...).
        bn_momentum: Batch-norm momentum.
        chunk_size: Points per three-NN chunk (None: all at once).

    Returns:
        `(B, N, fp_mlps[-1][-1])` features of the input points.
    """
    features = pyramid[-1][1]
    for k, (mlp, name) in enumerate(zip(fp_mlps, names, strict=True)):
        upper_xyz = pyramid[-1 - k][0]
        lower_xyz, lower_features = pyramid[-2 - k]
        skip = skip0 if k == len(fp_mlps) - 1 else lower_features
        features = feature_propagation(lower_xyz, upper_xyz, skip, features, mlp=mlp, name=name,
                                       bn_momentum=bn_momentum, chunk_size=chunk_size)  # fmt: skip
    return features


def concat_features(tensors, name):
    """Concatenates the tensors that are not None on the last axis (one alone is returned as is; none: None)."""
    tensors = [t for t in tensors if t is not None]
    if len(tensors) <= 1:
        return tensors[0] if tensors else None
    return keras.layers.Concatenate(name=name)(tensors)


# --- argument checks ---------------------------------------------------------------------


def check_radius(value, what):
    """Returns a positive finite radius as a float, or raises `ValueError` quoting it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < float("inf"):
        raise ValueError(f"{what} must be positive numbers, got {value!r}")
    return float(value)


def _sequence(value, what):
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a sequence, got {value!r}")
    return tuple(value)


def check_ssg_levels(model, npoints, radii, nsamples, mlps):
    """Checks the single-scale set-abstraction hyper-parameters (one entry per level).

    Returns:
        `(npoints, radii, nsamples, mlps)` as tuples (of tuples).

    Raises:
        ValueError: On a bad value or mismatched lengths, quoting them.
    """
    npoints = tuple(check_positive_int(n, f"{model}: npoints") for n in _sequence(npoints, f"{model}: npoints"))
    if not npoints:
        raise ValueError(f"{model}: npoints must not be empty, got {npoints!r}")
    radii = tuple(check_radius(r, f"{model}: radii") for r in _sequence(radii, f"{model}: radii"))
    nsamples = tuple(check_positive_int(n, f"{model}: nsamples") for n in _sequence(nsamples, f"{model}: nsamples"))
    mlps = tuple(check_widths(m, f"{model}: mlps") for m in _sequence(mlps, f"{model}: mlps"))
    for what, value in (("radii", radii), ("nsamples", nsamples), ("mlps", mlps)):
        if len(value) != len(npoints):
            raise ValueError(f"{model}: {what} must have one entry per level of npoints={list(npoints)}, "
                             f"got {_as_lists(value)}")  # fmt: skip
    return npoints, radii, nsamples, mlps


def check_msg_levels(model, npoints, radii, nsamples, mlps):
    """Checks the multi-scale hyper-parameters: per level, a radius, nsample and MLP per scale.

    Returns:
        `(npoints, radii, nsamples, mlps)` as nested tuples.

    Raises:
        ValueError: On a bad value or mismatched lengths, quoting them.
    """
    npoints = tuple(check_positive_int(n, f"{model}: npoints") for n in _sequence(npoints, f"{model}: npoints"))
    if not npoints:
        raise ValueError(f"{model}: npoints must not be empty, got {npoints!r}")
    levels = {}
    for what, value in (("radii", radii), ("nsamples", nsamples), ("mlps", mlps)):
        value = _sequence(value, f"{model}: {what}")
        if len(value) != len(npoints):
            raise ValueError(f"{model}: {what} must have one entry per level of npoints={list(npoints)}, "
                             f"got {_as_lists(value)}")  # fmt: skip
        levels[what] = [_sequence(level, f"{model}: {what}[{i}]") for i, level in enumerate(value)]
    radii = tuple(tuple(check_radius(r, f"{model}: radii") for r in level) for level in levels["radii"])
    nsamples = tuple(tuple(check_positive_int(n, f"{model}: nsamples") for n in level) for level in levels["nsamples"])
    mlps = tuple(tuple(check_widths(m, f"{model}: mlps") for m in level) for level in levels["mlps"])
    for i, (r, n, m) in enumerate(zip(radii, nsamples, mlps)):
        if not r or len(n) != len(r) or len(m) != len(r):
            raise ValueError(f"{model}: level {i} needs as many scales in radii, nsamples and mlps, got "
                             f"radii={list(r)}, nsamples={list(n)}, mlps={_as_lists(m)}")  # fmt: skip
    return npoints, radii, nsamples, mlps


def check_fp_mlps(fp_mlps, levels, model):
    """Checks one feature-propagation MLP per level above the input (group-all included).

    Returns:
        The widths as a tuple of tuples.

    Raises:
        ValueError: On a bad width or count, quoting them.
    """
    fp_mlps = tuple(check_widths(m, f"{model}: fp_mlps") for m in _sequence(fp_mlps, f"{model}: fp_mlps"))
    if len(fp_mlps) != levels:
        raise ValueError(f"{model}: fp_mlps must have {levels} entries (one per level, group-all included), "
                         f"got {_as_lists(fp_mlps)}")  # fmt: skip
    return fp_mlps


def check_chunk_size(value, model):
    """Returns None or a positive int, or raises `ValueError` quoting the value."""
    return None if value is None else check_positive_int(value, f"{model}: chunk_size")


def _as_lists(value):
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    return value
