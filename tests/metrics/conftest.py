"""Small crafted part-segmentation cases with hand-computed IoUs."""

import numpy as np
import pytest

# Category 0 has parts {0, 1}, category 1 has parts {2, 3, 4}.
CATEGORY_PARTS = [[0, 1], [2, 3, 4]]


def _logits(targets, decoys, num_parts=5):
    """Logits whose plain argmax is `decoys` and whose argmax within the category is `targets`."""
    eye = np.eye(num_parts, dtype=np.float32)
    return 2.0 * eye[np.asarray(targets)] + 5.0 * eye[np.asarray(decoys)]


@pytest.fixture
def part_case():
    """Three shapes of 4 points.

    Every point's largest logit is a part of the OTHER category (the decoy), so
    only the restriction to the ground-truth category's parts gives `restricted`.

    shape A (category 0): gt [0,0,1,1], restricted [0,1,1,1]
        part 0: I=1 U=2 -> 1/2; part 1: I=2 U=3 -> 2/3; shape = 7/12
    shape B (category 1): gt [2,2,3,3], restricted [2,3,3,3]
        part 2: 1/2; part 3: 2/3; part 4 absent in both -> 1; shape = 13/18
    shape C (category 1): gt [2,2,3,3], restricted [2,2,3,4]
        part 2: 1; part 3: 1/2; part 4 predicted only: 0/1 -> 0; shape = 1/2
    instance mIoU = (7/12 + 13/18 + 1/2) / 3 = 65/108
    category mIoU = (7/12 + (13/18 + 1/2) / 2) / 2 = (7/12 + 11/18) / 2 = 43/72

    Plain argmax (decoys, all outside the category):
        A: parts 0 and 1 get 0 -> 0; B and C: parts 2, 3 -> 0, part 4 absent in both -> 1, shape = 1/3.
    """
    labels = np.array([[0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    restricted = np.array([[0, 1, 1, 1], [2, 3, 3, 3], [2, 2, 3, 4]])
    decoys = np.array([[2, 3, 4, 2], [0, 1, 0, 1], [1, 1, 0, 0]])
    return {
        "category_parts": CATEGORY_PARTS,
        "labels": labels,
        "categories": np.array([0, 1, 1]),
        "restricted": restricted,
        "decoys": decoys,
        "logits": _logits(restricted, decoys),
        "shape_ious": np.array([7 / 12, 13 / 18, 1 / 2]),
        "decoy_shape_ious": np.array([0.0, 1 / 3, 1 / 3]),
        "instance_miou": 65 / 108,
        "category_miou": 43 / 72,
        "per_category": np.array([7 / 12, 11 / 18]),
    }
