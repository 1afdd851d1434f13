"""PointNet++ semantic segmentation (`pointnet2_sem_seg`).

The network of charlesq34/pointnet2 `models/pointnet2_sem_seg.py` (trained
on ScanNet by `scannet/train.py`): four single-scale set abstraction levels,
four feature propagation levels back to every input point, then `fc1` 128
(batch norm, ReLU), `dp1` and `fc2` per-point logits.
"""

from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet2.backbone import check_chunk_size
from pointnet_tf2.models.pointnet2.backbone import check_fp_mlps
from pointnet_tf2.models.pointnet2.backbone import check_ssg_levels
from pointnet_tf2.models.pointnet2.backbone import propagate
from pointnet_tf2.models.pointnet2.backbone import set_abstraction
from pointnet_tf2.models.pointnet2.backbone import split_points
from pointnet_tf2.models.pointnet2.common import fc_head
from pointnet_tf2.models.pointnet2.common import logits_layer
from pointnet_tf2.models.pointnet2.common import BLOCKS
from pointnet_tf2.models.pointnet2.common import TINY_SSG
from pointnet_tf2.models.pointnet2.common import points_input
from pointnet_tf2.models.pointnet2.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "pointnet2_sem_seg", family="pointnet2", task="sem_seg", preprocessing=BLOCKS,
    description="PointNet++ semantic segmentation, single-scale, 4 levels (ScanNet network; S3DIS: 13 classes)",
    recipe=TRAINING_DEFAULTS["pointnet2_sem_seg"],
    test_config=dict(num_classes=5, num_points=None, input_dims=9, **TINY_SSG, fp_mlps=((8,), (8,)),
                     head_widths=(8,)),
)
def pointnet2_sem_seg(
    *,
    num_classes=13,
    num_points=8192,
    input_dims=3,
    npoints=(1024, 256, 64, 16),
    radii=(0.1, 0.2, 0.4, 0.8),
    nsamples=(32, 32, 32, 32),
    mlps=((32, 32, 64), (64, 64, 128), (128, 128, 256), (256, 256, 512)),
    fp_mlps=((256, 256), (256, 256), (256, 128), (128, 128, 128)),
    head_widths=(128,),
    dropout_rate=0.5,
    bn_momentum=0.99,
    chunk_size=None,
    name="pointnet2_sem_seg",
):
    """Builds the PointNet++ semantic segmentation network (`models/pointnet2_sem_seg.py`).

    points -> `layer1` (1024 centres, radius 0.1, 32 points, 32-32-64) ->
    `layer2` (256, 0.2, 32, 64-64-128) -> `layer3` (64, 0.4, 32, 128-128-256)
    -> `layer4` (16, 0.8, 32, 256-256-512) -> `fa_layer1` (256-256) ->
    `fa_layer2` (256-256) -> `fa_layer3` (256-128) -> `fa_layer4`
    (128-128-128) -> `fc1` 128, `dp1` -> `fc2` logits. No group-all level.
    With the defaults (XYZ input as the original's ScanNet network, 13
    classes): 967,981 trainable parameters. The radii are in the cloud's
    units (metres for ScanNet and the S3DIS blocks).

    Channels after XYZ (`input_dims` > 3, e.g. the 9 S3DIS block features:
    the 6 after XYZ) are point features: grouped after the relative
    coordinates in `layer1` and the skip features of `fa_layer4`; the
    original, with XYZ only, has neither.

    Args:
        num_classes: Number of semantic classes (>= 2; the original trains 21
            on ScanNet, 13 is S3DIS).
        num_points: Points per block, or None for any number of points (the
            original trains on 8192).
        input_dims: Channels per point (3: XYZ; XYZ first in any case).
        npoints: Centres sampled at each set abstraction level.
        radii: Ball radius of each level.
        nsamples: Points grouped per ball at each level.
        mlps: Shared MLP widths of each level.
        fp_mlps: Shared MLP widths of each feature propagation level, from the
            top (`fa_layer1`) down to the input points.
        head_widths: Per-point fully connected widths, each followed by dropout.
        dropout_rate: Dropout rate of the head (the original keeps 0.5: 0.5).
        bn_momentum: Initial batch-norm momentum.
        chunk_size: Queries per ball-query / three-NN chunk, bounding the
            `B x M x N` distance matrices; None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to
        `(B, N, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    model = "pointnet2_sem_seg"
    num_classes = check_num_classes(num_classes)
    npoints, radii, nsamples, mlps = check_ssg_levels(model, npoints, radii, nsamples, mlps)
    fp_mlps = check_fp_mlps(fp_mlps, len(npoints), model)
    chunk_size = check_chunk_size(chunk_size, model)
    points = points_input(num_points, input_dims, model)

    xyz, features = split_points(points, model)
    pyramid = [(xyz, features)]
    for i, (npoint, radius, nsample, mlp) in enumerate(zip(npoints, radii, nsamples, mlps)):
        xyz, features = set_abstraction(xyz, features, npoint=npoint, radius=radius, nsample=nsample, mlp=mlp,
                                        name=f"layer{i + 1}", bn_momentum=bn_momentum, chunk_size=chunk_size)
        pyramid.append((xyz, features))
    features = propagate(pyramid, pyramid[0][1], fp_mlps=fp_mlps, names=[f"fa_layer{k + 1}" for k in range(len(fp_mlps))],
                         bn_momentum=bn_momentum, chunk_size=chunk_size)  # fmt: skip
    x = fc_head(features, head_widths, dropout_rate=dropout_rate, bn_momentum=bn_momentum, model=model)
    logits = logits_layer(x, num_classes, name=f"fc{len(head_widths) + 1}")
    return PointCloudModel(points, logits, name=name)
