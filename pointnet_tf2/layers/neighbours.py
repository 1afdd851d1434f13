"""Keras layers over the sampling and neighbour ops of `sampling.py` (PointNet++ and DGCNN).

They hold no weights: the shared MLPs that follow them (1x1 convolutions,
batch norm, activation) are built by the models. Each works with a number of
points unknown until run time, serializes with `get_config`, and computes its
indices in float32 whatever the dtype policy (inputs are not autocast), so
mixed precision groups the same points; gathered features keep their dtype.

PointNet++ set abstraction (SSG) is `FarthestPointSample` then
`BallQueryGroup`; multi-scale grouping (MSG) shares one `FarthestPointSample`
between several `BallQueryGroup`s; the last level is `GroupAll`; feature
propagation is `ThreeNNInterpolate`. DGCNN's EdgeConv input is
`EdgeFeatures` (optionally on the neighbours of another tensor, by `KNN`).
"""

import keras

from pointnet_tf2.layers import sampling
from pointnet_tf2.layers.validation import check_positive_int


def _check_bool(value, what):
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be True or False, got {value!r}")
    return value


def _as_list(inputs, sizes, what):
    """`inputs` as a list of one of the allowed lengths, or `ValueError` naming the layer."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(items) not in sizes:
        raise ValueError(f"{what} takes {' or '.join(map(str, sizes))} input tensors, got {len(items)}")
    return items


def _shapes(input_shape, sizes, what):
    """The input shapes as a list (one per input tensor), or `ValueError` naming the layer."""
    nested = isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple))
    shapes = [tuple(s) for s in input_shape] if nested else [tuple(input_shape)]
    if len(shapes) not in sizes:
        raise ValueError(f"{what} takes {' or '.join(map(str, sizes))} input tensors, got {len(shapes)}")
    return shapes


def _shape(tensor):
    return tuple(tensor.shape) if hasattr(tensor, "shape") else tuple(tensor)


def _check_xyz(shape, what):
    """Raises unless `shape` is `(B, N, 3)`."""
    if len(shape) != 3 or shape[-1] not in (3, None):
        raise ValueError(f"{what} must have shape (B, N, 3), got shape {shape}")


def _check_k(k, shape, what):
    """Raises when the static number of points is below k."""
    if len(shape) != 3:
        raise ValueError(f"{what}: points must have shape (B, N, C), got shape {shape}")
    if shape[1] is not None and shape[1] < k:
        raise ValueError(f"{what}: k must be at most the number of points {shape[1]}, got {k}")


def _channels(shape):
    return shape[-1]


def _add(a, b):
    return None if a is None or b is None else a + b


class _NoAutocast(keras.layers.Layer):
    """A weightless layer whose inputs keep their dtype (coordinates stay float32).

    `build` checks the number of input tensors (`_INPUTS`) and their static
    shapes (`_check`), so a bad input raises a one-line `ValueError` when the
    layer is first called.
    """

    _INPUTS = (1,)

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self._check(_shapes(input_shape, self._INPUTS, type(self).__name__))
        super().build(input_shape)

    def _check(self, shapes):
        """Raises `ValueError` on static input shapes the layer cannot take."""


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class FarthestPointSample(_NoAutocast):
    """Farthest point sampling of `npoint` centres: `(B, N, 3) -> (B, npoint, 3)`.

    The original kernel's semantics (`sampling.farthest_point_sample`).

    Args:
        npoint: Number of centres.
        return_indices: Also return the `(B, npoint)` int32 indices.
    """

    def __init__(self, npoint, return_indices=False, **kwargs):
        super().__init__(**kwargs)
        self.npoint = check_positive_int(npoint, f"{type(self).__name__}: npoint")
        self.return_indices = _check_bool(return_indices, f"{type(self).__name__}: return_indices")

    def _check(self, shapes):
        _check_xyz(shapes[0], f"{type(self).__name__}: xyz")

    def call(self, xyz):
        idx = sampling.farthest_point_sample(xyz, self.npoint)
        new_xyz = sampling.gather_points(xyz, idx)
        return (new_xyz, idx) if self.return_indices else new_xyz

    def compute_output_spec(self, xyz):
        shape = _shape(xyz)
        new_xyz = keras.KerasTensor((shape[0], self.npoint, 3), dtype=xyz.dtype)
        if self.return_indices:
            return new_xyz, keras.KerasTensor((shape[0], self.npoint), dtype="int32")
        return new_xyz

    def get_config(self):
        return {**super().get_config(), "npoint": self.npoint, "return_indices": self.return_indices}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class BallQueryGroup(_NoAutocast):
    """Ball query and grouping around given centres, as the original `sample_and_group`.

    Called on `[xyz, centres]` or `[xyz, centres, features]` with `(B, N, 3)`,
    `(B, M, 3)` and `(B, N, C)`; returns `(B, M, nsample, 3 + C)`: each ball's
    coordinates relative to its centre, concatenated with its points'
    features (without features: the relative coordinates alone).

    Args:
        radius: Ball radius.
        nsample: Points per ball.
        use_xyz: Whether the relative coordinates are concatenated to the features.
        xyz_first: `[xyz, features]` (True, the SSG module) or `[features, xyz]`
            (False, the MSG module).
        chunk_size: Centres queried at a time (bounds the `B x M x N` distance
            matrix to `B x chunk_size x N`); None: all at once.
    """

    _INPUTS = (2, 3)

    def __init__(self, radius, nsample, use_xyz=True, xyz_first=True, chunk_size=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.radius = sampling.check_radius(radius, f"{name}: radius")
        self.nsample = check_positive_int(nsample, f"{name}: nsample")
        self.use_xyz = _check_bool(use_xyz, f"{name}: use_xyz")
        self.xyz_first = _check_bool(xyz_first, f"{name}: xyz_first")
        self.chunk_size = sampling.check_chunk_size(chunk_size, f"{name}: chunk_size")

    def _check(self, shapes):
        _check_xyz(shapes[0], f"{type(self).__name__}: xyz")
        _check_xyz(shapes[1], f"{type(self).__name__}: centres")

    def call(self, inputs):
        xyz, centres, *features = _as_list(inputs, (2, 3), type(self).__name__)
        idx, _ = sampling.ball_query(xyz, centres, self.radius, self.nsample, chunk_size=self.chunk_size)
        grouped_xyz = sampling.relative_coordinates(sampling.group_points(xyz, idx), centres)
        grouped = sampling.group_points(features[0], idx) if features else None
        return sampling.concat_grouped(grouped_xyz, grouped, self.use_xyz, self.xyz_first)

    def compute_output_spec(self, inputs):
        xyz, centres, *features = _as_list(inputs, (2, 3), type(self).__name__)
        shape = _shape(centres)
        if not features:
            channels, dtype = 3, xyz.dtype
        else:
            channels = _channels(_shape(features[0]))
            channels = _add(channels, 3) if self.use_xyz else channels
            dtype = features[0].dtype
        return keras.KerasTensor((shape[0], shape[1], self.nsample, channels), dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "radius": self.radius, "nsample": self.nsample, "use_xyz": self.use_xyz,
                "xyz_first": self.xyz_first, "chunk_size": self.chunk_size}  # fmt: skip


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class GroupAll(_NoAutocast):
    """All points as one group, as the original `sample_and_group_all`: `-> (B, 1, N, 3 + C)`.

    Called on `xyz` or `[xyz, features]`. The group's centre is the origin,
    so the coordinates are not shifted; they come first (`[xyz, features]`).
    The `(B, 1, 3)` centre itself (zeros, which the part segmentation
    network interpolates from) is returned first when `return_centre`.

    Args:
        use_xyz: Whether xyz is concatenated to the features.
        return_centre: Return `(centre, grouped)` instead of `grouped`.
    """

    _INPUTS = (1, 2)

    def __init__(self, use_xyz=True, return_centre=False, **kwargs):
        super().__init__(**kwargs)
        self.use_xyz = _check_bool(use_xyz, f"{type(self).__name__}: use_xyz")
        self.return_centre = _check_bool(return_centre, f"{type(self).__name__}: return_centre")

    def _check(self, shapes):
        _check_xyz(shapes[0], f"{type(self).__name__}: xyz")

    def call(self, inputs):
        xyz, *features = _as_list(inputs, (1, 2), type(self).__name__)
        centre, grouped, _, _ = sampling.sample_and_group_all(xyz, features[0] if features else None,
                                                              use_xyz=self.use_xyz)  # fmt: skip
        return (centre, grouped) if self.return_centre else grouped

    def compute_output_spec(self, inputs):
        xyz, *features = _as_list(inputs, (1, 2), type(self).__name__)
        shape = _shape(xyz)
        if not features:
            channels, dtype = 3, xyz.dtype
        else:
            channels = _channels(_shape(features[0]))
            channels = _add(channels, 3) if self.use_xyz else channels
            dtype = features[0].dtype
        grouped = keras.KerasTensor((shape[0], 1, shape[1], channels), dtype=dtype)
        if self.return_centre:
            return keras.KerasTensor((shape[0], 1, 3), dtype=xyz.dtype), grouped
        return grouped

    def get_config(self):
        return {**super().get_config(), "use_xyz": self.use_xyz, "return_centre": self.return_centre}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class ThreeNNInterpolate(_NoAutocast):
    """Feature propagation's interpolation, as the original `pointnet_fp_module`.

    Called on `[unknown_xyz, known_xyz, known_features]` (`(B, N, 3)`,
    `(B, M, 3)`, `(B, M, C)`); returns `(B, N, C)`: the features of each
    unknown point's three nearest known points weighted by
    `1 / max(d2, 1e-10)`, normalised.

    Args:
        chunk_size: Unknown points handled at a time (bounds the `B x N x M`
            distance matrix); None: all at once.
    """

    _INPUTS = (3,)

    def __init__(self, chunk_size=None, **kwargs):
        super().__init__(**kwargs)
        self.chunk_size = sampling.check_chunk_size(chunk_size, f"{type(self).__name__}: chunk_size")

    def _check(self, shapes):
        _check_xyz(shapes[0], f"{type(self).__name__}: unknown xyz")
        _check_xyz(shapes[1], f"{type(self).__name__}: known xyz")

    def call(self, inputs):
        unknown, known, features = _as_list(inputs, (3,), type(self).__name__)
        dist, idx = sampling.three_nn(unknown, known, chunk_size=self.chunk_size)
        return sampling.three_interpolate(features, idx, sampling.interpolation_weights(dist))

    def compute_output_spec(self, inputs):
        unknown, _, features = _as_list(inputs, (3,), type(self).__name__)
        shape = _shape(unknown)
        return keras.KerasTensor((shape[0], shape[1], _channels(_shape(features))), dtype=features.dtype)

    def get_config(self):
        return {**super().get_config(), "chunk_size": self.chunk_size}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class KNN(_NoAutocast):
    """DGCNN's k nearest neighbours in feature space: `-> (B, M, k)` int32 indices.

    Called on `points` (each point's neighbours in its own cloud, itself
    included, as the original) or `[queries, points]`. See `sampling.knn`.

    Args:
        k: Neighbours per point.
        chunk_size: Queries handled at a time (bounds the `B x M x N` distance
            matrix to `B x chunk_size x N`); None: all at once.
    """

    _INPUTS = (1, 2)

    def __init__(self, k, chunk_size=None, **kwargs):
        super().__init__(**kwargs)
        self.k = check_positive_int(k, f"{type(self).__name__}: k")
        self.chunk_size = sampling.check_chunk_size(chunk_size, f"{type(self).__name__}: chunk_size")

    def _check(self, shapes):
        _check_k(self.k, shapes[-1], type(self).__name__)

    def call(self, inputs):
        items = _as_list(inputs, (1, 2), type(self).__name__)
        queries, points = (items[0], items[0]) if len(items) == 1 else items
        return sampling.knn(queries, points, self.k, chunk_size=self.chunk_size)

    def compute_output_spec(self, inputs):
        items = _as_list(inputs, (1, 2), type(self).__name__)
        shape = _shape(items[0])
        return keras.KerasTensor((shape[0], shape[1], self.k), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "k": self.k, "chunk_size": self.chunk_size}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class EdgeFeatures(_NoAutocast):
    """DGCNN's edge features: `(B, N, C) -> (B, N, k, 2C)`.

    Called on `features` (neighbours by `knn` of the features themselves:
    the dynamic graph) or `[features, idx]` with `(B, N, k)` neighbour
    indices from `KNN` (e.g. the semantic segmentation network's neighbours
    of the coordinates only).

    Args:
        k: Neighbours per point.
        centre_first: `[x_i, x_j - x_i]` (True: the TensorFlow DGCNN
            `get_edge_feature`) or `[x_j - x_i, x_i]` (False: the PyTorch
            `get_graph_feature`).
        chunk_size: Queries per kNN chunk; None: all at once.
    """

    _INPUTS = (1, 2)

    def __init__(self, k, centre_first=True, chunk_size=None, **kwargs):
        super().__init__(**kwargs)
        self.k = check_positive_int(k, f"{type(self).__name__}: k")
        self.centre_first = _check_bool(centre_first, f"{type(self).__name__}: centre_first")
        self.chunk_size = sampling.check_chunk_size(chunk_size, f"{type(self).__name__}: chunk_size")

    def _check(self, shapes):
        if len(shapes) == 1:
            _check_k(self.k, shapes[0], type(self).__name__)
        elif shapes[1][-1] is not None and shapes[1][-1] != self.k:
            raise ValueError(f"{type(self).__name__}: the indices have {shapes[1][-1]} neighbours, expected k={self.k}")

    def call(self, inputs):
        features, *idx = _as_list(inputs, (1, 2), type(self).__name__)
        idx = idx[0] if idx else sampling.knn(features, features, self.k, chunk_size=self.chunk_size)
        return sampling.edge_features(features, idx, centre_first=self.centre_first)

    def compute_output_spec(self, inputs):
        features = _as_list(inputs, (1, 2), type(self).__name__)[0]
        shape = _shape(features)
        channels = None if shape[-1] is None else 2 * shape[-1]
        return keras.KerasTensor((shape[0], shape[1], self.k, channels), dtype=features.dtype)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "centre_first": self.centre_first,
                "chunk_size": self.chunk_size}  # fmt: skip
