"""Exporting a trained model for serving: SavedModel, LiteRT (TFLite) or ONNX.

Uses Keras's own `model.export` (TensorFlow backend):

- "saved_model" (`format="tf_saved_model"`): a folder; load it with
  `tf.saved_model.load(path)` and call `.serve(points)` (or the
  `serving_default` signature). Needs nothing beyond TensorFlow.
- "litert" (`format="litert"`): one `.tflite` file, converted by the
  `tf.lite.TFLiteConverter` that ships with TensorFlow. Run it with the
  `ai_edge_litert` package (`from ai_edge_litert.interpreter import
  Interpreter`, the supported LiteRT runtime, `pip install ai-edge-litert`)
  or with `tf.lite.Interpreter` (deprecated, still in TF 2.21).
- "onnx" (`format="onnx"`): one `.onnx` file; needs the optional packages
  `tf2onnx` and `onnx` (`pip install "pointnet-tf2[onnx]"`). Models with two
  inputs (part segmentation) are exported with positional inputs
  `points, category` and outputs in the order recorded as `output_order`
  in the sidecar JSON (tf2onnx cannot convert dict inputs).

The exported graph is the model in inference mode (batch norm uses its
moving statistics, dropout is off), with a free batch dimension. By default
each batch norm is first folded into the dense layer before it
(`pointnet_tf2.models.fold_batch_norm`), and in a SavedModel the blocks
that feed a max over points are fused with it: same outputs within float32
rounding, faster on CPU (README, Performance). Inputs are
the clouds as the model was trained on them (for ModelNet-style models: y
up, centred and scaled into the unit sphere; S3DIS models: the 9 block
features; voxel models: occupancy grids of their own size); outputs are
logits (embeddings for embedding models). A sidecar `<output>.json` records
the task, input names and shapes, what the outputs are, the preprocessing
(points per cloud, channels, normalisation, up axis, grid size), the class
names and the up axis, so a serving program knows what the numbers mean.

An existing output is only replaced with `overwrite`, a SavedModel folder
only if it is one (it has `saved_model.pb`, or the marker file that every
SavedModel export gets); the temporaries of an export that was killed are
removed by the next export of the same output.
"""

import importlib.util
import json
import os
import shutil
import tempfile

import numpy as np

from pointnet_tf2.checkpoints import input_spec
from pointnet_tf2.checkpoints import model_task
from pointnet_tf2.models.folding import fold_batch_norm as fold
from pointnet_tf2.models.kinds import model_family
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.kinds import model_preprocessing
from pointnet_tf2.models.registry import NORMALIZATIONS
from pointnet_tf2.tasks import get_task
from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils.files import has_output_marker
from pointnet_tf2.utils.files import remove_stale_temporaries
from pointnet_tf2.utils.files import write_output_marker
from pointnet_tf2.utils.locking import folder_lock

FORMATS = {"saved_model": "tf_saved_model", "litert": "litert", "onnx": "onnx"}
SUFFIXES = {"litert": ".tflite", "onnx": ".onnx"}
ONNX_PACKAGES = ("tf2onnx", "onnx")


def missing_packages(format):
    """The optional packages an export format needs that are not installed.

    Args:
        format: "saved_model", "litert" or "onnx".

    Returns:
        A list of package names (empty when everything is there).
    """
    if format != "onnx":
        return []
    return [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]


def model_metadata(model, *, class_names=None, category_names=None, up_axis=None, checkpoint=None, format=None,
                   num_points=None):  # fmt: skip
    """What a serving program needs to know besides the graph.

    `outputs` is "logits" or "embedding" (the model's output kind);
    `preprocessing` says how its inputs are made: points per cloud, channels,
    the normalisation (`NORMALIZATIONS`: unit-sphere shapes, S3DIS block
    features, or occupancy grids with `resolution` and `inner` for voxel
    models), the up axis.

    Args:
        model: The Keras model.
        class_names: Names of the outputs (classes or parts).
        category_names: Part segmentation: object categories (input "category").
        up_axis: "x", "y" or "z": up axis of the training clouds.
        checkpoint: Where the model came from.
        format: The export format.
        num_points: Points per cloud the model was fed (default: the model's;
            voxel models: the points voxelised into a grid, e.g. the run's `--num_point`).

    Returns:
        A JSON-serialisable dict.
    """
    spec = input_spec(model)
    input_kind, output_kind = model_kinds(model)
    registered = model_preprocessing(model)
    if registered is not None:  # a model of the zoo: its registry entry says
        preprocessing = registered.to_dict()
    else:
        normalization = "occupancy_grid" if spec.kind == "voxels" else get_task(model_task(model)).normalization
        preprocessing = {"num_points": spec.num_points, "channels": spec.input_dims, "normalization": normalization,
                         "up_axis": up_axis, "resolution": spec.resolution, "inner": spec.inner,
                         "normalization_description": NORMALIZATIONS[normalization]}  # fmt: skip
    if num_points is not None:
        preprocessing["num_points"] = int(num_points)
    if up_axis is not None:
        preprocessing["up_axis"] = up_axis
    normalization = preprocessing["normalization"]
    return {
        "format": format,
        "task": model_task(model),
        "model": getattr(model, "builder", None) or model.name,
        "family": model_family(model),
        "inputs": {tensor.name: [d if d is not None else -1 for d in tensor.shape] for tensor in model.inputs},
        "input_kind": input_kind,
        "outputs": output_kind,
        "class_names": list(class_names) if class_names is not None else None,
        "category_names": list(category_names) if category_names is not None else None,
        "up_axis": up_axis,
        "normalization": NORMALIZATIONS[normalization],
        "preprocessing": preprocessing,
        "checkpoint": os.path.abspath(checkpoint) if checkpoint else None,
    }


