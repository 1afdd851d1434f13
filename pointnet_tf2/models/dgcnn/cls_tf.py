"""The official TensorFlow 1 DGCNN classifier: `dgcnn_cls_tf` (`tensorflow/models/dgcnn.py`).

Layer names are the TF1 scopes with "/" replaced by "_": `transform_net1/tconv1`
-> `transform_net1_tconv1` (+ `_bn`), `dgcnn1` ... `dgcnn4`, `agg`, `fc1` ...
`fc3`; a scope's `weights` ([1, 1, C_in, C_out]) and `biases` are the Dense
kernel (reshaped to (C_in, C_out)) and bias, `bn/beta`, `bn/gamma` and the
ExponentialMovingAverage shadows of `bn/moments/Squeeze` (mean) and
`Squeeze_1` (variance) the `<scope>_bn` layer's weights.
"""

import keras

from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.dgcnn.backbone import SHAPES
from pointnet_tf2.models.dgcnn.backbone import NeighbourMaxPooling
from pointnet_tf2.models.dgcnn.backbone import check_chunk_size
from pointnet_tf2.models.dgcnn.backbone import check_k
from pointnet_tf2.models.dgcnn.backbone import check_momentum
from pointnet_tf2.models.dgcnn.backbone import edge_features
from pointnet_tf2.models.dgcnn.backbone import input_transform as apply_input_transform
from pointnet_tf2.models.dgcnn.backbone import logits_layer
from pointnet_tf2.models.dgcnn.backbone import tf_conv_bn
from pointnet_tf2.models.dgcnn.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.pointnet import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "dgcnn_cls_tf", family="dgcnn", task="cls", preprocessing=SHAPES,
    description="DGCNN classifier, the official TF1 network (input transform net, max pooling)",
    recipe=TRAINING_DEFAULTS["dgcnn_cls_tf"],
    test_config=dict(num_classes=3, num_points=None, k=4, edge_widths=(8, 8), emb_dims=16, head_widths=(16, 8),
                     tnet_edge_widths=(8,), tnet_conv_widths=(16,), tnet_fc_widths=(8,)),
)
def dgcnn_cls_tf(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    k=20,
    input_transform=True,
    edge_widths=(64, 64, 64, 128),
    emb_dims=1024,
    head_widths=(512, 256),
    dropout=0.5,
    tnet_edge_widths=(64, 128),
    tnet_conv_widths=(1024,),
    tnet_fc_widths=(512, 256),
    bn_momentum=0.99,
    knn_chunk_size=None,
    name="dgcnn_cls_tf",
):
    """Builds the official TF1 DGCNN classifier.

    points -> [input transform net on the points' edge features, points @ T]
    -> EdgeConv blocks `edge_widths` (`dgcnn1`, ...; each: kNN in the
    current feature space, edge features `[x_i, x_j - x_i]`, 1x1
    convolution with bias, batch norm, ReLU, max over the k neighbours) ->
    concatenation -> `agg` convolution to `emb_dims` -> max over points ->
    `fc1` + dropout, `fc2` + dropout -> `fc3` logits. With the defaults:
    1,836,081 trainable parameters and 8,192 moving statistics for 40
    classes, as the original.

    Args:
        num_classes: Number of output classes (>= 2).
        num_points: Points per cloud, or None for any number (>= k).
        input_dims: Channels per point (3 for XYZ; the transform turns the first 3).
        k: Neighbours per point in every EdgeConv, the transform net's too (20).
        input_transform: Whether to use the input transform net.
        edge_widths: Output width of each EdgeConv block.
        emb_dims: Width of the `agg` layer, the global feature (1024).
        head_widths: Widths of the fully connected layers before the logits.
        dropout: Dropout rate after each of them (the original keeps 0.5: 0.5).
        tnet_edge_widths: Transform net: widths of the convolutions on edges.
        tnet_conv_widths: Transform net: per-point widths after the max over neighbours.
        tnet_fc_widths: Transform net: fully connected widths.
        bn_momentum: Initial batch-norm momentum (the original's `bn_decay`, scheduled in training).
        knn_chunk_size: Points whose neighbours are searched at a time
            (bounds the `B x N x N` distance matrix); None: all at once.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to `(B, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_classes = check_num_classes(num_classes)
    k = check_k(k, num_points)
    edge_widths = check_widths(edge_widths, "edge_widths")
    emb_dims = check_positive_int(emb_dims, "emb_dims")
    head_widths = check_widths(head_widths, "head_widths", allow_empty=True)
    tnet_edge_widths = check_widths(tnet_edge_widths, "tnet_edge_widths")
    tnet_conv_widths = check_widths(tnet_conv_widths, "tnet_conv_widths", allow_empty=True)
    tnet_fc_widths = check_widths(tnet_fc_widths, "tnet_fc_widths", allow_empty=True)
    dropout = check_rate(dropout, "dropout")
    bn_momentum = check_momentum(bn_momentum)
    chunk_size = check_chunk_size(knn_chunk_size)
    points = points_input(num_points, input_dims)

    x = points
    if input_transform:
        x = apply_input_transform(points, k=k, edge_widths=tnet_edge_widths, conv_widths=tnet_conv_widths,
                                  fc_widths=tnet_fc_widths, bn_momentum=bn_momentum, chunk_size=chunk_size)
    blocks = []
    for i, units in enumerate(edge_widths):
        x = edge_features(x, k=k, name=f"edge{i + 1}", centre_first=True, chunk_size=chunk_size)
        x = tf_conv_bn(x, units, name=f"dgcnn{i + 1}", bn_momentum=bn_momentum)
        x = NeighbourMaxPooling(name=f"edge{i + 1}_max")(x)
        blocks.append(x)
    x = keras.layers.Concatenate(name="concat")(blocks) if len(blocks) > 1 else blocks[0]
    x = tf_conv_bn(x, emb_dims, name="agg", bn_momentum=bn_momentum)
    x = PointMaxPooling(name="max_pool")(x)
    for i, units in enumerate(head_widths):
        x = tf_conv_bn(x, units, name=f"fc{i + 1}", bn_momentum=bn_momentum)
        x = keras.layers.Dropout(dropout, name=f"dp{i + 1}")(x)
    logits = logits_layer(x, num_classes, name=f"fc{len(head_widths) + 1}")
    return PointCloudModel(points, logits, name=name)
