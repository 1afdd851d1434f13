"""`pointnet_tf2.compat` works on the installed Keras and TensorFlow, and is the only user of their internals."""

import ast
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import compat

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "pointnet_tf2"
PRIVATE_ATTRIBUTES = ("_nodes_by_depth", "_inbound_nodes", "_outbound_nodes", "_flatten_layers", "_moments",
                      "_run_through_graph", "_reduction_axes")


def _nested_model():
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, keras.layers.BatchNormalization(name="inner_bn")(
        keras.layers.Dense(4, name="inner_dense")(inner_in)), name="inner")
    x_in = keras.Input((3,), name="x")
    h = keras.layers.Dense(4, name="first")(x_in)
    h = inner(h)
    out = keras.layers.Dense(2, name="last")(h)
    return keras.Model(x_in, out, name="outer")


def test_flatten_layers_includes_nested_layers():
    model = _nested_model()
    names = [layer.name for layer in compat.flatten_layers(model)]
    assert {"first", "inner", "inner_dense", "inner_bn", "last"} <= set(names)
    assert "outer" not in names
    assert compat.flatten_layers(model, include_self=True)[0] is model


def test_graph_nodes_inputs_first_and_only_this_model():
    model = _nested_model()
    nodes = compat.graph_nodes(model)
    operations = [node.operation.name for node in nodes]
    assert operations.index("first") < operations.index("inner") < operations.index("last")
    # A second model sharing a layer adds nodes to the layer, not to the first model's graph.
    shared = model.get_layer("last")
    other_in = keras.Input((4,))
    keras.Model(other_in, shared(other_in))
    assert len(compat.inbound_nodes(shared)) == 2
    assert len(compat.graph_nodes(model)) == len(nodes)


def test_is_functional():
    assert compat.is_functional(_nested_model())
    assert not compat.is_functional(keras.layers.Dense(2))


def test_inbound_and_outbound_nodes():
    model = _nested_model()
    first = model.get_layer("first")
    assert [node.operation for node in compat.inbound_nodes(first)] == [first]
    assert [node.operation.name for node in compat.outbound_nodes(first)] == ["inner"]


def test_run_through_graph_replaces_and_bypasses_layers():
    x_in = keras.Input((3,))
    first = keras.layers.Dense(3, name="first")
    h = first(x_in)
    h = keras.layers.Dense(3, use_bias=False, kernel_initializer="identity", name="middle")(h)
    model = keras.Model(x_in, keras.layers.Activation("relu", name="relu")(h))
    replacement = keras.layers.Dense(3, kernel_initializer="zeros", bias_initializer="ones", name="replacement")
    bypassed = model.get_layer("middle")

    def call_fn(layer, *args, **kwargs):
        return args[0] if layer is bypassed else layer(*args, **kwargs)

    inputs = keras.Input((3,))
    outputs = compat.run_through_graph(model, inputs, lambda layer: replacement if layer is first else layer, call_fn)
    rebuilt = keras.Model(inputs, outputs)
    np.testing.assert_allclose(rebuilt(np.full((2, 3), 5.0, "float32")), np.ones((2, 3)))


def test_batch_norm_moments_patch_and_restore():
    layer = keras.layers.BatchNormalization()
    x = np.arange(24, dtype="float32").reshape(6, 4)
    layer.build(x.shape)
    assert compat.can_patch_batch_norm_moments(layer)
    assert list(compat.batch_norm_reduction_axes(layer)) == [0]
    mean, variance = compat.batch_norm_moments(layer, tf.constant(x), None)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(variance, x.var(axis=0), rtol=1e-5)

    calls = []

    def fake(bn, inputs, mask):
        calls.append(bn)
        return tf.zeros([4]), tf.ones([4])

    assert compat.patch_batch_norm_moments(layer, fake)
    assert compat.is_batch_norm_moments_patched(layer)
    np.testing.assert_allclose(layer(x, training=True), x / np.sqrt(1 + layer.epsilon), rtol=1e-5)
    assert calls == [layer]
    # Another instance is unchanged.
    other = keras.layers.BatchNormalization()
    other.build(x.shape)
    assert not compat.is_batch_norm_moments_patched(other)
    compat.restore_batch_norm_moments(layer)
    assert not compat.is_batch_norm_moments_patched(layer)
    np.testing.assert_allclose(np.asarray(layer(x, training=True)).mean(axis=0), 0.0, atol=1e-5)
    assert len(calls) == 1


def test_tensorflow_internals_import():
    # The coordination-service set-up needs these; they must exist on the installed TensorFlow.
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    assert callable(multi_worker_util.normalize_cluster_spec)
    assert callable(multi_worker_util.coordination_leader)
    assert hasattr(context.context(), "configure_coordination_service")
    assert coordination_config_pb2.CoordinatedJob(name="worker", num_tasks=2).num_tasks == 2
    assert compat.coordination_service_configured() in (True, False)


def _private_uses(path):
    """Lines of a module using one of the private Keras/TF names or importing `tensorflow.python`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Constant) and node.value in PRIVATE_ATTRIBUTES:
            found.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if re.match(r"tensorflow\.(python|compiler)\b|keras\.src\b", a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if re.match(r"tensorflow\.(python|compiler)\b", node.module) or node.module.startswith("keras.src"):
                found.append((node.lineno, node.module))
            elif node.module == "tensorflow" and any(a.name in ("python", "compiler") for a in node.names):
                found.append((node.lineno, "tensorflow.python"))
    return found


def test_no_private_keras_or_tensorflow_outside_compat():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "compat.py" and path.parent == PACKAGE:
            continue
        uses = _private_uses(path)
        if uses:
            offenders[str(path.relative_to(PACKAGE.parent))] = uses
    assert offenders == {}, f"private Keras/TensorFlow details outside pointnet_tf2/compat.py: {offenders}"


def test_private_use_scanner_finds_offenders(tmp_path):
    # The scan above must be able to fail.
    sample = tmp_path / "sample.py"
    sample.write_text("from tensorflow.python.eager import context\n"
                      "def f(model, layer):\n"
                      "    vars(layer).pop('_moments', None)\n"
                      "    return model._flatten_layers(include_self=False), layer._inbound_nodes\n")
    names = sorted(name for _, name in _private_uses(sample))
    assert names == ["'_moments'", "._flatten_layers", "._inbound_nodes", "tensorflow.python.eager"]


@pytest.mark.parametrize("name", compat.__all__)
def test_every_helper_documented(name):
    assert getattr(compat, name).__doc__
