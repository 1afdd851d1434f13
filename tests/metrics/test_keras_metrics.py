"""Keras metrics: hand values, batch accumulation = NumPy on the whole, fit, saving."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import metrics

# The 3-class case of test_confusion.py.
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])
CONFUSION = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
MEAN_CLASS_ACCURACY = (1 / 2 + 1 + 2 / 3) / 3
MIOU = (1 / 3 + 2 / 3 + 2 / 3) / 3


def logits_for(labels, num_classes):
    return (3.0 * np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]
            + np.linspace(0, 0.5, num_classes, dtype=np.float32))


def test_classification_metrics_equal_hand_values():
    accuracy, miou = metrics.MeanClassAccuracy(3), metrics.MeanIoU(3)
    assert float(accuracy.result()) == 0.0 and float(miou.result()) == 0.0
    for metric in (accuracy, miou):
        metric.update_state(Y_TRUE, logits_for(Y_PRED, 3))
        confusion = metric.confusion()
        assert confusion.dtype == np.int64
        np.testing.assert_array_equal(confusion, CONFUSION)
    assert float(accuracy.result()) == pytest.approx(MEAN_CLASS_ACCURACY, abs=1e-6)
    assert float(miou.result()) == pytest.approx(MIOU, abs=1e-6)
    assert accuracy.name == "mean_class_accuracy" and miou.name == "miou"
    accuracy.reset_state()
    assert accuracy.confusion().sum() == 0 and float(accuracy.result()) == 0.0


def test_labels_with_trailing_axis_and_ignored_labels():
    metric = metrics.MeanIoU(3)
    metric.update_state(Y_TRUE[:, None], logits_for(Y_PRED, 3))
    np.testing.assert_array_equal(metric.confusion(), CONFUSION)
    # Labels outside [0, num_classes) (e.g. -1 padding) are not counted.
    metric.update_state(np.array([-1, 3]), logits_for([0, 1], 3))
    np.testing.assert_array_equal(metric.confusion(), CONFUSION)


def test_sample_weights():
    metric = metrics.ConfusionMatrix(3)
    weights = np.array([1, 1, 1, 1, 1, 0, 2], np.float32)  # drop the 2->0 error, count the 2->2 twice
    metric.update_state(Y_TRUE, logits_for(Y_PRED, 3), sample_weight=weights)
    np.testing.assert_array_equal(metric.confusion(), [[1, 1, 0], [0, 2, 0], [0, 0, 3]])
    # Per-cloud weights (B,) on per-point labels (B, N): the second cloud is ignored.
    per_point = metrics.ConfusionMatrix(3)
    per_point.update_state(np.array([[0, 1], [2, 2]]), logits_for([[0, 0], [1, 1]], 3),
                           sample_weight=np.array([1.0, 0.0]))
    np.testing.assert_array_equal(per_point.confusion(), [[1, 0, 0], [1, 0, 0], [0, 0, 0]])
    fractional = metrics.ConfusionMatrix(3)
    fractional.update_state([0], logits_for([0], 3), sample_weight=[0.5])
    assert fractional.confusion().dtype == np.float64 and fractional.confusion()[0, 0] == 0.5


def test_batches_equal_numpy_on_the_concatenation(rng):
    accuracy, miou = metrics.MeanClassAccuracy(4), metrics.MeanIoU(4)
    update = tf.function(lambda m, y, p: m.update_state(y, p), reduce_retracing=True)
    labels, logits = [], []
    for num_points in (5, 9, 3):  # per-point batches with a varying number of points
        y = rng.integers(0, 4, size=(2, num_points))
        p = rng.normal(size=(2, num_points, 4)).astype(np.float32)
        for metric in (accuracy, miou):
            update(metric, tf.constant(y), tf.constant(p))
        labels.append(y.ravel())
        logits.append(p.reshape(-1, 4))
    labels, logits = np.concatenate(labels), np.concatenate(logits)
    np.testing.assert_array_equal(miou.confusion(), metrics.confusion_matrix(labels, logits, 4))
    assert float(accuracy.result()) == pytest.approx(metrics.mean_class_accuracy(labels, logits, 4), abs=1e-6)
    assert float(miou.result()) == pytest.approx(metrics.mean_iou(labels, logits, 4), abs=1e-6)


def test_part_metrics_equal_hand_values(part_case):
    instance = metrics.PartInstanceMIoU(part_case["category_parts"])
    category = metrics.PartCategoryMIoU(part_case["category_parts"])
    for metric in (instance, category):
        metric.update_state(part_case["labels"], part_case["logits"])
    assert float(instance.result()) == pytest.approx(part_case["instance_miou"], abs=1e-6)
    assert float(category.result()) == pytest.approx(part_case["category_miou"], abs=1e-6)
    np.testing.assert_allclose(category.per_category(), part_case["per_category"], atol=1e-6)
    ious, categories, weights = instance.shape_ious(part_case["labels"], part_case["logits"])
    np.testing.assert_allclose(ious, part_case["shape_ious"], atol=1e-6)
    np.testing.assert_array_equal(categories, [0, 1, 1])
    np.testing.assert_array_equal(weights, [1, 1, 1])
    instance.reset_state()
    assert float(instance.result()) == 0.0


def test_part_metrics_weights_and_padding(part_case):
    parts, labels, logits = part_case["category_parts"], part_case["labels"], part_case["logits"]
    instance = metrics.PartInstanceMIoU(parts)
    instance.update_state(labels, logits, sample_weight=np.array([1.0, 0.0, 1.0]))  # shape B ignored
    assert float(instance.result()) == pytest.approx((7 / 12 + 1 / 2) / 2, abs=1e-6)
    # Shape B with its last point padded (label -1) equals B on 3 points: parts 2, 3: 1/2, part 4: 1.
    padded = metrics.PartInstanceMIoU(parts)
    padded.update_state(np.array([[2, 2, 3, -1]]), logits[1:2])
    assert float(padded.result()) == pytest.approx(2 / 3, abs=1e-6)
    masked = metrics.PartInstanceMIoU(parts)
    masked.update_state(labels[1:2], logits[1:2], sample_weight=np.array([[1.0, 1.0, 1.0, 0.0]]))
    assert float(masked.result()) == pytest.approx(2 / 3, abs=1e-6)


def test_part_metrics_over_batches_equal_numpy(rng, part_case):
    parts = part_case["category_parts"]
    instance, category = metrics.PartInstanceMIoU(parts), metrics.PartCategoryMIoU(parts)
    spec = (tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, None, 5], tf.float32))

    @tf.function(input_signature=spec)
    def update(y, p):
        instance.update_state(y, p)
        category.update_state(y, p)

    all_labels, all_logits = [], []
    for num_points in (6, 11, 4):
        shape_category = rng.integers(0, 2, size=3)
        y = np.stack([rng.choice(parts[c], size=num_points) for c in shape_category])
        p = rng.normal(size=(3, num_points, 5)).astype(np.float32)
        update(y, p)
        all_labels += list(y)
        all_logits += list(p)
    summary = metrics.part_seg_summary(all_logits, all_labels, None, parts)
    assert float(instance.result()) == pytest.approx(summary["instance_miou"], abs=1e-6)
    assert float(category.result()) == pytest.approx(summary["category_miou"], abs=1e-6)
    np.testing.assert_allclose(category.per_category(), summary["per_category_miou"], atol=1e-6)


def test_invalid_arguments(part_case):
    with pytest.raises(ValueError, match="MeanIoU: num_classes must be a positive integer, got 0"):
        metrics.MeanIoU(0)
    with pytest.raises(ValueError, match="miou: y_pred has 4 scores per sample, expected num_classes=3"):
        metrics.MeanIoU(3).update_state(Y_TRUE, np.zeros((7, 4), np.float32))
    with pytest.raises(ValueError, match="part id 0 belongs to categories 0 and 1"):
        metrics.PartInstanceMIoU([[0, 1], [0]])
    with pytest.raises(ValueError, match="instance_miou: y_pred has 4 part scores, but category_parts"):
        metrics.PartInstanceMIoU(part_case["category_parts"]).update_state(
            part_case["labels"], part_case["logits"][..., :4])


@pytest.mark.parametrize("metric", [
    metrics.ConfusionMatrix(3), metrics.MeanClassAccuracy(3, name="mca"), metrics.MeanIoU(13),
    metrics.PartInstanceMIoU({0: [0, 1], 1: [2, 3, 4]}), metrics.PartCategoryMIoU([[1, 0], [2]]),
])
def test_serialization_round_trip(metric):
    serialized = keras.saving.serialize_keras_object(metric)
    assert serialized["registered_name"] == f"pointnet_tf2>{type(metric).__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()


def _fit(model, metric_list, x, y, x_val, y_val):
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=metric_list)
    history = model.fit(x, y, batch_size=8, epochs=1, validation_data=(x_val, y_val), verbose=0)
    return {key: values[-1] for key, values in history.history.items()}


def test_fit_classification_logs_and_confusion(rng):
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    accuracy, miou = metrics.MeanClassAccuracy(3), metrics.MeanIoU(3)
    logs = _fit(model, ["accuracy", accuracy, miou], x, y, x[:13], y[:13])
    for key in ("mean_class_accuracy", "miou", "val_mean_class_accuracy", "val_miou"):
        assert 0.0 <= logs[key] <= 1.0, key
    logits = model.predict(x[:13], verbose=0)
    # After validation the metric objects hold the validation state (what the trainer reads at epoch end).
    np.testing.assert_array_equal(accuracy.confusion(), metrics.confusion_matrix(y[:13], logits, 3))
    assert logs["val_mean_class_accuracy"] == pytest.approx(metrics.mean_class_accuracy(y[:13], logits), abs=1e-5)
    assert logs["val_miou"] == pytest.approx(metrics.mean_iou(y[:13], logits, 3), abs=1e-5)


def test_fit_part_segmentation_then_save_and_reload(rng, tmp_path, part_case):
    parts = part_case["category_parts"]
    categories = rng.integers(0, 2, size=24)
    y = np.stack([rng.choice(parts[c], size=6) for c in categories])
    x = (np.eye(5, dtype=np.float32)[y] + rng.normal(scale=0.8, size=(24, 6, 5))).astype(np.float32)
    model = keras.Sequential([keras.Input((None, 5)), keras.layers.Dense(5)])
    metric_list = ["accuracy", metrics.PartInstanceMIoU(parts), metrics.PartCategoryMIoU(parts),
                   metrics.MeanIoU(5), metrics.MeanClassAccuracy(5)]
    logs = _fit(model, metric_list, x, y, x[:10], y[:10])
    summary = metrics.part_seg_summary(model.predict(x[:10], verbose=0), y[:10], None, parts)
    assert logs["val_instance_miou"] == pytest.approx(summary["instance_miou"], abs=1e-5)
    assert logs["val_category_miou"] == pytest.approx(summary["category_miou"], abs=1e-5)
    assert 0.0 < logs["instance_miou"] <= 1.0 and 0.0 < logs["miou"] <= 1.0

    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    expected = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    actual = restored.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert set(actual) == set(expected) >= {"instance_miou", "category_miou", "miou", "mean_class_accuracy"}
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, abs=1e-6), key


def test_metrics_under_xla_and_float16_logits(part_case, mixed_precision):
    parts, labels = part_case["category_parts"], part_case["labels"]
    # jit_compile=True: what Keras' "auto" picks on a GPU.
    model = keras.Sequential([keras.Input((4, 5)), keras.layers.Dense(5, dtype="float32")])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True,
                  metrics=[metrics.PartInstanceMIoU(parts), metrics.PartCategoryMIoU(parts), metrics.MeanIoU(5)])
    model.set_weights([np.eye(5, dtype=np.float32), np.zeros(5, np.float32)])
    logs = model.evaluate(part_case["logits"], labels, verbose=0, return_dict=True)
    assert logs["instance_miou"] == pytest.approx(part_case["instance_miou"], abs=1e-6)
    assert logs["category_miou"] == pytest.approx(part_case["category_miou"], abs=1e-6)
    assert logs["miou"] == pytest.approx(metrics.mean_iou(labels, part_case["logits"], 5), abs=1e-6)
    # float16 logits (mixed precision heads): the -inf restriction still works.
    instance = metrics.PartInstanceMIoU(parts)
    instance.update_state(labels, tf.constant(part_case["logits"], tf.float16))
    assert float(instance.result()) == pytest.approx(part_case["instance_miou"], abs=1e-6)
