"""Tests for pointnet_tf2.retrieval (mAP, precision@k, features, PNG)."""

import numpy as np
import pytest

from pointnet_tf2 import retrieval
from pointnet_tf2.models import get_model


@pytest.fixture(scope="module")
def tiny_cls_data(tmp_path_factory):
    from pointnet_tf2.data.synthetic import generate_synthetic

    return generate_synthetic("cls", tmp_path_factory.mktemp("retrieval_data"), seed=0, num_train=32, num_test=24,
                              num_points=64)


def test_average_precision_of_a_crafted_ranking():
    relevance = np.array([[1, 0, 1, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]], bool)
    ap = retrieval.average_precisions(relevance)
    # (1/1 + 2/3) / 2 and (1/2 + 2/3) / 2; no relevant shape: NaN
    np.testing.assert_allclose(ap[:2], [(1 + 2 / 3) / 2, (1 / 2 + 2 / 3) / 2])
    assert np.isnan(ap[2])


def test_retrieval_metrics_by_hand():
    # 1-D features, classes A A B B at 0, 1, 1.4, 3. Rankings (relevance):
    # q0: 1 A, 2 B, 3 B -> AP 1;  q1: 2 B, 0 A, 3 B -> AP 1/2
    # q2: 1 A, 0 A, 3 B -> AP 1/3; q3: 2 B, 1 A, 0 A -> AP 1
    features = np.array([[0.0], [1.0], [1.4], [3.0]])
    result = retrieval.retrieval_metrics(features, [0, 0, 1, 1], ks=(1, 2, 10))
    np.testing.assert_array_equal(result["order"], [[1, 2, 3], [2, 0, 3], [1, 0, 3], [2, 1, 0]])
    assert result["map"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1) / 4)
    assert result["precision_at_1"] == pytest.approx(0.5)
    assert result["precision_at_2"] == pytest.approx((0.5 + 0.5 + 0 + 0.5) / 4)
    assert result["precision_at_10"] == pytest.approx((1 + 1 + 1 + 1) / 3 / 4)  # k capped at n - 1 = 3


def test_cosine_distance_ranks_by_angle():
    features = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [0.1, 2.0]])
    result = retrieval.retrieval_metrics(features, [0, 0, 1, 1], distance="cosine")
    assert result["map"] == pytest.approx(1.0)
    assert retrieval.retrieval_metrics(features, [0, 0, 1, 1], distance="l2")["map"] < 1.0
    with pytest.raises(ValueError, match="distance must be"):
        retrieval.rank_neighbours(features, "l1")


def test_feature_model_of_a_classifier_and_of_an_embedding_model():
    cls = get_model("pointnet_cls_basic", num_classes=3, num_points=16, mlp=(8, 12), head_widths=(8,))
    features = retrieval.feature_model(cls)
    assert features.output_shape == (None, 12)
    embed = get_model("pointnet_embed", num_classes=3, num_points=16, embedding_dim=4, mlp1=(8,), mlp2=(8,),
                      head_widths=(), input_transform=False, feature_transform=False)
    assert retrieval.feature_model(embed) is embed
    with pytest.raises(ValueError, match="has no layer 'nope'"):
        retrieval.feature_model(cls, "nope")


def test_compute_features_and_png(tiny_cls_data, tmp_path):
    from pointnet_tf2.data import open_dataset

    description = open_dataset(tiny_cls_data, task="cls")
    model = get_model("pointnet_cls_basic", num_classes=description.num_classes, num_points=32, mlp=(8, 12),
                      head_widths=(8,))
    features, labels, points = retrieval.compute_features(model, description, num_points=32, batch_size=16)
    n = len(description.split_rows("test"))
    assert features.shape == (n, 12) and labels.shape == (n,) and points.shape == (n, 32, 3)
    result = retrieval.evaluate_retrieval(model, description, num_points=32, ks=(1, 5))
    assert 0.0 <= result["map"] <= 1.0 and result["headline"] == ["map", "precision_at_1", "precision_at_5"]
    order = retrieval.retrieval_metrics(features, labels)["order"]
    path = retrieval.neighbours_png(tmp_path / "nn.png", points, labels, [0, 3], order,
                                    class_names=description.class_names)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_global_feature_is_found_by_the_kind_of_layer():
    import keras

    from pointnet_tf2 import fold_batch_norm

    cls = get_model("pointnet_cls", num_classes=3, num_points=16, mlp1=(8,), mlp2=(8, 12), head_widths=(8,),
                    tnet_conv_widths=(8,), tnet_fc_widths=(8,))
    # The T-Nets' own max pools come first; the trunk's is the last, also once fused into a DenseMaxPooling.
    assert retrieval.global_feature_layer(cls) == "max_pool"
    folded = fold_batch_norm(cls)
    assert type(folded.get_layer("max_pool")).__name__ == "DenseMaxPooling"
    assert retrieval.global_feature_layer(folded) == "max_pool" and retrieval.feature_model(folded).output_shape == (None, 12)
    voxels = get_model("voxel_resnet", num_classes=3, resolution=8, inner=6, width=4, blocks_per_stage=(1,))
    assert retrieval.feature_name(voxels) == "avg_pool" and retrieval.feature_model(voxels).output_shape == (None, 4)
    inputs = keras.Input((None, 3))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="has no global feature layer .* with --layer$"):
        retrieval.feature_model(plain)
    segmenter = get_model("pointnet_sem_seg", num_classes=3, num_points=16, mlp=(8,), global_widths=(8,), seg_widths=(8,))
    with pytest.raises(ValueError, match="a semantic segmentation model labels points; retrieval ranks whole shapes"):
        retrieval.check_retrieval_model(segmenter)
