"""The official TF1 DGCNN semantic segmentation network: `dgcnn_sem_seg` (`tensorflow/sem_seg/model.py`).

Layer names are the TF1 scopes with "/" replaced by "_" (`adj_conv1` ...
`adj_conv5`, `adj_conv7`, `seg/conv1` -> `seg_conv1` ... `seg_conv3`, batch
norms `<scope>_bn`); moving statistics are `<scope>/bn/pop_mean` and
`pop_var` in the original's checkpoints.
"""

import keras

from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers import tile_and_concatenate
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.dgcnn.backbone import S3DIS_BLOCKS
from pointnet_tf2.models.dgcnn.backbone import check_blocks
from pointnet_tf2.models.dgcnn.backbone import check_chunk_size
from pointnet_tf2.models.dgcnn.backbone import check_k
from pointnet_tf2.models.dgcnn.backbone import check_momentum
from pointnet_tf2.models.dgcnn.backbone import first_neighbours
from pointnet_tf2.models.dgcnn.backbone import logits_layer
from pointnet_tf2.models.dgcnn.backbone import tf_conv_bn
from pointnet_tf2.models.dgcnn.backbone import tf_edge_blocks
from pointnet_tf2.models.dgcnn.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.pointnet import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "dgcnn_sem_seg", family="dgcnn", task="sem_seg", preprocessing=S3DIS_BLOCKS,
    description="DGCNN semantic segmentation, the official TF1 network (S3DIS: 13 classes, 9-d points)",
    recipe=TRAINING_DEFAULTS["dgcnn_sem_seg"],
    test_config=dict(num_classes=5, num_points=None, k=4, edge_widths=((8, 8), (8,)), emb_dims=16,
                     seg_widths=(16, 8)),
)
def dgcnn_sem_seg(
    *,
    num_classes=13,
    num_points=4096,
    input_dims=9,
    k=20,
    knn_start_channel=6,
    edge_widths=((64, 64), (64, 64), (64,)),
    emb_dims=1024,
    seg_widths=(512, 256),
    dropout=0.3,
    bn_momentum=0.99,
    knn_chunk_size=None,
    name="dgcnn_sem_seg",
):
    """Builds the official TF1 DGCNN semantic segmentation network (S3DIS version).

    The first EdgeConv searches each point's neighbours among channels
    `knn_start_channel:` only (6: the room-normalised XYZ of an S3DIS block,
    as the original) and builds the edge features `[x_i, x_j - x_i]` of all
    the channels; the next blocks search the space of their input features.
    Blocks `edge_widths` (`adj_conv1`, `adj_conv2`, ..., max over the k
    neighbours) -> their outputs concatenated -> `adj_conv7` to `emb_dims`
    -> max over points -> tiled to every point, concatenated with every
    block's output -> `seg_conv1`, `seg_conv2` -> dropout -> per-point
    logits. No input transform, as the original. With the defaults: 985,677
    trainable parameters and 4,224 moving statistics, as the original.

    Args:
        num_classes: Number of semantic classes (>= 2).
        num_points: Points per block, or None for any number (>= k).
        input_dims: Channels per point (9 for the S3DIS blocks).
        k: Neighbours per point in every EdgeConv (20).
        knn_start_channel: First channel of the first neighbour search (0: all channels).
        edge_widths: Convolution widths of each EdgeConv block.
        emb_dims: Width of the aggregation layer, the global feature (1024).
        seg_widths: Per-point widths of the segmentation layers.
        dropout: Dropout rate before the last layer (the original keeps 0.7: 0.3).
        bn_momentum: Initial batch-norm momentum (the original's `bn_decay`).
        knn_chunk_size: Points whose neighbours are searched at a time
            (bounds the `B x N x N` distance matrix); None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to `(B, N, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_classes = check_num_classes(num_classes)
    k = check_k(k, num_points)
    input_dims = check_positive_int(input_dims, "input_dims")
    if (isinstance(knn_start_channel, bool) or not isinstance(knn_start_channel, int)
            or not 0 <= knn_start_channel < input_dims):
        raise ValueError(f"knn_start_channel must be an integer in [0, input_dims={input_dims}), "
                         f"got {knn_start_channel!r}")
    edge_widths = check_blocks(edge_widths, "edge_widths")
    emb_dims = check_positive_int(emb_dims, "emb_dims")
    seg_widths = check_widths(seg_widths, "seg_widths", allow_empty=True)
    dropout = check_rate(dropout, "dropout")
    bn_momentum = check_momentum(bn_momentum)
    chunk_size = check_chunk_size(knn_chunk_size)
    points = points_input(num_points, input_dims)

    idx = first_neighbours(points, k=k, start=knn_start_channel, chunk_size=chunk_size)
    blocks = tf_edge_blocks(points, edge_widths, k=k, bn_momentum=bn_momentum, chunk_size=chunk_size, first_idx=idx)
    x = keras.layers.Concatenate(name="concat_blocks")(blocks) if len(blocks) > 1 else blocks[0]
    convs = sum(len(widths) for widths in edge_widths)
    x = tf_conv_bn(x, emb_dims, name=f"adj_conv{convs + 2}", bn_momentum=bn_momentum)
    global_feature = PointMaxPooling(name="max_pool")(x)
    # seg_conv1 reads [tile(global_feature), *blocks] without tiling (ConcatPointwiseDense).
    x = [global_feature, *blocks]
    for i, units in enumerate(seg_widths):
        # The original's seg/conv1 and seg/conv2 get no bn_decay (a fixed 0.9); see defaults.py.
        x = tf_conv_bn(x, units, name=f"seg_conv{i + 1}", bn_momentum=bn_momentum)
    x = tile_and_concatenate(x)  # without segmentation layers
    x = keras.layers.Dropout(dropout, name="dp1")(x)
    logits = logits_layer(x, num_classes, name=f"seg_conv{len(seg_widths) + 1}")
    return PointCloudModel(points, logits, name=name)
