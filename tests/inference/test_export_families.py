"""PointNet++ and DGCNN classifiers export with no custom ops and run in each format's own runtime.

The original PointNet++ code could not be exported (LiteRT/ONNX: "unresolved
custom op FarthestPointSample"); here sampling, grouping and kNN are plain
TensorFlow ops, so SavedModel, LiteRT (builtin ops only) and ONNX (standard
domain only) files load in TensorFlow, the LiteRT interpreter and ONNX Runtime
and give the Keras logits. The segmentation heads' `ConcatPointwiseDense`
(per-cloud rows multiplied once per cloud) exports to LiteRT with builtin ops.
"""

import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import export
from pointnet_tf2.models import get_model
from pointnet_tf2.models import model_entry

MODELS = ["pointnet2_cls_ssg", "pointnet2_cls_msg", "dgcnn_cls"]
NUM_POINTS = 64


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    """A tiny model of the family with batch-norm statistics moved off their defaults (so folding matters)."""
    config = dict(model_entry(request.param).test_config, num_points=NUM_POINTS)
    model = get_model(request.param, **config)
    rng = np.random.default_rng(3)
    for layer in model._flatten_layers():
        if hasattr(layer, "moving_variance"):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def clouds():
    return np.random.default_rng(4).uniform(-1, 1, size=(2, NUM_POINTS, 3)).astype(np.float32)


def expected(model, clouds):
    return np.asarray(model(clouds, training=False))


def test_saved_model(model, clouds, tmp_path):
    loaded = tf.saved_model.load(export.export_model(model, str(tmp_path / "saved"), format="saved_model"))
    np.testing.assert_allclose(np.asarray(loaded.serve(clouds)), expected(model, clouds), rtol=1e-5, atol=1e-5)


def test_litert_builtin_ops_only(model, clouds, tmp_path):
    path = export.export_model(model, str(tmp_path / "m.tflite"), format="litert")
    interpreter = tf.lite.Interpreter(model_path=path)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), sorted(ops)
    runner = interpreter.get_signature_runner()
    reference = expected(model, clouds)
    for i in range(len(clouds)):
        got = next(iter(runner(points=clouds[i:i + 1]).values()))
        np.testing.assert_allclose(got, reference[i:i + 1], rtol=1e-4, atol=1e-4)


def test_onnx_standard_ops_only(model, clouds, tmp_path):
    pytest.importorskip("tf2onnx")
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    path = export.export_model(model, str(tmp_path / "m.onnx"), format="onnx")
    graph = onnx.load(path).graph
    domains = {node.domain for node in graph.node}
    assert domains <= {"", "ai.onnx"}, domains
    assert "FarthestPointSample" not in {node.op_type for node in graph.node}
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: clouds})[0]
    np.testing.assert_allclose(got, expected(model, clouds), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["pointnet_sem_seg", "dgcnn_sem_seg"])
def test_segmentation_head_exports_to_litert_builtin_ops(name, tmp_path):
    model = get_model(name, **dict(model_entry(name).test_config, num_points=NUM_POINTS))
    assert "ConcatPointwiseDense" in {type(layer).__name__ for layer in model.layers}
    points = np.random.default_rng(5).uniform(-1, 1, size=(1, NUM_POINTS, 9)).astype(np.float32)
    interpreter = tf.lite.Interpreter(model_path=export.export_model(model, str(tmp_path / "m.tflite"),
                                                                     format="litert"))
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), sorted(ops)
    got = next(iter(interpreter.get_signature_runner()(points=points).values()))
    np.testing.assert_allclose(got, expected(model, points), rtol=1e-4, atol=1e-4)
