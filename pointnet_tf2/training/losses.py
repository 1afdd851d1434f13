"""Former home of `SparseCrossEntropy`; it lives in `pointnet_tf2.losses` now."""

from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy

__all__ = ["SparseCrossEntropy"]
