"""PointNet embedding head for shape retrieval (metric learning): `pointnet_embed`.

`pointnet_embed` is the PointNet trunk with an embedding head whose output is
L2-normalised, trained with `pointnet_tf2.training.triplet.TripletLoss` on
class-balanced batches. It is registered with `output_kind="embedding"`, which
the trainer reads to use the triplet loss instead of cross-entropy.
"""

import keras

from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet.backbone import SHAPES
from pointnet_tf2.models.pointnet.backbone import global_feature_head
from pointnet_tf2.models.pointnet.backbone import points_input
from pointnet_tf2.models.registry import register_model


@register_model(
    "pointnet_embed", family="pointnet", task="cls", output_kind="embedding", preprocessing=SHAPES,
    description="PointNet trunk + L2-normalised embedding head for shape retrieval (triplet loss)",
    test_config=dict(num_classes=3, num_points=None, embedding_dim=8, mlp1=(8,), mlp2=(16,), head_widths=(16,),
                     tnet_conv_widths=(8,), tnet_fc_widths=(8,)),
)
def pointnet_embed(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    embedding_dim=128,
    input_transform=True,
    feature_transform=True,
    mlp1=(64, 64),
    mlp2=(64, 128, 1024),
    head_widths=(512, 256),
    dropout_rate=0.0,
    tnet_conv_widths=(64, 128, 1024),
    tnet_fc_widths=(512, 256),
    orthogonal_weight=0.001,
    bn_momentum=0.99,
    name="pointnet_embed",
):
    """Builds PointNet with an embedding head: unit vectors for retrieval.

    points -> `pointnet_trunk` -> max pool (`max_pool`) -> fc `head_widths`
    (BN + ReLU, optional dropout) -> Dense(`embedding_dim`) -> L2 normalisation.

    Args:
        num_classes: Classes of the training data (recorded so a checkpoint
            is checked against its dataset; the network does not use it).
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point.
        embedding_dim: Size of the embedding.
        input_transform: Whether to use the 3 x 3 input T-Net.
        feature_transform: Whether to use the feature T-Net.
        mlp1: Per-point widths before the feature transform.
        mlp2: Per-point widths after it.
        head_widths: Fully connected widths before the embedding layer.
        dropout_rate: Dropout after each head layer (0 turns it off).
        tnet_conv_widths: Per-point widths of both T-Nets.
        tnet_fc_widths: Fully connected widths of both T-Nets.
        orthogonal_weight: Weight of the feature-transform regulariser.
        bn_momentum: Batch-norm momentum.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to float32
        `(B, embedding_dim)` unit vectors.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    check_positive_int(num_classes, "num_classes")
    embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
    points = points_input(num_points, input_dims)
    x = global_feature_head(
        points,
        mlp1=mlp1,
        mlp2=mlp2,
        input_transform=input_transform,
        feature_transform=feature_transform,
        head_widths=head_widths,
        dropout_rate=dropout_rate,
        tnet_conv_widths=tnet_conv_widths,
        tnet_fc_widths=tnet_fc_widths,
        orthogonal_weight=orthogonal_weight,
        bn_momentum=bn_momentum,
    )
    x = keras.layers.Dense(embedding_dim, dtype="float32", name="embedding_fc")(x)
    embedding = keras.layers.UnitNormalization(axis=-1, dtype="float32", name="embedding")(x)
    return PointCloudModel(points, embedding, name=name)
