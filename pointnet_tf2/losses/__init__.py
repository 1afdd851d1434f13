"""Losses of the zoo: cross-entropy with label smoothing and class weights, triplet loss with batch mining.

They sit below the tasks (which compile with them) and depend on Keras only.
"""

from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy
from pointnet_tf2.losses.triplet import TripletLoss
from pointnet_tf2.losses.triplet import pairwise_distances
from pointnet_tf2.losses.triplet import triplet_loss

__all__ = ["SparseCrossEntropy", "TripletLoss", "pairwise_distances", "triplet_loss"]
