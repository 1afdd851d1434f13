"""PointNet++ part segmentation: SSG with normals (`pointnet2_part_seg`) and MSG with the one-hot category.

The networks of charlesq34/pointnet2 `models/pointnet2_part_seg.py` and
`models/pointnet2_part_seg_msg_one_hot.py`: set abstraction down to a
group-all level, feature propagation back to every input point, then `fc1`
128 (batch norm, ReLU), `dp1` and `fc2` per-point part logits.

Both take `{"points": (B, N, C), "category": (B, num_categories) one-hot}`
and return `{"parts": (B, N, num_parts)}`. PointNet++ has no category
classifier: the MSG network reads the one-hot category (tiled to every point,
before XYZ and normals, into its last feature propagation); the SSG network
does not use it. So training compiles the part loss and metrics only, and
prediction needs the category given (as for `dgcnn_part_seg`).
"""

import keras

from pointnet_tf2.layers import BroadcastToPoints
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet2.backbone import check_chunk_size
from pointnet_tf2.models.pointnet2.backbone import check_fp_mlps
from pointnet_tf2.models.pointnet2.backbone import check_msg_levels
from pointnet_tf2.models.pointnet2.backbone import check_ssg_levels
from pointnet_tf2.models.pointnet2.backbone import concat_features
from pointnet_tf2.models.pointnet2.backbone import propagate
from pointnet_tf2.models.pointnet2.backbone import set_abstraction
from pointnet_tf2.models.pointnet2.backbone import set_abstraction_all
from pointnet_tf2.models.pointnet2.backbone import set_abstraction_msg
from pointnet_tf2.models.pointnet2.backbone import split_points
from pointnet_tf2.models.pointnet2.common import fc_head
from pointnet_tf2.models.pointnet2.common import logits_layer
from pointnet_tf2.models.pointnet2.common import SHAPES
from pointnet_tf2.models.pointnet2.common import TINY_MSG
from pointnet_tf2.models.pointnet2.common import TINY_SSG
from pointnet_tf2.models.pointnet2.common import points_input
from pointnet_tf2.models.pointnet2.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


def _segment(points, category, pyramid, *, skip0, fp_mlps, fp_names, num_parts, head_widths, dropout_rate,
             bn_momentum, chunk_size, model, name):  # fmt: skip
    """Feature propagation down to the input points and the per-point head."""
    features = propagate(pyramid, skip0, fp_mlps=fp_mlps, names=fp_names, bn_momentum=bn_momentum,
                         chunk_size=chunk_size)  # fmt: skip
    x = fc_head(features, head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum, model=model)
    parts = logits_layer(x, num_parts, name=f"fc{len(head_widths) + 1}")
    return PointCloudModel({"points": points, "category": category}, {"parts": parts}, name=name)


