"""The paper's DGCNN classifier: `dgcnn_cls`, the official PyTorch network (`pytorch/model.py`, class `DGCNN`).

Layer names are the PyTorch module names, so a `state_dict` maps one-to-one
(strip DataParallel's `module.` prefix):

- `conv1.0.weight` (64, 6, 1, 1) ... `conv4.0.weight` -> `conv1` ... `conv4`
  kernel `w[:, :, 0, 0].T`; `conv5.0.weight` (emb, 512, 1) -> `conv5` kernel
  `w[:, :, 0].T` (no biases);
- `bn1` ... `bn7` (`bn1` ... `bn5` are also stored as `conv1.1` ... `conv5.1`)
  -> `bn1` ... `bn7`: weight -> gamma, bias -> beta, running_mean /
  running_var -> moving_mean / moving_variance (`num_batches_tracked` dropped);
- `linear1.weight` -> `linear1` kernel `w.T` (no bias); `linear2.weight`,
  `linear2.bias`, `linear3.*` -> `linear2`, `linear3` kernel `w.T` and bias.

Channel orders match without permutation: edge features `[x_j - x_i, x_i]`,
the concatenation `(x1, x2, x3, x4)`, pooling `(max, mean)`. `pointnet-tf2
convert-torch` (`pointnet_tf2.migration.torch_checkpoint`) applies this
mapping to a checkpoint file, without torch.
"""

import keras

from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.dgcnn.backbone import SHAPES
from pointnet_tf2.models.dgcnn.backbone import TORCH_BN_MOMENTUM
from pointnet_tf2.models.dgcnn.backbone import NeighbourMaxPooling
from pointnet_tf2.models.dgcnn.backbone import check_chunk_size
from pointnet_tf2.models.dgcnn.backbone import check_k
from pointnet_tf2.models.dgcnn.backbone import check_momentum
from pointnet_tf2.models.dgcnn.backbone import edge_features
from pointnet_tf2.models.dgcnn.backbone import logits_layer
from pointnet_tf2.models.dgcnn.backbone import torch_conv_bn
from pointnet_tf2.models.dgcnn.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.pointnet import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "dgcnn_cls", family="dgcnn", task="cls", preprocessing=SHAPES, feature_layer="pooled",
    description="DGCNN classifier, the paper's PyTorch network (paper: 92.9% ModelNet40)",
    recipe=TRAINING_DEFAULTS["dgcnn_cls"],
    test_config=dict(num_classes=3, num_points=None, k=4, edge_widths=(8, 8), emb_dims=16, head_widths=(16, 8)),
)
def dgcnn_cls(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    k=20,
    edge_widths=(64, 64, 128, 256),
    emb_dims=1024,
    head_widths=(512, 256),
    dropout=0.5,
    bn_momentum=TORCH_BN_MOMENTUM,
    knn_chunk_size=None,
    name="dgcnn_cls",
):
    """Builds the DGCNN classifier of the paper (the official PyTorch network).

    points -> EdgeConv blocks `edge_widths` (each: kNN in the current
    feature space, edge features `[x_j - x_i, x_i]`, bias-free 1x1
    convolution, batch norm, LeakyReLU 0.2, max over the k neighbours) ->
    concatenation of every block's output -> 1x1 convolution to `emb_dims`
    -> max and mean over points, concatenated -> `linear1` (no bias) + batch
    norm + LeakyReLU + dropout -> `linear2` (with bias, as the original) +
    batch norm + LeakyReLU + dropout -> `linear3` logits. Batch norm has
    PyTorch's epsilon (1e-5) and momentum (0.1, Keras 0.9). With the
    defaults: 1,809,576 trainable parameters and 4,608 moving statistics
    for 40 classes, as the original.

    Args:
        num_classes: Number of output classes (>= 2).
        num_points: Points per cloud, or None for any number (>= k).
        input_dims: Channels per point (3 for XYZ).
        k: Neighbours per point in every EdgeConv (20).
        edge_widths: Output width of each EdgeConv block.
        emb_dims: Width of the per-point embedding before pooling (1024).
        head_widths: Widths of the fully connected layers before the logits.
        dropout: Dropout rate after each of them (0.5).
        bn_momentum: Keras batch-norm momentum (PyTorch's 0.1 = 0.9 here).
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
    dropout = check_rate(dropout, "dropout")
    bn_momentum = check_momentum(bn_momentum)
    chunk_size = check_chunk_size(knn_chunk_size)
    points = points_input(num_points, input_dims)

    x, blocks = points, []
    for i, units in enumerate(edge_widths):
        x = edge_features(x, k=k, name=f"edge{i + 1}", centre_first=False, chunk_size=chunk_size)
        x = torch_conv_bn(x, units, name=f"conv{i + 1}", bn_name=f"bn{i + 1}", bn_momentum=bn_momentum)
        x = NeighbourMaxPooling(name=f"edge{i + 1}_max")(x)
        blocks.append(x)
    x = keras.layers.Concatenate(name="concat")(blocks) if len(blocks) > 1 else blocks[0]
    count = len(edge_widths) + 1
    x = torch_conv_bn(x, emb_dims, name=f"conv{count}", bn_name=f"bn{count}", bn_momentum=bn_momentum)
    pooled = [PointMaxPooling(name="max_pool")(x), keras.layers.GlobalAveragePooling1D(name="avg_pool")(x)]
    x = keras.layers.Concatenate(name="pooled")(pooled)
    for i, units in enumerate(head_widths):
        # As the original: linear1 without bias, the others with one (before their batch norm).
        x = torch_conv_bn(x, units, name=f"linear{i + 1}", bn_name=f"bn{count + i + 1}", bn_momentum=bn_momentum,
                          use_bias=i > 0)
        x = keras.layers.Dropout(dropout, name=f"dp{i + 1}")(x)
    logits = logits_layer(x, num_classes, name=f"linear{len(head_widths) + 1}")
    return PointCloudModel(points, logits, name=name)
