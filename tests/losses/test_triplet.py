"""Tests for pointnet_tf2.losses.triplet (triplet loss with batch mining)."""

import itertools

import keras
import numpy as np
import pytest

from pointnet_tf2.losses.triplet import TripletLoss
from pointnet_tf2.losses.triplet import pairwise_distances
from pointnet_tf2.losses.triplet import triplet_loss


def _distance(a, b, kind):
    if kind == "l2":
        return float(np.sqrt(np.sum((a - b) ** 2)))
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def naive_triplet_loss(labels, embeddings, margin, kind, mining):
    n = len(labels)
    d = [[_distance(embeddings[i], embeddings[j], kind) for j in range(n)] for i in range(n)]
    if mining == "batch_all":
        losses = []
        for a, p, q in itertools.product(range(n), repeat=3):
            if a != p and labels[a] == labels[p] and labels[q] != labels[a]:
                loss = max(d[a][p] - d[a][q] + margin, 0.0)
                if loss > 0:
                    losses.append(loss)
        return sum(losses) / len(losses) if losses else 0.0
    losses = []
    for a in range(n):
        positives = [d[a][p] for p in range(n) if p != a and labels[p] == labels[a]]
        negatives = [d[a][q] for q in range(n) if labels[q] != labels[a]]
        if positives and negatives:
            losses.append(max(max(positives) - min(negatives) + margin, 0.0))
    return sum(losses) / len(losses) if losses else 0.0


@pytest.mark.parametrize("kind", ["l2", "cosine"])
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_a_naive_loop(kind, mining, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=9)
    labels[-1] = 7  # a class with a single shape: an anchor without positives
    embeddings = rng.normal(size=(9, 5)).astype(np.float32)
    got = float(triplet_loss(labels, embeddings, margin=0.3, distance=kind, mining=mining))
    want = naive_triplet_loss(labels, embeddings.astype(np.float64), 0.3, kind, mining)
    assert want > 0
    assert got == pytest.approx(want, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("kind", ["l2", "cosine"])
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
def test_zero_when_the_margin_is_met(kind, mining):
    centres = np.eye(4, dtype=np.float32)[:3] * 10.0
    labels = np.repeat([0, 1, 2], 3)
    embeddings = centres[labels] + np.random.default_rng(0).normal(scale=0.01, size=(9, 4)).astype(np.float32)
    assert float(triplet_loss(labels, embeddings, margin=0.1, distance=kind, mining=mining)) == 0.0
    # a margin larger than the gap between classes makes it positive again
    assert float(triplet_loss(labels, embeddings, margin=100.0, distance=kind, mining=mining)) > 0.0


def test_no_valid_triplet_gives_zero():
    assert float(triplet_loss(np.zeros(4, int), np.eye(4), mining="batch_hard")) == 0.0
    assert float(triplet_loss(np.arange(4), np.eye(4), mining="batch_all")) == 0.0


def test_l2_distances_and_finite_gradient_at_zero_distance():
    import tensorflow as tf

    x = tf.Variable([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    with tf.GradientTape() as tape:
        d = pairwise_distances(x, "l2")
        total = tf.reduce_sum(d)
    np.testing.assert_allclose(d.numpy(), [[0, 5, 0], [5, 0, 5], [0, 5, 0]], atol=1e-6)
    assert np.all(np.isfinite(tape.gradient(total, x).numpy()))


def test_keras_loss_config_round_trip_and_bad_options():
    loss = TripletLoss(margin=0.5, distance="cosine", mining="batch_all")
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (again.margin, again.distance, again.mining) == (0.5, "cosine", "batch_all")
    labels, embeddings = np.array([0, 0, 1, 1]), np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    assert float(loss(labels, embeddings)) == pytest.approx(
        naive_triplet_loss(labels, embeddings, 0.5, "cosine", "batch_all"), rel=1e-4)
    with pytest.raises(ValueError, match="margin must be a number >= 0, got -1"):
        TripletLoss(margin=-1)
    with pytest.raises(ValueError, match="mining must be one of"):
        TripletLoss(mining="semi_hard")
    with pytest.raises(ValueError, match="distance must be one of"):
        TripletLoss(distance="l1")
