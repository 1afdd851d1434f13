"""Tests for pointnet_tf2.data.sequence (PointCloudSequence, load_split)."""

import multiprocessing
import pickle

import numpy as np
import pytest

from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import augment as A
from pointnet_tf2.data import build_vds
from pointnet_tf2.data import holdout_indices
from pointnet_tf2.data import load_split
from pointnet_tf2.data import open_dataset

MODES = ["memory", "stream"]


@pytest.fixture
def modelnet_vds(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    return build_vds(root, str(tmp_path / "modelnet.vds.h5"))


def _points(batch):
    return batch[0]["points"] if isinstance(batch[0], dict) else batch[0]


def _ids(points):
    """Identifies clouds by their first stored point (random floats are unique)."""
    return [tuple(np.round(p[0, :3], 6)) for p in points]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("via_vds", [False, True], ids=["dir", "vds"])
def test_cls_batches(tmp_path, layouts, mode, via_vds):
    root = layouts.modelnet(str(tmp_path))
    source = build_vds(root, str(tmp_path / "m.vds.h5")) if via_vds else root
    seq = PointCloudSequence(source, batch_size=8, num_points=16, mode=mode, stream_buffer_bytes=4000)
    assert seq.mode == mode and len(seq) == 5 and seq.num_samples == 33
    points, labels = seq[0]
    assert points.shape == (8, 16, 3) and points.dtype == np.float32
    assert labels.shape == (8,) and labels.dtype == np.int32
    last_points, last_labels = seq[len(seq) - 1]
    assert last_points.shape == (1, 16, 3) and last_labels.shape == (1,)
    assert seq.description.num_classes == 5


@pytest.mark.parametrize("mode", MODES)
def test_part_seg_batches(shapenet_part_dir, mode):
    seq = PointCloudSequence(shapenet_part_dir, batch_size=4, num_points=20, mode=mode, augment=False)
    inputs, targets = seq[1]
    assert set(inputs) == {"points", "category"} and set(targets) == {"parts", "category"}
    assert inputs["points"].shape == (4, 20, 3) and inputs["points"].dtype == np.float32
    assert inputs["category"].shape == (4, 3) and inputs["category"].dtype == np.float32
    assert targets["parts"].shape == (4, 20) and targets["parts"].dtype == np.int32
    assert targets["category"].shape == (4,) and targets["category"].dtype == np.int32
    np.testing.assert_array_equal(inputs["category"].argmax(1), targets["category"])
    np.testing.assert_array_equal(inputs["category"].sum(1), 1.0)
    parts_of = seq.description.category_parts
    for category, parts in zip(targets["category"], targets["parts"]):
        assert set(parts) <= set(parts_of[category])
    # the fixture writes x = pid * 0.01 + [0, 0.002): parts stay with their points after sampling
    np.testing.assert_array_equal(np.floor(inputs["points"][..., 0] / 0.01 + 1e-4).astype(int), targets["parts"])


@pytest.mark.parametrize("mode", MODES)
def test_sem_seg_batches(s3dis_dir, mode):
    seq = PointCloudSequence(s3dis_dir, batch_size=4, num_points=16, mode=mode)
    points, labels = seq[0]
    assert points.shape == (4, 16, 9) and points.dtype == np.float32
    assert labels.shape == (4, 16) and labels.dtype == np.int32
    np.testing.assert_array_equal(points[..., 3] * 16, labels)
    assert seq.augment is None  # the original did no augmentation for sem seg


@pytest.mark.parametrize(
    "augmentation",
    [
        A.RotateUp(axis=2),
        A.RotateSO3(),
        A.Jitter(),
        A.Scale(),
        A.Translate(),
        A.Shear(),
        A.PointDropout(),
        A.ShufflePoints(),
        [A.ShufflePoints(), A.PointDropout(0.5), A.RotateSO3(), A.Scale(), A.Jitter()],
    ],
    ids=lambda a: type(a).__name__,
)
def test_labels_stay_aligned_through_the_sequence(s3dis_dir, augmentation):
    seq = PointCloudSequence(s3dis_dir, batch_size=5, num_points=24, augment=augmentation)
    for index in range(len(seq)):
        points, labels = seq[index]
        np.testing.assert_array_equal(points[..., 3] * 16, labels)


def test_default_training_augmentation_is_the_originals(modelnet_vds):
    train = PointCloudSequence(modelnet_vds, batch_size=4)
    assert [type(a) for a in train.augment.augmentations] == [A.RotateUp, A.Jitter]
    assert train.augment.augmentations[0].axis == 1
    test = PointCloudSequence(modelnet_vds, split="test", batch_size=4)
    assert test.augment is None and not test.shuffle and test.sampling == "first"
    # rotation about y + jitter: y moves by at most the jitter clip
    raw = PointCloudSequence(modelnet_vds, batch_size=4, augment=False, sampling="first")
    aug = PointCloudSequence(modelnet_vds, batch_size=4, sampling="first")
    assert np.abs(aug[0][0][..., 1] - raw[0][0][..., 1]).max() <= 0.05 + 1e-6
    assert np.abs(aug[0][0] - raw[0][0]).max() > 0.05


def test_evaluation_reads_the_first_points_in_order(modelnet_vds):
    seq = PointCloudSequence(modelnet_vds, split="test", batch_size=4, num_points=10)
    raw = load_split(modelnet_vds, "test")
    points = np.concatenate([seq[i][0] for i in range(len(seq))])
    labels = np.concatenate([seq[i][1] for i in range(len(seq))])
    np.testing.assert_array_equal(points, raw["points"][:, :10])
    np.testing.assert_array_equal(labels, raw["labels"])
    np.testing.assert_array_equal(raw["labels"], np.arange(33, 42) % 5)
    all_ = seq.read_all()
    np.testing.assert_array_equal(all_["points"], raw["points"])
    assert all_["points"].shape == (9, 64, 3)
    np.testing.assert_array_equal(seq.read_labels(), raw["labels"])


def test_read_labels_of_segmentation_tasks(shapenet_part_dir, s3dis_dir):
    part = PointCloudSequence(shapenet_part_dir, split="val", batch_size=2)
    parts = part.read_labels()
    assert parts.shape == (6, 48) and parts.dtype == np.int32
    np.testing.assert_array_equal(parts, load_split(shapenet_part_dir, "val")["parts"])
    sem = PointCloudSequence(s3dis_dir, split="test", batch_size=2, indices=[1, 4])
    raw = load_split(s3dis_dir, "test", indices=[1, 4])
    np.testing.assert_array_equal(sem.read_labels(), raw["labels"])
    assert raw["rooms"] == ["Area_6_office_3"] * 2


def test_deterministic_for_a_seed_and_reshuffled_every_epoch(modelnet_vds):
    def epoch_batches(seq):
        return [seq[i] for i in range(len(seq))]

    a = PointCloudSequence(modelnet_vds, batch_size=8, num_points=16, seed=1)
    b = PointCloudSequence(modelnet_vds, batch_size=8, num_points=16, seed=1)
    first = epoch_batches(a)
    for (pa, la), (pb, lb) in zip(first, epoch_batches(b)):
        np.testing.assert_array_equal(pa, pb)
        np.testing.assert_array_equal(la, lb)
    # reading order does not matter
    np.testing.assert_array_equal(a[3][0], first[3][0])
    other_seed = PointCloudSequence(modelnet_vds, batch_size=8, num_points=16, seed=2)
    assert not np.array_equal(other_seed[0][0], first[0][0])
    a.on_epoch_end()
    assert a.epoch == 1
    second = epoch_batches(a)
    assert not np.array_equal(second[0][0], first[0][0])
    b.set_epoch(1)
    np.testing.assert_array_equal(b[0][0], second[0][0])


@pytest.mark.parametrize("mode", MODES)
def test_every_epoch_visits_each_cloud_once(modelnet_vds, mode):
    seq = PointCloudSequence(
        modelnet_vds, batch_size=8, augment=False, sampling="first", mode=mode, stream_buffer_bytes=10 * 64 * 12
    )
    expected = sorted(_ids(load_split(modelnet_vds, "train")["points"]))
    orders = []
    for _ in range(3):
        ids = [i for index in range(len(seq)) for i in _ids(seq[index][0])]
        assert sorted(ids) == expected
        orders.append(ids)
        seq.on_epoch_end()
    assert orders[0] != orders[1] != orders[2]


def test_stream_without_shuffle_matches_memory(s3dis_dir):
    kwargs = dict(batch_size=3, num_points=32, shuffle=False, augment=False)
    memory = PointCloudSequence(s3dis_dir, mode="memory", **kwargs)
    stream = PointCloudSequence(s3dis_dir, mode="stream", stream_buffer_bytes=1, **kwargs)
    assert len(memory) == len(stream) == 5
    for i in range(len(memory)):
        np.testing.assert_array_equal(memory[i][0], stream[i][0])
        np.testing.assert_array_equal(memory[i][1], stream[i][1])


def test_stream_memory_holds_only_a_few_buffers(modelnet_vds):
    seq = PointCloudSequence(modelnet_vds, batch_size=4, mode="stream", stream_buffer_bytes=8 * 64 * 12)
    for i in range(len(seq)):
        seq[i]
        assert len(seq._buffers) <= 2
        assert all(len(positions) <= 8 for positions, _ in seq._buffers.values())


def test_auto_mode_follows_the_memory_limit(modelnet_vds):
    assert PointCloudSequence(modelnet_vds).mode == "memory"
    assert PointCloudSequence(modelnet_vds, memory_limit=1000).mode == "stream"


def test_partial_last_batch_kept_or_dropped(modelnet_vds):
    kept = PointCloudSequence(modelnet_vds, batch_size=10)
    assert len(kept) == 4 and kept[3][0].shape[0] == 3 and kept[-1][0].shape[0] == 3
    dropped = PointCloudSequence(modelnet_vds, batch_size=10, drop_remainder=True)
    assert len(dropped) == 3 and dropped[2][0].shape[0] == 10
    with pytest.raises(IndexError):
        dropped[3]


def test_indices_hold_out_validation_from_train(modelnet_vds):
    kept, held = holdout_indices(33, 0.2, seed=0)
    assert len(held) == 7 and not set(kept) & set(held)
    train = PointCloudSequence(modelnet_vds, batch_size=4, indices=kept, augment=False, sampling="first")
    val = PointCloudSequence(modelnet_vds, batch_size=4, indices=held, shuffle=False, augment=False)
    assert train.num_samples == 26 and val.num_samples == 7
    np.testing.assert_array_equal(val.indices, held)
    all_ids = set(_ids(load_split(modelnet_vds, "train")["points"]))
    train_ids = {i for b in range(len(train)) for i in _ids(train[b][0])}
    val_ids = {i for b in range(len(val)) for i in _ids(val[b][0])}
    assert train_ids | val_ids == all_ids and not train_ids & val_ids


def test_sampling_modes(modelnet_vds):
    raw = load_split(modelnet_vds, "train")["points"]
    seq = PointCloudSequence(modelnet_vds, batch_size=33, num_points=20, shuffle=False, augment=False)
    assert seq.sampling == "random"
    first_epoch = seq[0][0]
    for cloud, stored in zip(first_epoch, raw):
        # a subset of the cloud's own points, without repeats
        matches = (cloud[:, None, :] == stored[None, :, :]).all(-1)
        assert (matches.sum(1) == 1).all() and len(set(matches.argmax(1))) == 20
    seq.on_epoch_end()
    assert not np.array_equal(seq[0][0], first_epoch)
    fixed = PointCloudSequence(modelnet_vds, batch_size=33, num_points=20, sampling="fixed", augment=False)
    one = fixed[0][0]
    fixed.on_epoch_end()
    two = fixed[0][0]
    assert sorted(_ids(one)) == sorted(_ids(two))  # same subsets, another cloud order


def test_pickling_drops_handles_and_data(modelnet_vds):
    seq = PointCloudSequence(modelnet_vds, batch_size=8, num_points=16, mode="memory")
    expected = seq[2]
    assert seq._buffers  # the split is in memory now
    payload = pickle.dumps(seq)
    assert len(payload) < 20000
    restored = pickle.loads(payload)
    np.testing.assert_array_equal(restored[2][0], expected[0])
    np.testing.assert_array_equal(restored[2][1], expected[1])


def _iterate_with_keras(seq):
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(seq, shuffle=False)
    adapter.on_epoch_begin()
    batches = list(adapter.get_numpy_iterator())
    adapter.on_epoch_end()
    return batches


def _assert_same_batches(got, expected):
    assert len(got) == len(expected)
    for (gp, gl), (ep, el) in zip(got, expected):
        np.testing.assert_array_equal(gp, ep)
        np.testing.assert_array_equal(gl, el)


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_worker_processes(tmp_path, layouts, start_method):
    root = layouts.s3dis(str(tmp_path))
    vds = build_vds(root, str(tmp_path / "s.vds.h5"))
    seq = PointCloudSequence(
        vds, batch_size=3, num_points=8, workers=2, use_multiprocessing=True, augment=[A.ShufflePoints(), A.Jitter()]
    )
    expected = [seq[i] for i in range(len(seq))]  # opens files and loads data in this process first
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(start_method, force=True)
    try:
        got = _iterate_with_keras(seq)
    finally:
        multiprocessing.set_start_method(previous, force=True)
    _assert_same_batches(got, expected)


def test_worker_threads_stream_mode(modelnet_vds):
    seq = PointCloudSequence(modelnet_vds, batch_size=4, num_points=8, workers=2, mode="stream", stream_buffer_bytes=3000)
    expected = [seq[i] for i in range(len(seq))]
    _assert_same_batches(_iterate_with_keras(seq), expected)


def test_fit_runs_on_the_sequence(modelnet_vds):
    import keras

    seq = PointCloudSequence(modelnet_vds, batch_size=8, num_points=16, workers=2)
    model = keras.Sequential([keras.Input((16, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(seq, epochs=2, shuffle=False, verbose=0)
    # fit calls on_epoch_end once before the first epoch (its reset), then after each epoch
    assert len(history.history["loss"]) == 2 and seq.epoch == 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_points": 65}, ValueError, r"modelnet\.vds\.h5: num_points=65 is larger than the 64 points stored per cloud"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive integer, got 0"),
        ({"split": "val"}, ValueError, r"modelnet\.vds\.h5: no split 'val' \(it has: train, test\)"),
        ({"task": "sem_seg"}, ValueError, r"not 'sem_seg'"),
        ({"indices": [0, 33]}, ValueError, r"indices must be in 0\.\.32 \(split 'train' has 33 clouds\)"),
        ({"indices": [1, 1]}, ValueError, r"indices must not repeat"),
        ({"mode": "disk"}, ValueError, r"mode must be one of"),
        ({"sampling": "all"}, ValueError, r"sampling must be one of"),
        ({"augment": 3}, ValueError, r"augment must be None, False"),
        ({"batch_size": 40, "drop_remainder": True}, ValueError, r"33 clouds, fewer than batch_size=40"),
        ({"seed": -2}, ValueError, r"seed must be a non-negative integer"),
    ],
)
def test_bad_arguments(modelnet_vds, kwargs, error, match):
    with pytest.raises(error, match=match):
        PointCloudSequence(modelnet_vds, **kwargs)


def test_description_source_and_missing_source(modelnet_vds, tmp_path):
    description = open_dataset(modelnet_vds)
    seq = PointCloudSequence(description, split="test", batch_size=4)
    assert seq.description is description and seq.num_samples == 9
    with pytest.raises(FileNotFoundError, match=r"missing\.h5: no such dataset directory or file"):
        PointCloudSequence(str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match=r"source must be"):
        PointCloudSequence(42)


def test_channels_keeps_the_first_channels(tmp_path):
    from pointnet_tf2.data.writers import write_modelnet_layout

    rng = np.random.default_rng(0)
    points = rng.normal(size=(6, 16, 6)).astype(np.float32)
    folder = write_modelnet_layout(tmp_path / "m", {"train": (points, np.arange(6) % 2), "test": (points, np.arange(6) % 2)},
                                   ["a", "b"])
    full = PointCloudSequence(folder, split="test", batch_size=6)
    xyz = PointCloudSequence(folder, split="test", batch_size=6, channels=3)
    assert full[0][0].shape == (6, 16, 6) and xyz[0][0].shape == (6, 16, 3)
    np.testing.assert_array_equal(xyz[0][0], full[0][0][..., :3])
    with pytest.raises(ValueError, match="channels=7 but the points have 6 channels"):
        PointCloudSequence(folder, split="test", channels=7)