def export_model(model, output, *, format="saved_model", overwrite=False, metadata=None, fold_batch_norm=True):
    """Exports a Keras model with `model.export`, atomically.

    The artifact is written under a temporary name next to `output` and
    renamed when complete; with `metadata`, `<output>.json` is written too.

    Args:
        model: A Keras model (e.g. `open_checkpoint(checkpoint).model`).
        output: A folder for "saved_model", a `.tflite` file for "litert", a
            `.onnx` file for "onnx".
        format: "saved_model", "litert" or "onnx".
        overwrite: Replace an existing output.
        metadata: Optional dict written as `<output>.json` (see `model_metadata`).
        fold_batch_norm: Fold batch norms into the preceding dense layers first.

    Returns:
        The absolute path of the artifact.

    Raises:
        ValueError: On an unknown format, a wrong suffix, an existing output
            without `overwrite`, or a folder in the way that is not a
            SavedModel.
        ImportError: If the format needs packages that are not installed.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    missing = missing_packages(format)
    if missing:
        raise ImportError(f"the {format} export needs the optional package(s) {' and '.join(missing)}: "
                          f"pip install \"pointnet-tf2[onnx]\" (or pip install {' '.join(ONNX_PACKAGES)})")  # fmt: skip
    output = os.path.abspath(os.fspath(output))
    suffix = SUFFIXES.get(format)
    if suffix and not output.lower().endswith(suffix):
        raise ValueError(f"{output}: a {format} export must be a {suffix} file")
    if os.path.lexists(output) and not overwrite:
        raise ValueError(f"{output}: exists; choose another path or overwrite it (--overwrite)")
    if os.path.lexists(output) and format == "saved_model" and not _is_saved_model(output):
        raise ValueError(f"{output}: is not a SavedModel (no saved_model.pb), so --overwrite does not replace it; "
                         "choose another path, or remove it yourself")  # fmt: skip
    if os.path.isdir(output) and format != "saved_model":
        raise ValueError(f"{output}: is a folder; a {format} export is one file")
    remove_stale_temporaries(os.path.dirname(output), [os.path.basename(output), os.path.basename(output) + ".json"])
    if fold_batch_norm:
        # LiteRT and ONNX have no TensorList ops for DenseMaxPooling's loop over clouds.
        model = fold(model, fuse_max_pool=format == "saved_model")
    _call_once(model)  # the model exported (a folded copy is a new one), which the ONNX exporter wants called
    if format == "saved_model":
        _export_folder(model, output)
    else:
        exported, output_order = (_positional(model) if format == "onnx" else (model, None))
        with atomic_output(output) as tmp:
            exported.export(tmp, format=FORMATS[format], verbose=False)
        if output_order is not None and metadata is not None:
            metadata = dict(metadata, output_order=output_order)
    if metadata is not None:
        with atomic_output(output + ".json") as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(metadata, f, indent=1)
    return output


def _call_once(model):
    """Calls a freshly loaded model on zeros: the ONNX exporter refuses models never called."""
    def zeros(tensor):
        shape = [1] + [d if d is not None else 32 for d in tuple(tensor.shape)[1:]]
        return np.zeros(shape, dtype="float32")

    names = [tensor.name for tensor in model.inputs]
    inputs = {tensor.name: zeros(tensor) for tensor in model.inputs} if len(names) > 1 else zeros(model.inputs[0])
    model(inputs, training=False)


def _positional(model):
    """ONNX: a model with named inputs (part segmentation) as one with positional inputs and outputs.

    tf2onnx (1.17) loses inputs passed as a dict ("graph input 'category' not
    exist"); a wrapper taking `[points, category]` and returning a list
    converts. Returns `(model, output names in order)`, or `(model, None)`
    when the model already has a single input.
    """
    if len(model.inputs) == 1:
        return model, None
    import keras

    inputs = [keras.Input(tuple(tensor.shape)[1:], name=tensor.name) for tensor in model.inputs]
    outputs = model({tensor.name: layer for tensor, layer in zip(model.inputs, inputs)})
    names = list(outputs) if isinstance(outputs, dict) else None
    wrapper = keras.Model(inputs, [outputs[name] for name in names] if names else outputs, name=f"{model.name}_onnx")
    wrapper([np.zeros([1] + [d or 32 for d in tuple(t.shape)[1:]], "float32") for t in inputs], training=False)
    return wrapper, names


def _is_saved_model(path):
    return os.path.isdir(path) and (has_output_marker(path) or os.path.isfile(os.path.join(path, "saved_model.pb")))


def _export_folder(model, output):
    parent, name = os.path.split(output)
    os.makedirs(parent, exist_ok=True)
    with folder_lock(parent):  # shared: our temporary is not a stale one
        staging = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
        target = os.path.join(staging, name)
        try:
            model.export(target, format=FORMATS["saved_model"], verbose=False)
            write_output_marker(target, kind="saved_model")
            old = None
            if os.path.lexists(output):
                old = os.path.join(staging, ".old")
                os.rename(output, old)
            try:
                os.rename(target, output)
            except BaseException:
                if old is not None:
                    os.rename(old, output)
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