@register_model(
    "pointnet2_part_seg", family="pointnet2", task="part_seg", preprocessing=SHAPES,
    description="PointNet++ part segmentation, single-scale, XYZ + normals (ShapeNet part: 50 parts)",
    recipe=TRAINING_DEFAULTS["pointnet2_part_seg"],
    test_config=dict(num_parts=6, num_categories=3, num_points=None, **TINY_SSG, global_mlp=(16,),
                     fp_mlps=((8,), (8,), (8,)), head_widths=(8,)),
)
def pointnet2_part_seg(
    *,
    num_parts=50,
    num_categories=16,
    num_points=2048,
    input_dims=6,
    npoints=(512, 128),
    radii=(0.2, 0.4),
    nsamples=(64, 64),
    mlps=((64, 64, 128), (128, 128, 256)),
    global_mlp=(256, 512, 1024),
    fp_mlps=((256, 256), (256, 128), (128, 128, 128)),
    head_widths=(128,),
    dropout_rate=0.5,
    bn_momentum=0.99,
    chunk_size=None,
    name="pointnet2_part_seg",
):
    """Builds the PointNet++ SSG part segmentation network (`models/pointnet2_part_seg.py`).

    points (XYZ + normals) -> `layer1` (512, 0.2, 64, 64-64-128) -> `layer2`
    (128, 0.4, 64, 128-128-256) -> `layer3` (group-all, 256-512-1024) ->
    `fa_layer1` (256-256) -> `fa_layer2` (256-128) -> `fa_layer3` (skip
    features `[XYZ, normals]` of the input points, 128-128-128) -> `fc1` 128,
    `dp1` -> `fc2` part logits. With the defaults: 1,409,202 trainable
    parameters, as the original graph. With `input_dims=3` (no normals) the
    first level groups coordinates only and the skip features are XYZ.

    Args:
        num_parts: Number of part labels over all categories (>= 2).
        num_categories: Number of object categories (>= 2): the width of the
            "category" input, which this network does not use.
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point (6: XYZ + normals, as the original; 3: XYZ).
        npoints: Centres sampled at each set abstraction level.
        radii: Ball radius of each level.
        nsamples: Points grouped per ball at each level.
        mlps: Shared MLP widths of each level.
        global_mlp: Shared MLP widths of the group-all level.
        fp_mlps: Shared MLP widths of each feature propagation level, from the
            top (`fa_layer1`) down to the input points.
        head_widths: Per-point fully connected widths, each followed by dropout.
        dropout_rate: Dropout rate of the head (the original keeps 0.5: 0.5).
        bn_momentum: Initial batch-norm momentum.
        chunk_size: Queries per ball-query / three-NN chunk; None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `{"points", "category"}` to `{"parts": (B, N,
        num_parts), "category": (B, num_categories)}` logits (see the module
        docstring for the category).

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    model = "pointnet2_part_seg"
    num_parts = check_num_classes(num_parts, f"{model}: num_parts")
    num_categories = check_num_classes(num_categories, f"{model}: num_categories")
    npoints, radii, nsamples, mlps = check_ssg_levels(model, npoints, radii, nsamples, mlps)
    global_mlp = check_widths(global_mlp, f"{model}: global_mlp")
    fp_mlps = check_fp_mlps(fp_mlps, len(npoints) + 1, model)
    chunk_size = check_chunk_size(chunk_size, model)
    points = points_input(num_points, input_dims, model)
    category = keras.Input(shape=(num_categories,), name="category")

    xyz, features = split_points(points, model)
    skip0 = concat_features([xyz, features], "input_skip")
    pyramid = [(xyz, features)]
    for i, (npoint, radius, nsample, mlp) in enumerate(zip(npoints, radii, nsamples, mlps)):
        xyz, features = set_abstraction(xyz, features, npoint=npoint, radius=radius, nsample=nsample, mlp=mlp,
                                        name=f"layer{i + 1}", bn_momentum=bn_momentum, chunk_size=chunk_size)
        pyramid.append((xyz, features))
    pyramid.append(set_abstraction_all(xyz, features, mlp=global_mlp, name=f"layer{len(npoints) + 1}",
                                       bn_momentum=bn_momentum))  # fmt: skip
    fp_names = [f"fa_layer{k + 1}" for k in range(len(fp_mlps))]
    return _segment(points, category, pyramid, skip0=skip0, fp_mlps=fp_mlps, fp_names=fp_names, num_parts=num_parts,
                    head_widths=head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum,
                    chunk_size=chunk_size, model=model, name=name)  # fmt: skip


@register_model(
    "pointnet2_part_seg_msg", family="pointnet2", task="part_seg", preprocessing=SHAPES,
    description="PointNet++ part segmentation, multi-scale, XYZ + normals + one-hot category (ShapeNet part)",
    recipe=TRAINING_DEFAULTS["pointnet2_part_seg_msg"],
    test_config=dict(num_parts=6, num_categories=3, num_points=None, **TINY_MSG, global_mlp=(16,),
                     fp_mlps=((8,), (8,), (8,)), head_widths=(8,)),
)
def pointnet2_part_seg_msg(
    *,
    num_parts=50,
    num_categories=16,
    num_points=2048,
    input_dims=6,
    npoints=(512, 128),
    radii=((0.1, 0.2, 0.4), (0.4, 0.8)),
    nsamples=((32, 64, 128), (64, 128)),
    mlps=(((32, 32, 64), (64, 64, 128), (64, 96, 128)), ((128, 128, 256), (128, 196, 256))),
    global_mlp=(256, 512, 1024),
    fp_mlps=((256, 256), (256, 128), (128, 128)),
    head_widths=(128,),
    dropout_rate=0.5,
    bn_momentum=0.99,
    chunk_size=None,
    name="pointnet2_part_seg_msg",
):
    """Builds the PointNet++ MSG part segmentation network (`models/pointnet2_part_seg_msg_one_hot.py`).

    points (XYZ + normals) -> `layer1` (512 centres; radii 0.1/0.2/0.4 with
    32/64/128 points, MLPs 32-32-64, 64-64-128, 64-96-128) -> `layer2` (128;
    0.4/0.8, 64/128, 128-128-256, 128-196-256) -> `layer3` (group-all,
    256-512-1024) -> `fa_layer1` (256-256) -> `fa_layer2` (256-128) ->
    `fp_layer3` (the original's scope name; skip features `[one-hot
    category, XYZ, normals]` of every input point, 128-128) -> `fc1` 128,
    `dp1` -> `fc2` part logits. With the defaults: 1,740,958 trainable
    parameters, as the original graph.

    Args:
        num_parts: Number of part labels over all categories (>= 2).
        num_categories: Number of object categories (>= 2), one-hot input.
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point (6: XYZ + normals, as the original; 3: XYZ).
        npoints: Centres sampled at each set abstraction level.
        radii: Per level, the ball radius of each scale.
        nsamples: Per level, the points grouped per ball at each scale.
        mlps: Per level, the shared MLP widths of each scale.
        global_mlp: Shared MLP widths of the group-all level.
        fp_mlps: Shared MLP widths of each feature propagation level, top down.
        head_widths: Per-point fully connected widths, each followed by dropout.
        dropout_rate: Dropout rate of the head (the original keeps 0.5: 0.5).
        bn_momentum: Initial batch-norm momentum.
        chunk_size: Queries per ball-query / three-NN chunk; None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `{"points", "category"}` to `{"parts": (B, N,
        num_parts), "category": (B, num_categories)}` logits (the category
        output is the input, see the module docstring).

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    model = "pointnet2_part_seg_msg"
    num_parts = check_num_classes(num_parts, f"{model}: num_parts")
    num_categories = check_num_classes(num_categories, f"{model}: num_categories")
    npoints, radii, nsamples, mlps = check_msg_levels(model, npoints, radii, nsamples, mlps)
    global_mlp = check_widths(global_mlp, f"{model}: global_mlp")
    fp_mlps = check_fp_mlps(fp_mlps, len(npoints) + 1, model)
    chunk_size = check_chunk_size(chunk_size, model)
    points = points_input(num_points, input_dims, model)
    category = keras.Input(shape=(num_categories,), name="category")

    xyz, features = split_points(points, model)
    tiled = BroadcastToPoints(name="tile_category")([category, points])
    skip0 = concat_features([tiled, xyz, features], "input_skip")
    pyramid = [(xyz, features)]
    for i, (npoint, level_radii, level_nsamples, level_mlps) in enumerate(zip(npoints, radii, nsamples, mlps)):
        xyz, features = set_abstraction_msg(xyz, features, npoint=npoint, radii=level_radii, nsamples=level_nsamples,
                                            mlps=level_mlps, name=f"layer{i + 1}", bn_momentum=bn_momentum,
                                            chunk_size=chunk_size)  # fmt: skip
        pyramid.append((xyz, features))
    pyramid.append(set_abstraction_all(xyz, features, mlp=global_mlp, name=f"layer{len(npoints) + 1}",
                                       bn_momentum=bn_momentum))  # fmt: skip
    # The original names its last feature propagation scope "fp_layer3", the others "fa_layer*".
    fp_names = [f"fa_layer{k + 1}" for k in range(len(fp_mlps) - 1)] + [f"fp_layer{len(fp_mlps)}"]
    return _segment(points, category, pyramid, skip0=skip0, fp_mlps=fp_mlps, fp_names=fp_names, num_parts=num_parts,
                    head_widths=head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum,
                    chunk_size=chunk_size, model=model, name=name)  # fmt: skip
