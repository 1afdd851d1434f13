"""The official TF1 DGCNN part segmentation network: `dgcnn_part_seg` (`part_seg/part_seg_model.py`).

Layer names are the TF1 scopes with "/" replaced by "_" (`transform_net1_tconv1`,
`adj_conv1` ... `adj_conv5`, `adj_conv7`, `one_hot_label_expand`,
`seg/conv1` -> `seg_conv1` ... `seg_conv4`, batch norms `<scope>_bn`). This
network keeps its moving statistics in `<scope>/bn/pop_mean` and
`<scope>/bn/pop_var` (tf_util's `is_dist=True` batch norm).

The zoo's part segmentation contract: inputs `{"points", "category"}` (the
one-hot object category), outputs a dict. The original has no category
classifier, so the output dict holds `"parts"` only (no `"category"`
logits): the category must be given, and training has no auxiliary
category loss (the PointNet default weighs it 0 anyway).
"""

import keras

from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers import tile_and_concatenate
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.dgcnn.backbone import SHAPES
from pointnet_tf2.models.dgcnn.backbone import check_blocks
from pointnet_tf2.models.dgcnn.backbone import check_chunk_size
from pointnet_tf2.models.dgcnn.backbone import check_k
from pointnet_tf2.models.dgcnn.backbone import check_momentum
from pointnet_tf2.models.dgcnn.backbone import input_transform as apply_input_transform
from pointnet_tf2.models.dgcnn.backbone import logits_layer
from pointnet_tf2.models.dgcnn.backbone import tf_conv_bn
from pointnet_tf2.models.dgcnn.backbone import tf_edge_blocks
from pointnet_tf2.models.dgcnn.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.pointnet import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "dgcnn_part_seg", family="dgcnn", task="part_seg", preprocessing=SHAPES,
    description="DGCNN part segmentation, the official TF1 network (ShapeNet part: 16 categories, 50 parts)",
    recipe=TRAINING_DEFAULTS["dgcnn_part_seg"],
    test_config=dict(num_parts=5, num_categories=3, num_points=None, k=4, edge_widths=((8, 8), (8,)), emb_dims=16,
                     category_width=4, seg_widths=(16, 8), tnet_edge_widths=(8,), tnet_conv_widths=(16,),
                     tnet_fc_widths=(8,)),
)
def dgcnn_part_seg(
    *,
    num_parts=50,
    num_categories=16,
    num_points=2048,
    input_dims=3,
    k=20,
    input_transform=True,
    edge_widths=((64, 64), (64, 64), (64,)),
    emb_dims=1024,
    category_width=64,
    seg_widths=(256, 256, 128),
    dropout=0.4,
    tnet_edge_widths=(64, 128),
    tnet_conv_widths=(1024,),
    tnet_fc_widths=(512, 256),
    bn_momentum=0.99,
    knn_chunk_size=None,
    name="dgcnn_part_seg",
):
    """Builds the official TF1 DGCNN part segmentation network.

    points -> [input transform net, points @ T] -> EdgeConv blocks
    `edge_widths` (each: kNN in the current feature space, edge features
    `[x_i, x_j - x_i]`, its convolutions `adj_conv1`, `adj_conv2`, ..., max
    over the k neighbours) -> the blocks' outputs concatenated -> `adj_conv7`
    to `emb_dims` -> max over points; the one-hot category -> fully connected
    `one_hot_label_expand` (`category_width`, batch norm, ReLU); [global
    feature, category feature] tiled to every point and concatenated with
    every block's output -> `seg_conv1`, dropout, `seg_conv2`, dropout,
    `seg_conv3`, ... -> per-point part logits. The aggregation layer is
    numbered two past the last EdgeConv convolution (`adj_conv7` after
    `adj_conv5`: the original's sixth is commented out). With the defaults:
    1,464,443 trainable parameters and 8,064 moving statistics, as the
    original.

    Args:
        num_parts: Number of part labels over all categories (>= 2).
        num_categories: Number of object categories (>= 2).
        num_points: Points per cloud, or None for any number (>= k).
        input_dims: Channels per point.
        k: Neighbours per point in every EdgeConv (20).
        input_transform: Whether to use the input transform net.
        edge_widths: Convolution widths of each EdgeConv block.
        emb_dims: Width of the aggregation layer, the global feature (1024).
        category_width: Width of the category's fully connected layer (64).
        seg_widths: Per-point widths of the segmentation layers; the first
            two are followed by dropout, as the original.
        dropout: Dropout rate in the segmentation layers (original keeps 0.6: 0.4).
        tnet_edge_widths: Transform net: widths of the convolutions on edges.
        tnet_conv_widths: Transform net: per-point widths after the max over neighbours.
        tnet_fc_widths: Transform net: fully connected widths.
        bn_momentum: Initial batch-norm momentum (the original's `bn_decay`).
        knn_chunk_size: Points whose neighbours are searched at a time; None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` from `{"points": (B, N, input_dims), "category": (B,
        num_categories)}` to `{"parts": (B, N, num_parts)}` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_parts = check_num_classes(num_parts, "num_parts")
    num_categories = check_num_classes(num_categories, "num_categories")
    k = check_k(k, num_points)
    edge_widths = check_blocks(edge_widths, "edge_widths")
    emb_dims = check_positive_int(emb_dims, "emb_dims")
    category_width = check_positive_int(category_width, "category_width")
    seg_widths = check_widths(seg_widths, "seg_widths", allow_empty=True)
    tnet_edge_widths = check_widths(tnet_edge_widths, "tnet_edge_widths")
    tnet_conv_widths = check_widths(tnet_conv_widths, "tnet_conv_widths", allow_empty=True)
    tnet_fc_widths = check_widths(tnet_fc_widths, "tnet_fc_widths", allow_empty=True)
    dropout = check_rate(dropout, "dropout")
    bn_momentum = check_momentum(bn_momentum)
    chunk_size = check_chunk_size(knn_chunk_size)
    points = points_input(num_points, input_dims)
    category = keras.Input(shape=(num_categories,), name="category")

    x = points
    if input_transform:
        x = apply_input_transform(points, k=k, edge_widths=tnet_edge_widths, conv_widths=tnet_conv_widths,
                                  fc_widths=tnet_fc_widths, bn_momentum=bn_momentum, chunk_size=chunk_size)
    blocks = tf_edge_blocks(x, edge_widths, k=k, bn_momentum=bn_momentum, chunk_size=chunk_size)
    x = keras.layers.Concatenate(name="concat_blocks")(blocks) if len(blocks) > 1 else blocks[0]
    convs = sum(len(widths) for widths in edge_widths)
    x = tf_conv_bn(x, emb_dims, name=f"adj_conv{convs + 2}", bn_momentum=bn_momentum)
    global_feature = PointMaxPooling(name="max_pool")(x)

    category_feature = tf_conv_bn(category, category_width, name="one_hot_label_expand", bn_momentum=bn_momentum)
    global_and_category = keras.layers.Concatenate(name="global_and_category")([global_feature, category_feature])
    # seg_conv1 reads [tile(global_and_category), *blocks] without tiling (ConcatPointwiseDense).
    x = [global_and_category, *blocks]
    for i, units in enumerate(seg_widths):
        x = tf_conv_bn(x, units, name=f"seg_conv{i + 1}", bn_momentum=bn_momentum)
        if i < 2:  # as the original: dropout after the first two only
            x = keras.layers.Dropout(dropout, name=f"seg_dp{i + 1}")(x)
    x = tile_and_concatenate(x)  # without segmentation layers
    part_logits = logits_layer(x, num_parts, name=f"seg_conv{len(seg_widths) + 1}")
    return PointCloudModel({"points": points, "category": category}, {"parts": part_logits}, name=name)
