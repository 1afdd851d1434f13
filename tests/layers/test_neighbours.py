"""The Keras layers over the sampling ops: values, Functional models, training, saving, configs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.layers import KNN
from pointnet_tf2.layers import BallQueryGroup
from pointnet_tf2.layers import EdgeFeatures
from pointnet_tf2.layers import FarthestPointSample
from pointnet_tf2.layers import GroupAll
from pointnet_tf2.layers import ThreeNNInterpolate
from pointnet_tf2.layers import sampling

F32 = np.float32


def clouds(rng, batch=2, n=24, channels=2):
    return rng.random((batch, n, 3)).astype(F32), rng.normal(size=(batch, n, channels)).astype(F32)


def pool(tensor, width, name):
    """`(B, M, S, C) -> (B, M, C)`: max over the S neighbours, from stock Keras layers."""
    pooled = keras.layers.MaxPooling2D((1, tensor.shape[2]), name=f"{name}_max")(tensor)
    return keras.layers.Reshape((-1, width), name=f"{name}_squeeze")(pooled)


def tiny_model(chunk_size=None):
    """A PointNet++/DGCNN-shaped toy: SSG level, MSG level, group-all level, two FP levels, EdgeConv."""
    xyz = keras.Input((None, 3), name="xyz")
    features = keras.Input((None, 2), name="features")
    l1_xyz = FarthestPointSample(8, name="sa1_fps")(xyz)
    g1 = BallQueryGroup(0.4, 5, chunk_size=chunk_size, name="sa1_group")([xyz, l1_xyz, features])
    l1 = pool(keras.layers.Dense(8, activation="relu", name="sa1_conv0")(g1), 8, "sa1")
    l2_xyz = FarthestPointSample(4, name="sa2_fps")(l1_xyz)
    scales = []
    for i, (radius, nsample) in enumerate([(0.3, 3), (0.6, 6)]):
        g = BallQueryGroup(radius, nsample, xyz_first=False, name=f"sa2_group{i}")([l1_xyz, l2_xyz, l1])
        scales.append(pool(keras.layers.Dense(8, activation="relu", name=f"sa2_conv{i}")(g), 8, f"sa2_{i}"))
    l2 = keras.layers.Concatenate(name="sa2_concat")(scales)
    l3_xyz, g3 = GroupAll(return_centre=True, name="sa3_group")([l2_xyz, l2])
    l3 = pool(keras.layers.Dense(8, activation="relu", name="sa3_conv0")(g3), 8, "sa3")
    up2 = ThreeNNInterpolate(name="fp2_interp")([l2_xyz, l3_xyz, l3])
    up1 = ThreeNNInterpolate(chunk_size=chunk_size, name="fp1_interp")([xyz, l2_xyz, up2])
    edges = EdgeFeatures(4, chunk_size=chunk_size, name="edge")(up1)
    idx = KNN(3, chunk_size=chunk_size, name="knn_xyz")(xyz)
    edges_xyz = EdgeFeatures(3, centre_first=False, name="edge_xyz")([up1, idx])
    e1 = pool(keras.layers.Dense(8, activation="relu", name="edge_conv")(edges), 8, "edge")
    e2 = pool(keras.layers.Dense(8, activation="relu", name="edge_xyz_conv")(edges_xyz), 8, "edge_xyz")
    logits = keras.layers.Dense(3, name="logits")(keras.layers.Concatenate()([e1, e2]))
    return keras.Model([xyz, features], logits)


def test_layers_equal_the_ops(rng):
    xyz, features = clouds(rng)
    centres = FarthestPointSample(6)(xyz)
    new_xyz, grouped, _, _ = sampling.sample_and_group(xyz, features, 6, 0.5, 4)
    np.testing.assert_array_equal(centres, new_xyz)
    np.testing.assert_array_equal(BallQueryGroup(0.5, 4)([xyz, centres, features]), grouped)
    same_centres, idx = FarthestPointSample(6, return_indices=True)(xyz)
    np.testing.assert_array_equal(idx, sampling.farthest_point_sample(xyz, 6))
    np.testing.assert_array_equal(same_centres, centres)
    np.testing.assert_array_equal(BallQueryGroup(0.5, 4)([xyz, centres]),
                                  sampling.sample_and_group(xyz, None, 6, 0.5, 4)[1])  # fmt: skip
    np.testing.assert_array_equal(GroupAll()([xyz, features]), sampling.sample_and_group_all(xyz, features)[1])
    np.testing.assert_array_equal(GroupAll(use_xyz=False)([xyz, features]), features[:, None])
    known = rng.normal(size=(2, 6, 5)).astype(F32)
    dist, nn = sampling.three_nn(xyz, centres)
    expected = sampling.three_interpolate(known, nn, sampling.interpolation_weights(dist))
    np.testing.assert_array_equal(ThreeNNInterpolate()([xyz, centres, known]), expected)
    np.testing.assert_array_equal(KNN(5)(features), sampling.knn(features, features, 5))
    np.testing.assert_array_equal(KNN(2)([centres, xyz]), sampling.knn(centres, xyz, 2))
    idx5 = sampling.knn(features, features, 5)
    np.testing.assert_array_equal(EdgeFeatures(5)(features), sampling.edge_features(features, idx5))
    np.testing.assert_array_equal(EdgeFeatures(5, centre_first=False)([features, idx5]),
                                  sampling.edge_features(features, idx5, centre_first=False))  # fmt: skip


def test_functional_shapes_dtypes_and_any_point_count(rng):
    model = tiny_model()
    assert model.get_layer("sa1_group").output.shape == (None, 8, 5, 5)
    assert model.get_layer("sa2_concat").output.shape == (None, 4, 16)
    assert model.get_layer("sa3_group").output[1].shape == (None, 1, 4, 19)
    assert model.get_layer("fp1_interp").output.shape == (None, None, 8)
    assert model.get_layer("edge").output.shape == (None, None, 4, 16)
    assert model.get_layer("knn_xyz").output.dtype == "int32"
    for n in (17, 30):
        out = model([*clouds(rng, n=n)])
        assert out.shape == (2, n, 3) and np.isfinite(out).all()


@pytest.mark.parametrize("chunk_size", [None, 5])
def test_one_fit_step_trains_every_dense_layer(rng, chunk_size):
    model = tiny_model(chunk_size)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = {w.path: w.numpy() for w in model.trainable_weights}
    history = model.fit(list(clouds(rng, batch=4)), rng.integers(0, 3, (4, 24)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    unchanged = [path for path, value in before.items()
                 if np.array_equal(value, next(w for w in model.trainable_weights if w.path == path).numpy())]
    assert unchanged == []  # gradients reach every level through the gathers and the interpolation


def test_chunked_layers_give_the_same_model_outputs(rng):
    direct, chunked = tiny_model(), tiny_model(chunk_size=3)
    chunked.set_weights(direct.get_weights())
    inputs = list(clouds(rng, n=19))
    np.testing.assert_array_equal(chunked(inputs), direct(inputs))


def test_keras_file_round_trip(rng, tmp_path):
    model = tiny_model(chunk_size=4)
    inputs = list(clouds(rng))
    path = tmp_path / "toy.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(restored(inputs), model(inputs))
    assert restored.get_layer("sa1_group").chunk_size == 4
    assert restored.get_layer("sa2_group0").xyz_first is False


def test_keras_file_round_trip_of_multiple_outputs(rng, tmp_path):
    xyz = keras.Input((None, 3))
    centres = FarthestPointSample(5)(xyz)
    grouped = BallQueryGroup(0.5, 4)([xyz, centres])
    edges = EdgeFeatures(3, centre_first=False, chunk_size=2)(xyz)
    model = keras.Model(xyz, [grouped, KNN(2)(xyz), edges, ThreeNNInterpolate()([xyz, centres, centres])])
    path = tmp_path / "layers.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    points = rng.random((2, 9, 3)).astype(F32)
    for a, b in zip(restored(points), model(points)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layer", [
    FarthestPointSample(7, return_indices=True),
    BallQueryGroup(0.25, 9, use_xyz=False, xyz_first=False, chunk_size=64),
    GroupAll(use_xyz=False, return_centre=True),
    ThreeNNInterpolate(chunk_size=128),
    KNN(20, chunk_size=256),
    EdgeFeatures(16, centre_first=False, chunk_size=32),
])  # fmt: skip
def test_get_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


def test_indices_stay_float32_under_mixed_precision(rng, mixed_precision):
    xyz_in = keras.Input((None, 3))
    features_in = keras.Input((None, 2))
    hidden = keras.layers.Dense(4)(features_in)  # float16 features
    centres = FarthestPointSample(6)(xyz_in)
    grouped = BallQueryGroup(0.5, 4)([xyz_in, centres, hidden])
    edges = EdgeFeatures(3)(hidden)
    model = keras.Model([xyz_in, features_in], [centres, grouped, edges])
    assert grouped.dtype == "float16" and centres.dtype == "float32"
    xyz, features = clouds(rng)
    out_centres, out_grouped, out_edges = model([xyz, features])
    assert out_grouped.dtype == tf.float16 and out_edges.dtype == tf.float16
    np.testing.assert_array_equal(out_centres, sampling.gather_points(xyz, sampling.farthest_point_sample(xyz, 6)))


@pytest.mark.parametrize("make, message", [
    (lambda: FarthestPointSample(0), "FarthestPointSample: npoint must be a positive integer, got 0"),
    (lambda: BallQueryGroup(0, 4), "BallQueryGroup: radius must be a positive number, got 0"),
    (lambda: BallQueryGroup(0.2, -1), "BallQueryGroup: nsample must be a positive integer, got -1"),
    (lambda: BallQueryGroup(0.2, 4, xyz_first="yes"), "BallQueryGroup: xyz_first must be True or False, got 'yes'"),
    (lambda: KNN(20, chunk_size=0), "KNN: chunk_size must be a positive integer, got 0"),
    (lambda: EdgeFeatures(None), "EdgeFeatures: k must be a positive integer, got None"),
    (lambda: KNN(20)(keras.Input((10, 3))), "KNN: k must be at most the number of points 10, got 20"),
    (lambda: EdgeFeatures(4)([keras.Input((10, 3)), keras.Input((10, 3), dtype="int32")]),
     "EdgeFeatures: the indices have 3 neighbours, expected k=4"),
    (lambda: ThreeNNInterpolate()([keras.Input((10, 3)), keras.Input((10, 3))]),
     "ThreeNNInterpolate takes 3 input tensors, got 2"),
])  # fmt: skip
def test_bad_arguments_raise_one_clear_line(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value) and "\n" not in str(error.value)
