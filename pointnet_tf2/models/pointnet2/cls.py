"""PointNet++ classifiers: single-scale (`pointnet2_cls_ssg`) and multi-scale grouping (`pointnet2_cls_msg`).

The networks of charlesq34/pointnet2 `models/pointnet2_cls_ssg.py` and
`models/pointnet2_cls_msg.py`: two set abstraction levels, a group-all level
(its max is the global feature), then `fc1` 512, `fc2` 256 (each with batch
norm, ReLU and dropout) and `fc3` logits.
"""

import keras

from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet2.backbone import check_chunk_size
from pointnet_tf2.models.pointnet2.backbone import check_msg_levels
from pointnet_tf2.models.pointnet2.backbone import check_ssg_levels
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


def _classify(points, xyz, features, *, level, global_mlp, num_classes, head_widths, dropout_rate, bn_momentum,
              model, name):
    """The group-all level `layer{level}` on the last level's output, then the fc head and the logits."""
    _, features = set_abstraction_all(xyz, features, mlp=global_mlp, name=f"layer{level}", bn_momentum=bn_momentum)
    x = keras.layers.Flatten(name="global_feature")(features)
    x = fc_head(x, head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum, model=model)
    logits = logits_layer(x, num_classes, name=f"fc{len(head_widths) + 1}")
    return PointCloudModel(points, logits, name=name)


