"""Semantic segmentation of rooms (S3DIS layout): a label per point of 1 m blocks.

A model trained on S3DIS-style blocks (9 channels: block-centred xyz, RGB in
[0, 1], room-normalised xyz) predicts an XYZRGB room (z up): it is cut into
the blocks the S3DIS converter cuts (1 m x 1 m, stride 0.5 m, so blocks
overlap) and every chunk of a block gets its features from the converter's
own `block_features` (`sem_seg_blocks`), so the model sees what it was
trained on. A point covered by several blocks (and votes) gets the average of
their logits; every input point gets one label.
"""

import keras
import numpy as np

from pointnet_tf2 import metrics
from pointnet_tf2.data.datasets.s3dis import block_features
from pointnet_tf2.data.datasets.s3dis import block_members
from pointnet_tf2.tasks.base import Task
from pointnet_tf2.tasks.classification import _named
from pointnet_tf2.task_names import SEM_SEG
from pointnet_tf2.tasks.predictions import Samples
from pointnet_tf2.tasks.predictions import chunk_indices
from pointnet_tf2.tasks.predictions import scatter_mean
from pointnet_tf2.tasks.predictions import softmax
from pointnet_tf2.tasks.predictions import split_outputs
from pointnet_tf2.tasks.predictions import stack_samples

BLOCK_SIZE = 1.0
BLOCK_STRIDE = 0.5
# Channels of the S3DIS block features, and of the XYZRGB rooms they are made from.
BLOCK_CHANNELS = 9
ROOM_CHANNELS = 6


class SemanticSegmentation(Task):
    """Semantic segmentation: point accuracy and mean IoU over classes."""

    def add_train_arguments(self, add):
        # S3DIS blocks carry their 9 features; no --use_normals.
        add("--test_area", type=int, default=6, help="S3DIS area held out for testing (1-6)")

    def input_channels(self, description, use_normals=False):
        # Every stored channel: the 9 block features of S3DIS.
        return description.input_dims

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0, outputs=None):
        return {
            "loss": main_loss,
            "metrics": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                metrics.MeanIoU(description.num_classes, name="miou"),
            ],
        }

    def evaluate_logits(self, predictions, description):
        confusion = metrics.confusion_matrix(predictions["labels"], predictions["logits"], description.num_classes)
        ious = metrics.per_class_iou(confusion)
        return {
            "overall_accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "confusion_matrix": confusion.tolist(),
            "miou": float(np.nanmean(ious)),
            "per_class_iou": _named(description.class_names, ious),
            "headline": ["overall_accuracy", "miou"],
        }

    # -- prediction ---------------------------------------------------------------------------

    def check_cloud(self, cloud, input_dims, index=0):
        """Also takes an XYZRGB room for a model of the 9 block features (see `sem_seg_blocks`)."""
        channels = cloud.shape[1]
        if input_dims == BLOCK_CHANNELS and channels != BLOCK_CHANNELS:
            super().check_cloud(cloud, channels, index)  # empty or non-finite clouds first
            if channels != ROOM_CHANNELS:
                raise ValueError(f"predict: cloud {index} has {channels} channels; this model needs 9 block features "
                                 "or 6 (x y z r g b) to build them from")  # fmt: skip
            return cloud
        return super().check_cloud(cloud, input_dims, index)

    def prepare_cloud(self, xyz, *, normals=None, colors=None, input_dims=3, normalize=True, name="cloud"):
        """A room in its own units: XYZRGB for a model of the block features, else its first channels."""
        if input_dims == BLOCK_CHANNELS:
            if colors is None:
                raise ValueError(f"{name}: the semantic segmentation model needs colours (x y z r g b)")
            return np.concatenate([xyz, colors], axis=1).astype(np.float32)
        return np.asarray(xyz[:, :input_dims], dtype=np.float32)

    def prediction_samples(self, cloud, num_points, input_dims, rng):
        """An XYZRGB room for a block-feature model: its blocks' chunks (`sem_seg_blocks`); else chunks of the cloud."""
        if input_dims == BLOCK_CHANNELS and cloud.shape[1] == ROOM_CHANNELS:
            return [Samples(features, chunks, size) for chunks, features, size in sem_seg_blocks(cloud, num_points, rng)]
        return super().prediction_samples(cloud, num_points, input_dims, rng)

    def predict_clouds(self, loop, clouds, *, num_points, input_dims, rng, top_k=5, class_names=None, category=None,
                       category_parts=None):  # fmt: skip
        """A label per point: its logits averaged over every block chunk (and vote) holding it.

        Votes draw new chunkings; they do not turn the room (the block
        features are not rotation-invariant: `vote_rotation` is False).
        """
        results = []
        for cloud in clouds:
            passes = []
            for vote in range(loop.num_votes):
                samples = self.prediction_samples(cloud, num_points, input_dims, rng)
                outputs = loop.run(stack_samples(samples), vote=vote)
                passes.extend(zip(samples, split_outputs(outputs, samples)))
            probabilities = softmax(scatter_mean(len(cloud), passes)).astype(np.float32)
            results.append({"labels": np.argmax(probabilities, axis=-1).astype(np.int64), "probabilities": probabilities})
        return results


