"""Tests for pointnet_tf2.models.pointnet.embedding (pointnet_embed): invariance, triplet training, its argument."""

import keras
import numpy as np
import pytest

from pointnet_tf2.models import get_model
from pointnet_tf2.models import model_entry

TINY = dict(num_classes=3, num_points=32, embedding_dim=8, mlp1=(8,), mlp2=(16,), head_widths=(16,),
            tnet_conv_widths=(8,), tnet_fc_widths=(8,))  # a fixed point count, unlike the registry's test_config


def test_embeddings_are_unit_vectors_and_permutation_invariant():
    entry = model_entry("pointnet_embed")
    assert (entry.task, entry.input_kind, entry.output_kind) == ("cls", "points", "embedding")
    model = get_model("pointnet_embed", **TINY)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(4, 32, 3)).astype(np.float32)
    out = np.asarray(model(points, training=False))
    assert out.shape == (4, 8) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    shuffled = np.asarray(model(points[:, rng.permutation(32)], training=False))
    np.testing.assert_allclose(shuffled, out, atol=1e-5)
    assert model.get_layer("max_pool").output.shape == (None, 16)


def test_trains_one_step_with_triplet_loss():
    from pointnet_tf2.training.triplet import TripletLoss

    model = get_model("pointnet_embed", **TINY)
    rng = np.random.default_rng(1)
    points = rng.normal(size=(6, 32, 3)).astype(np.float32)
    labels = np.array([0, 0, 1, 1, 2, 2], np.int32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=TripletLoss(margin=0.5))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(points, labels, batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


def test_bad_configuration():
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer, got 0"):
        get_model("pointnet_embed", embedding_dim=0)