@register_model(
    "pointnet2_cls_ssg", family="pointnet2", task="cls", preprocessing=SHAPES,
    description="PointNet++ classifier, single-scale grouping (paper: 90.7% ModelNet40, XYZ)",
    recipe=TRAINING_DEFAULTS["pointnet2_cls_ssg"],
    test_config=dict(num_classes=4, num_points=None, **TINY_SSG, global_mlp=(16,), head_widths=(8,)),
)
def pointnet2_cls_ssg(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    npoints=(512, 128),
    radii=(0.2, 0.4),
    nsamples=(32, 64),
    mlps=((64, 64, 128), (128, 128, 256)),
    global_mlp=(256, 512, 1024),
    head_widths=(512, 256),
    dropout_rate=0.5,
    bn_momentum=0.99,
    chunk_size=None,
    name="pointnet2_cls_ssg",
):
    """Builds the PointNet++ SSG classifier (`models/pointnet2_cls_ssg.py`).

    points -> `layer1` (512 centres, radius 0.2, 32 points, MLP 64-64-128) ->
    `layer2` (128, 0.4, 64, 128-128-256) -> `layer3` (group-all, 256-512-1024)
    -> `fc1` 512, `dp1`, `fc2` 256, `dp2` -> `fc3` logits. With the defaults:
    1,475,688 trainable parameters for 40 classes, as the original graph.

    Normals (`input_dims=6`: XYZ then normals) enter as point features of the
    first level, concatenated after the relative coordinates (the original's
    `[grouped_xyz, grouped_points]`); its first layer then has 6 input channels.

    Args:
        num_classes: Number of output classes (>= 2).
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point: 3 (XYZ) or more (XYZ first, then
            features such as normals).
        npoints: Centres sampled (farthest point sampling) at each level.
        radii: Ball radius of each level.
        nsamples: Points grouped per ball at each level.
        mlps: Shared MLP widths of each level.
        global_mlp: Shared MLP widths of the group-all level (the last is the
            global feature size).
        head_widths: Fully connected widths, each followed by dropout.
        dropout_rate: Dropout rate of the head (the original keeps 0.5: 0.5).
        bn_momentum: Initial batch-norm momentum (the original's `bn_decay`).
        chunk_size: Centres per ball-query chunk, bounding the `B x M x N`
            distance matrix; None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to `(B, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    model = "pointnet2_cls_ssg"
    num_classes = check_num_classes(num_classes)
    npoints, radii, nsamples, mlps = check_ssg_levels(model, npoints, radii, nsamples, mlps)
    global_mlp = check_widths(global_mlp, f"{model}: global_mlp")
    chunk_size = check_chunk_size(chunk_size, model)
    points = points_input(num_points, input_dims, model)

    xyz, features = split_points(points, model)
    for i, (npoint, radius, nsample, mlp) in enumerate(zip(npoints, radii, nsamples, mlps)):
        xyz, features = set_abstraction(xyz, features, npoint=npoint, radius=radius, nsample=nsample, mlp=mlp,
                                        name=f"layer{i + 1}", bn_momentum=bn_momentum, chunk_size=chunk_size)
    return _classify(points, xyz, features, level=len(npoints) + 1, global_mlp=global_mlp, num_classes=num_classes,
                     head_widths=head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum, model=model,
                     name=name)


@register_model(
    "pointnet2_cls_msg", family="pointnet2", task="cls", preprocessing=SHAPES,
    description="PointNet++ classifier, multi-scale grouping (as intended: upstream use_nchw defect fixed)",
    recipe=TRAINING_DEFAULTS["pointnet2_cls_msg"],
    test_config=dict(num_classes=4, num_points=None, **TINY_MSG, global_mlp=(16,), head_widths=(8,)),
)
def pointnet2_cls_msg(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    npoints=(512, 128),
    radii=((0.1, 0.2, 0.4), (0.2, 0.4, 0.8)),
    nsamples=((16, 32, 128), (32, 64, 128)),
    mlps=(((32, 32, 64), (64, 64, 128), (64, 96, 128)), ((64, 64, 128), (128, 128, 256), (128, 128, 256))),
    global_mlp=(256, 512, 1024),
    head_widths=(512, 256),
    dropout_rate=0.6,
    bn_momentum=0.99,
    chunk_size=None,
    name="pointnet2_cls_msg",
):
    """Builds the PointNet++ MSG classifier as intended (`models/pointnet2_cls_msg.py`).

    points -> `layer1` (512 centres; radii 0.1/0.2/0.4 with 16/32/128 points
    and MLPs 32-32-64, 64-64-128, 64-96-128) -> `layer2` (128 centres; radii
    0.2/0.4/0.8, 32/64/128 points, 64-64-128, 128-128-256, 128-128-256) ->
    `layer3` (group-all, 256-512-1024) -> `fc1` 512, `dp1`, `fc2` 256, `dp2`
    -> `fc3`. Multi-scale grouping concatenates `[grouped features, relative
    xyz]` (the reverse of SSG). With the defaults: 1,747,368 trainable
    parameters for 40 classes.

    The upstream defect: the original calls its first MSG level with
    `use_nchw=True`; `pointnet_sa_module_msg` then transposes the grouped
    points to NCHW but never passes `data_format` to `tf_util.conv2d`, so its
    1x1 convolutions run over the neighbour axis instead of the channels
    (upstream issue #68) and the level emits 9 channels; that graph has
    1,658,120 parameters. This builder makes the network the paper and the
    code intend (every convolution over the channels, as `use_nchw=False`
    gives), which is also the network of the widely used PyTorch port.
    Checkpoints of the defective graph do not map onto it.

    Args:
        num_classes: Number of output classes (>= 2).
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point: 3 (XYZ) or more (XYZ first, then normals).
        npoints: Centres sampled at each level.
        radii: Per level, the ball radius of each scale.
        nsamples: Per level, the points grouped per ball at each scale.
        mlps: Per level, the shared MLP widths of each scale.
        global_mlp: Shared MLP widths of the group-all level.
        head_widths: Fully connected widths, each followed by dropout.
        dropout_rate: Dropout rate of the head (the original keeps 0.4: 0.6).
        bn_momentum: Initial batch-norm momentum.
        chunk_size: Centres per ball-query chunk; None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to `(B, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    model = "pointnet2_cls_msg"
    num_classes = check_num_classes(num_classes)
    npoints, radii, nsamples, mlps = check_msg_levels(model, npoints, radii, nsamples, mlps)
    global_mlp = check_widths(global_mlp, f"{model}: global_mlp")
    chunk_size = check_chunk_size(chunk_size, model)
    points = points_input(num_points, input_dims, model)

    xyz, features = split_points(points, model)
    for i, (npoint, level_radii, level_nsamples, level_mlps) in enumerate(zip(npoints, radii, nsamples, mlps)):
        xyz, features = set_abstraction_msg(xyz, features, npoint=npoint, radii=level_radii, nsamples=level_nsamples,
                                            mlps=level_mlps, name=f"layer{i + 1}", bn_momentum=bn_momentum,
                                            chunk_size=chunk_size)  # fmt: skip
    return _classify(points, xyz, features, level=len(npoints) + 1, global_mlp=global_mlp, num_classes=num_classes,
                     head_widths=head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum, model=model,
                     name=name)
