"""Export: SavedModel and LiteRT files give the Keras model's outputs; ONNX needs its extra."""

import importlib.util
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import cli
from pointnet_tf2 import export
from pointnet_tf2.inference import load_predictor


def litert_interpreter(path):
    """The LiteRT runtime (ai_edge_litert) if installed, else TensorFlow's bundled interpreter."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter is deprecated in favour of ai_edge_litert
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)


@pytest.fixture(scope="module")
def cls_model(cls_run):
    return load_predictor(cls_run.checkpoint).model


@pytest.fixture(scope="module")
def clouds():
    return np.random.default_rng(0).normal(size=(3, 64, 3)).astype(np.float32)


def test_saved_model_export_matches_keras(cls_run, cls_model, clouds, tmp_path, capsys):
    output = str(tmp_path / "cls_saved_model")
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--format", "saved_model", "--output", output]) == 0
    assert "exported" in capsys.readouterr().out
    loaded = tf.saved_model.load(output)
    expected = np.asarray(cls_model(clouds, training=False))
    np.testing.assert_allclose(np.asarray(loaded.serve(clouds)), expected, rtol=1e-5, atol=1e-5)
    signature = loaded.signatures["serving_default"]
    outputs = signature(points=tf.constant(clouds))
    np.testing.assert_allclose(np.asarray(next(iter(outputs.values()))), expected, rtol=1e-5, atol=1e-5)
    metadata = json.load(open(output + ".json"))
    assert metadata["task"] == "cls" and metadata["inputs"] == {"points": [-1, 64, 3]}
    assert metadata["class_names"] == cls_run.description.class_names and metadata["up_axis"] == "y"
    # Existing output: refused, then replaced with --overwrite.
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--output", output]) == 1
    assert "exists; choose another path or overwrite it" in capsys.readouterr().err
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--output", output, "--overwrite"]) == 0
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".")) == []



def test_overwrite_only_replaces_an_export_and_stale_temporaries_go(cls_run, tmp_path, capsys):
    folder = tmp_path / "my_documents"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--output", str(folder), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert err == (f"pointnet-tf2 export: error: {folder}: is not a SavedModel (no saved_model.pb), so --overwrite "
                   "does not replace it; choose another path, or remove it yourself\n")
    assert (folder / "thesis.tex").read_text() == "years of work"
    # An export killed half-way left its temporaries: the next export of that output removes them.
    output = tmp_path / "served"
    (tmp_path / ".served.k2j4_x9a.tmp").mkdir()
    (tmp_path / ".served.k2j4_x9a.tmp" / "saved_model.pb").write_text("half")
    (tmp_path / ".served.abcdefgh.tmp.json").write_text("{")
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--output", str(output)]) == 0
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".")) == []
    assert (output / ".pointnet_tf2_output").is_file() and (output / "saved_model.pb").is_file()

def test_litert_export_matches_keras(cls_run, cls_model, clouds, tmp_path):
    output = str(tmp_path / "cls.tflite")
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--format", "litert", "--output", output]) == 0
    interpreter = litert_interpreter(output)
    runner = interpreter.get_signature_runner()
    expected = np.asarray(cls_model(clouds, training=False))
    for i in range(len(clouds)):
        result = runner(points=clouds[i:i + 1])
        np.testing.assert_allclose(next(iter(result.values())), expected[i:i + 1], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="a litert export must be a .tflite file"):
        export.export_model(cls_model, str(tmp_path / "model.bin"), format="litert")


def test_saved_model_of_a_two_input_part_segmentation_model(part_seg_run, tmp_path):
    model = part_seg_run.model
    output = export.export_model(model, str(tmp_path / "part_seg"), format="saved_model")
    rng = np.random.default_rng(1)
    points = rng.normal(size=(2, 64, 3)).astype(np.float32)
    num_categories = {tensor.name: tensor.shape for tensor in model.inputs}["category"][-1]
    category = np.eye(num_categories, dtype=np.float32)[[0, num_categories - 1]]
    expected = model({"points": points, "category": category}, training=False)
    loaded = tf.saved_model.load(output)  # keep a reference: its variables die with it
    got = loaded.serve({"points": points, "category": category})
    for key in ("parts", "category"):
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), rtol=1e-5, atol=1e-5)


def test_onnx_needs_its_optional_packages(cls_run, cls_model, tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tf2onnx", "onnx") else real(name, *a))
    assert export.missing_packages("onnx") == ["tf2onnx", "onnx"] and export.missing_packages("litert") == []
    with pytest.raises(ImportError, match=r"needs the optional package\(s\) tf2onnx and onnx: pip install"):
        export.export_model(cls_model, str(tmp_path / "m.onnx"), format="onnx")
    status = cli.main(["export", "--checkpoint", cls_run.checkpoint, "--format", "onnx", "--output",
                       str(tmp_path / "m.onnx")])  # fmt: skip
    assert status == 1 and 'pip install "pointnet-tf2[onnx]"' in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="format must be one of saved_model, litert, onnx"):
        export.export_model(cls_model, str(tmp_path / "m"), format="tfjs")


def test_onnx_export_matches_keras_when_the_extra_is_installed(cls_model, part_seg_run, clouds, tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    path = export.export_model(cls_model, str(tmp_path / "cls.onnx"), format="onnx")
    session = onnxruntime.InferenceSession(path)
    got = session.run(None, {"points": clouds})[0]
    np.testing.assert_allclose(got, np.asarray(cls_model(clouds, training=False)), rtol=1e-4, atol=1e-4)

    model = part_seg_run.model
    metadata = export.model_metadata(model, format="onnx")
    path = export.export_model(model, str(tmp_path / "part.onnx"), format="onnx", metadata=metadata)
    order = json.load(open(path + ".json"))["output_order"]
    assert order == ["parts", "category"]
    session = onnxruntime.InferenceSession(path)
    category = np.eye(part_seg_run.description.num_categories, dtype=np.float32)[[0, 1, 2]]
    outputs = session.run(None, {"points": clouds, "category": category})
    expected = model({"points": clouds, "category": category}, training=False)
    for name, got in zip(order, outputs):
        np.testing.assert_allclose(got, np.asarray(expected[name]), rtol=1e-4, atol=1e-4)


def _saved_graph_ops(path):
    loaded = tf.saved_model.load(path)
    function = loaded.signatures["serving_default"]
    ops = {node.op for node in function.graph.as_graph_def().node}
    for library_function in function.graph.as_graph_def().library.function:
        ops.update(node.op for node in library_function.node_def)
    return loaded, ops


def test_export_folds_batch_norm_unless_told_not_to(cls_run, cls_model, clouds, tmp_path, capsys):
    expected = np.asarray(cls_model(clouds, training=False))
    folded_path, plain_path = str(tmp_path / "folded"), str(tmp_path / "plain")
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--output", folded_path]) == 0
    assert cli.main(["export", "--checkpoint", cls_run.checkpoint, "--output", plain_path, "--no_fold"]) == 0
    folded, folded_ops = _saved_graph_ops(folded_path)
    plain, plain_ops = _saved_graph_ops(plain_path)
    assert "FusedBatchNormV3" in plain_ops and "FusedBatchNormV3" not in folded_ops
    for loaded in (folded, plain):
        np.testing.assert_allclose(np.asarray(loaded.serve(clouds)), expected, rtol=1e-5, atol=1e-5)
