"""Former home of the triplet loss; it lives in `pointnet_tf2.losses.triplet` now."""

from pointnet_tf2.losses.triplet import TripletLoss
from pointnet_tf2.losses.triplet import pairwise_distances
from pointnet_tf2.losses.triplet import triplet_loss

__all__ = ["TripletLoss", "pairwise_distances", "triplet_loss"]