def sem_seg_blocks(points, num_points, rng, *, block_size=BLOCK_SIZE, stride=BLOCK_STRIDE):
    """Cuts an XYZRGB room into the S3DIS converter's blocks and chunks them for a model.

    The room is shifted so that its minimum corner is the origin and cut into
    `block_size` x `block_size` columns over x-y swept with `stride`, exactly
    as the converter cuts rooms (`pointnet_tf2.data.datasets.s3dis.block_members`;
    blocks overlap, and blocks with few points are kept so that every point is
    in at least one block). Each block's points are cut into random chunks of
    `num_points` (the last padded with random repeats of the block's points):
    each chunk is one sample of the block, as the converter draws one, and
    gets its 9 features from `pointnet_tf2.data.datasets.s3dis.block_features`,
    the converter's own function (x, y centred on the chunk's minimum + half
    a block, z, RGB in [0, 1], xyz / the room's maximum).

    Args:
        points: (N, 6) xyz + RGB (RGB in [0, 1], or [0, 255] if any value > 1;
            clipped to that range).
        num_points: Points per chunk (None: a block is one chunk of all its
            points).
        rng: A `numpy.random.Generator` (chunking).
        block_size: Block side in the cloud's units (S3DIS: 1 m).
        stride: Block step (S3DIS: 0.5 m).

    Returns:
        A list with one `(chunks, features, size)` per block: int64
        (k, num_points) row indices into `points` (the block's `size` points
        each once in `chunks.reshape(-1)[:size]`, then padding), and float32
        (k, num_points, 9) features.

    Raises:
        ValueError: If `points` is not (N, 6).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != ROOM_CHANNELS or len(points) == 0:
        raise ValueError(f"sem_seg_blocks: expected (N, 6) xyz + RGB with N >= 1, got shape {points.shape}")
    xyz = points[:, :3] - points[:, :3].min(axis=0)
    color_scale = 255.0 if points[:, 3:6].max(initial=0.0) > 1.0 else 1.0
    rgb = np.clip(points[:, 3:6], 0.0, color_scale)
    room_max = np.maximum(xyz.max(axis=0), 1e-9)  # a flat cloud: its coordinate is 0 along that axis
    blocks = []
    for _, _, members in block_members(xyz, block_size, stride, cover=True):
        if num_points is None:
            chunks = members[rng.permutation(len(members))][None]
        else:
            chunks = members[chunk_indices(len(members), num_points, rng)]
        features = np.stack([block_features(xyz[c], rgb[c], room_max, block_size, color_scale) for c in chunks])
        blocks.append((chunks, features, len(members)))
    return blocks


SEMANTIC_SEGMENTATION = SemanticSegmentation(
    SEM_SEG, "semantic segmentation", "pointnet_sem_seg", 4096, 50, 24, 0.001, 300_000, 0.5, 300_000, "val_miou",
    "log_sem_seg", sample_unit="blocks", predict_up_axis=2, vote_rotation=False, normalization="s3dis_blocks",
    script="train_sem_seg.py")
