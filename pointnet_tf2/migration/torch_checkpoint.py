"""Reads PyTorch checkpoints without torch and loads them into zoo models named after PyTorch modules.

`read_torch_state_dict` reads what `torch.save(model.state_dict(), path)`
writes, in both of torch's formats, with the standard library and NumPy only:

- the zip format (torch >= 1.6): `<archive>/data.pkl` is a pickle whose
  tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
  requires_grad, hooks)` reductions; each storage is a persistent id
  `('storage', torch.FloatStorage, key, location, numel)` whose bytes are the
  record `<archive>/data/<key>` (byte order in `<archive>/byteorder`, little
  if absent);
- the legacy format (torch < 1.6, e.g. the 2019 `pretrained/model.1024.t7`
  of WangYueFt/dgcnn): pickles of the magic number, the protocol version
  (1001) and a system-info dict, the state_dict pickle (persistent ids
  `('storage', type, key, location, numel, view)`), the list of storage
  keys, then per key an int64 element count and the raw elements;
- a `.npz` of the state_dict (`np.savez(path, **{k: v.numpy() ...})`).

The pickles go through a restricted `pickle.Unpickler` that resolves only
`torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, the
`torch.*Storage` classes and `collections.OrderedDict`, each to a NumPy
stand-in: any other global (a class of the training script, `os.system`, ...)
stops the read before anything is called. Storage bytes are only viewed
within their bounds. A dict holding the state_dict under `state_dict`,
`model_state_dict` or `model` is unwrapped, and DataParallel's `module.`
prefix stripped.

`load_torch_checkpoint` maps a state_dict onto a model whose Keras layers
carry the PyTorch module names (`dgcnn_cls`, see its module docstring):
`{name}.weight` or, for a module inside an `nn.Sequential`, `{name}.0.weight`
-> Dense `name` kernel (trailing 1x1 axes dropped, transposed), `.bias` ->
bias; `bn{i}.weight/bias/running_mean/running_var` -> BatchNormalization
`bn{i}` gamma/beta/moving mean/moving variance, where `conv{i}.1.*` is the
same module stored a second time (`nn.Sequential(conv, bn, act)` whose `bn`
is also an attribute). `num_batches_tracked` counters are ignored; every
other tensor is used exactly once, or the load fails naming it.
"""

import collections
import dataclasses
import io
import math
import os
import pickle
import re
import struct
import zipfile

import keras
import numpy as np

from pointnet_tf2.migration.tf1_checkpoint import flat_layers
from pointnet_tf2.migration.tf1_checkpoint import mapping_problems
from pointnet_tf2.migration.tf1_checkpoint import short_listing

# torch's legacy-format header (torch/serialization.py).
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
# Storage class name -> stored element type ("bfloat16": the upper half of a float32).
STORAGE_DTYPES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "b1",
}
# Where training scripts keep the state_dict inside a bigger checkpoint dict.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
DATA_PARALLEL_PREFIX = "module."
# PyTorch's BatchNorm epsilon: the Keras layers must use the same for equal outputs.
TORCH_BN_EPSILON = 1e-5
_BN_PARTS = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
             ("running_var", "moving_variance"))
_COUNTER = "num_batches_tracked"


class _BadFile(ValueError):
    """A one-line error naming the file, raised as is."""


class _Refused(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list (raised before anything is called)."""


class _Malformed(pickle.UnpicklingError):
    """The pickle's tensor or storage records are not what torch writes."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
    """Stand-in for a `torch.*Storage` class: only its element type matters."""

    name: str

    @property
    def dtype(self):
        return STORAGE_DTYPES[self.name]

    def __setstate__(self, state):
        raise _Malformed(f"the pickle sets attributes of {self.name}")


@dataclasses.dataclass(frozen=True)
class _StorageRef:
    """A storage named by a persistent id; its bytes are read after the pickle."""

    key: str
    dtype: str
    numel: int
    offset: int = 0  # elements into the root storage (legacy storage views)


@dataclasses.dataclass(frozen=True)
class _TensorRef:
    """A tensor of a storage: `_rebuild_tensor_v2`'s arguments, checked."""

    storage: _StorageRef
    offset: int
    size: tuple
    stride: tuple


def _int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Malformed(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _ints(values, what):
    if not isinstance(values, (tuple, list)):
        raise _Malformed(f"{what} must be a tuple of integers, got {values!r}")
    return tuple(_int(v, what) for v in values)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """Stand-in for `torch._utils._rebuild_tensor_v2`: records the view, reads nothing."""
    if not isinstance(storage, _StorageRef):
        raise _Malformed(f"a tensor's storage must be a persistent storage id, got {type(storage).__name__}")
    size, stride = _ints(size, "tensor size"), _ints(stride, "tensor stride")
    if len(size) != len(stride):
        raise _Malformed(f"tensor size {size} and stride {stride} differ in length")
    return _TensorRef(storage, _int(storage_offset, "tensor storage offset"), size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    """Stand-in for `torch._utils._rebuild_parameter`: a Parameter is its tensor."""
    if not isinstance(data, _TensorRef):
        raise _Malformed(f"a Parameter must wrap a tensor, got {type(data).__name__}")
    return data


class _Function:
    """An allow-listed function as the unpickler hands it out: callable, but no `BUILD` can change it."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        return self.function(*args)

    def __setstate__(self, state):
        raise _Malformed(f"the pickle sets attributes of {self.function.__name__}")


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,  # a BUILD on the class fails: a built-in type
    ("torch._utils", "_rebuild_tensor_v2"): _Function(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_parameter"): _Function(_rebuild_parameter),
}


def _text(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


class _RestrictedUnpickler(pickle._Unpickler):
    """Unpickles a torch checkpoint pickle, resolving only the allow-listed globals to stand-ins.

    The pure-Python unpickler: its memo is a dict, so a damaged `LONG_BINPUT`
    index cannot make it allocate gigabytes as the C unpickler's memo array
    does (the pickles of a state_dict are a few kilobytes).

    Args:
        file: The pickle stream.
        legacy: Persistent ids have the legacy format's sixth (view) field.
    """

    def __init__(self, file, *, legacy=False):
        super().__init__(file, encoding="utf-8")
        self.legacy = legacy
        self.storages = {}  # key -> _StorageRef of the root storage

    def find_class(self, module, name):
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        if module in ("torch", "torch.cuda") and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or _text(pid[0]) != "storage":
            raise _Malformed(f"unknown persistent id {pid!r:.80}")
        fields = 6 if self.legacy else 5
        if len(pid) != fields:
            raise _Malformed(f"a storage id has {fields} fields, got {pid!r:.80}")
        storage_type, key, numel = pid[1], _text(pid[2]), _int(pid[4], "storage size")
        if not isinstance(storage_type, _StorageType):
            raise _Malformed(f"storage type must be a torch storage class, got {storage_type!r:.80}")
        if not isinstance(key, str):
            raise _Malformed(f"storage key must be a string, got {key!r:.80}")
        root = self.storages.setdefault(key, _StorageRef(key, storage_type.dtype, numel))
        if (root.dtype, root.numel) != (storage_type.dtype, numel):
            raise _Malformed(f"storage {key} is named with two types or sizes")
        view = pid[5] if self.legacy else None
        if view is None:
            return root
        # Legacy storage views: (view key, offset, size) into the root storage, in elements.
        if not isinstance(view, tuple) or len(view) != 3:
            raise _Malformed(f"storage view must be (key, offset, size), got {view!r:.80}")
        offset, size = _int(view[1], "storage view offset"), _int(view[2], "storage view size")
        if offset + size > numel:
            raise _Malformed(f"storage view {view!r} lies outside its storage of {numel} elements")
        return _StorageRef(key, root.dtype, size, offset)


def _decode(raw, dtype, byteorder):
    """Raw storage bytes -> a 1-D NumPy array (native byte order; bfloat16 widened to float32)."""
    order = "<" if byteorder == "little" else ">"
    if dtype == "bfloat16":
        halves = np.frombuffer(raw, dtype=order + "u2").astype(np.uint32)
        return (halves << 16).view(np.float32)
    if dtype == "b1":
        return np.frombuffer(raw, dtype=np.bool_).copy()
    return np.frombuffer(raw, dtype=order + dtype).astype(dtype)


def _materialize(tensor, storages):
    """A `_TensorRef` -> a NumPy array, its view checked to lie inside its storage."""
    flat = storages[tensor.storage.key]
    start = tensor.storage.offset + tensor.offset
    limit = tensor.storage.offset + tensor.storage.numel
    if any(n == 0 for n in tensor.size):
        return np.zeros(tensor.size, dtype=flat.dtype)
    # No more elements than the storage holds: a state_dict has no expanded (stride 0) tensors, and a
    # damaged size must not allocate more than the file holds.
    if math.prod(tensor.size) > tensor.storage.numel:
        raise _Malformed(f"a tensor of shape {tensor.size} has more elements than storage {tensor.storage.key} "
                         f"({tensor.storage.numel})")
    last = start + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride))
    if last >= limit or limit > flat.size:
        raise _Malformed(f"a tensor of shape {tensor.size} reads past the end of storage {tensor.storage.key}")
    strides = tuple(s * flat.itemsize for s in tensor.stride)
    return np.lib.stride_tricks.as_strided(flat[start:], shape=tensor.size, strides=strides).copy()


# -- the two torch formats ----------------------------------------------------------------------


def _read_zip(archive, path):
    """The unpickled object and `{storage key: array}` of a torch zip checkpoint."""
    names = archive.namelist()
    if any(name.endswith("/constants.pkl") for name in names):
        raise _BadFile(f"{path}: is a TorchScript archive (torch.jit.save), not a state_dict; "
                       "save model.state_dict() with torch.save")
    pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise _BadFile(f"{path}: a zip file but not a torch checkpoint (no single <archive>/data.pkl)")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise _BadFile(f"{path}: unknown byte order {byteorder!r} in {prefix}byteorder")
    unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])))
    obj = unpickler.load()

    def storages(keys):
        arrays = {}
        for key in keys:
            ref = unpickler.storages[key]
            record = f"{prefix}data/{key}"
            if record not in names:
                raise _BadFile(f"{path}: storage record {record} is missing; is the file complete?")
            itemsize = 2 if ref.dtype == "bfloat16" else np.dtype(ref.dtype).itemsize
            size = archive.getinfo(record).file_size  # checked before anything is read
            if size != ref.numel * itemsize:
                raise _BadFile(f"{path}: storage record {record} has {size} bytes, expected "
                               f"{ref.numel} x {itemsize}")
            arrays[key] = _decode(archive.read(record), ref.dtype, byteorder)
        return arrays

    return obj, storages


def _read_legacy(data, path):
    """The unpickled object and `{storage key: array}` reader of a legacy-format torch checkpoint."""
    stream = io.BytesIO(data)
    header = _RestrictedUnpickler(stream)
    magic = header.load()
    if magic != LEGACY_MAGIC_NUMBER:
        raise _BadFile(f"{path}: not a PyTorch checkpoint (neither torch's zip format nor its legacy format "
                       "with magic number 0x1950a86a20f9469cfc6c), nor a .npz")
    version = header.load()
    if version != LEGACY_PROTOCOL_VERSION:
        raise _BadFile(f"{path}: legacy torch format version {version!r} is not supported (expected 1001)")
    sys_info = header.load()
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
    unpickler = _RestrictedUnpickler(stream, legacy=True)
    obj = unpickler.load()
    keys = _RestrictedUnpickler(stream).load()
    if not isinstance(keys, list):
        raise _Malformed(f"the storage key list is a {type(keys).__name__}")
    keys = [_text(k) for k in keys]
    byteorder = "little" if little else "big"
    # After the key list: per storage an int64 element count, then its elements.
    offsets, position = {}, stream.tell()
    for key in keys:
        ref = unpickler.storages.get(key)
        if ref is None:
            raise _Malformed(f"storage {key} has data but no tensor")
        if position + 8 > len(data):
            raise _BadFile(f"{path}: ends inside the storage data (storage {key}); is the file complete?")
        (count,) = struct.unpack(("<" if little else ">") + "q", data[position:position + 8])
        itemsize = 2 if ref.dtype == "bfloat16" else np.dtype(ref.dtype).itemsize
        if count != ref.numel:
            raise _Malformed(f"storage {key} holds {count} elements, its id says {ref.numel}")
        end = position + 8 + count * itemsize
        if end > len(data):
            raise _BadFile(f"{path}: ends inside the storage data (storage {key}); is the file complete?")
        offsets[key] = (position + 8, end)
        position = end

    def storages(wanted):
        arrays = {}
        for key in wanted:
            if key not in offsets:
                raise _BadFile(f"{path}: storage {key} has no data; is the file complete?")
            start, end = offsets[key]
            arrays[key] = _decode(data[start:end], unpickler.storages[key].dtype, byteorder)
        return arrays

    return obj, storages


def _select_state_dict(obj, path):
    """The `{name: tensor}` dict inside a torch checkpoint object, or `ValueError`."""
    if isinstance(obj, dict) and not any(isinstance(v, _TensorRef) for v in obj.values()):
        for key in STATE_DICT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise _BadFile(f"{path}: holds a {type(obj).__name__}, not a state_dict (a dict of tensors, or a dict "
                       f"holding one under {', '.join(repr(k) for k in STATE_DICT_KEYS)})")
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, _TensorRef):
            raise _BadFile(f"{path}: state_dict entry {key!r} is a {type(value).__name__}, not a tensor")
    return obj


def _strip_prefix(state, path):
    """Removes DataParallel's `module.` prefix from every key that has it."""
    stripped = {}
    for key, value in state.items():
        name = key[len(DATA_PARALLEL_PREFIX):] if key.startswith(DATA_PARALLEL_PREFIX) else key
        if name in stripped:
            raise _BadFile(f"{path}: state_dict has both {name!r} and {DATA_PARALLEL_PREFIX + name!r}")
        stripped[name] = value
    return stripped


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: np.asarray(archive[name]) for name in archive.files}
    except ValueError as error:  # object arrays need pickle: refused
        raise _BadFile(f"{path}: cannot read the .npz without pickle ({error})") from None


def read_torch_state_dict(path):
    """Reads a PyTorch state_dict (torch zip or legacy format, or `.npz`) into NumPy arrays, without torch.

    Example:

    ```python
    state = read_torch_state_dict("pretrained/model.1024.t7")
    state["conv1.0.weight"].shape  # (64, 6, 1, 1)
    ```

    Args:
        path: A file written by `torch.save(model.state_dict(), path)` (any
            torch version; `.t7`, `.pt`, `.pth`), by `torch.save` of a dict
            holding the state_dict under `state_dict`, `model_state_dict` or
            `model`, or a `.npz` of the state_dict.

    Returns:
        `{name: np.ndarray}` in PyTorch layout, DataParallel's `module.`
        prefix removed.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: One line naming the file: not a torch checkpoint, a
            damaged one, not a state_dict, or a pickle naming any other
            Python global (refused before it is called).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if names and all(name.endswith(".npy") for name in names):
                    return _strip_prefix(_read_npz(path), path)
                obj, storages = _read_zip(archive, path)
                state = _select_state_dict(obj, path)
                arrays = storages(sorted({t.storage.key for t in state.values()}))
        else:
            with open(path, "rb") as file:
                data = file.read()
            obj, storages = _read_legacy(data, path)
            state = _select_state_dict(obj, path)
            arrays = storages(sorted({t.storage.key for t in state.values()}))
        values = {name: _materialize(tensor, arrays) for name, tensor in state.items()}
    except _BadFile:
        raise
    except _Refused as error:
        raise ValueError(f"{path}: refused: the pickle names the Python global {error}, which a state_dict does "
                         "not need (allowed: tensors, storages, OrderedDict); nothing was run") from None
    except Exception as error:  # a damaged file can fail anywhere in pickle, zipfile or numpy
        detail = str(error) if isinstance(error, _Malformed) else f"{type(error).__name__}: {error}"
        raise ValueError(f"{path}: cannot read it as a PyTorch checkpoint ({detail[:200]}); "
                         "is it complete?") from None
    return _strip_prefix(values, path)


# -- mapping onto the Keras model ---------------------------------------------------------------


@dataclasses.dataclass
class TorchCheckpointMapping:
    """What `load_torch_checkpoint` did.

    Attributes:
        checkpoint: The file (or "state_dict") that was read.
        assigned: `(state_dict key, model weight path)` pairs, one per model
            weight; a BN read from `bn1.*` also consumed its copy `conv1.1.*`.
        ignored: Keys skipped: the `num_batches_tracked` counters.
    """

    checkpoint: str
    assigned: list
    ignored: list


def _shape(shape):
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def _torch_kernel(value, target):
    """A torch weight `(out, in[, 1, 1])` -> a Keras kernel `(in, out)`, or None if the shapes do not fit."""
    if value.ndim < 2 or any(d != 1 for d in value.shape[2:]):
        return None
    kernel = value.reshape(value.shape[:2]).T
    return kernel if kernel.shape == target else None


def _targets(model):
    """`[(keras weight, [state_dict keys, first = canonical], kind)]` for every Dense and BN weight."""
    layers = flat_layers(model)
    dense_names = {layer.name for layer in layers if isinstance(layer, keras.layers.Dense)}
    targets, others = [], []
    for layer in layers:
        name = layer.name
        if isinstance(layer, keras.layers.Dense):
            targets.append((layer.kernel, [f"{name}.weight", f"{name}.0.weight"], "kernel"))
            if layer.use_bias:
                targets.append((layer.bias, [f"{name}.bias", f"{name}.0.bias"], "vector"))
        elif isinstance(layer, keras.layers.BatchNormalization):
            if not np.isclose(layer.epsilon, TORCH_BN_EPSILON, rtol=1e-6, atol=0):
                raise ValueError(f"model layer {name!r} has batch-norm epsilon {layer.epsilon}, PyTorch's is "
                                 f"{TORCH_BN_EPSILON}: the converted model would not give the same outputs")
            number = re.fullmatch(r"bn(\d+)", name)
            alias = f"conv{number[1]}.1" if number and f"conv{number[1]}" in dense_names else None
            for torch_part, keras_part in _BN_PARTS:
                variable = getattr(layer, keras_part, None)
                if variable is None:  # center/scale off
                    continue
                keys = [f"{name}.{torch_part}"] + ([f"{alias}.{torch_part}"] if alias else [])
                targets.append((variable, keys, "vector"))
        else:
            others.extend(layer.weights)
    return targets, others


def load_torch_checkpoint(model, checkpoint, *, source=None):
    """Loads a PyTorch state_dict into a zoo model whose layers carry the PyTorch module names.

    Nothing is assigned unless every model weight finds its tensor with the
    right shape and every tensor (but the `num_batches_tracked` counters) is
    used; otherwise one `ValueError` lists the first problems with shapes.

    Example:

    ```python
    state = read_torch_state_dict("pretrained/model.1024.t7")
    model = pointnet_tf2.get_model("dgcnn_cls", k=20, **dgcnn_cls_config(state))
    load_torch_checkpoint(model, state)
    ```

    Args:
        model: E.g. `dgcnn_cls`, built with the checkpoint's widths (see
            `dgcnn_cls_config`).
        checkpoint: A file for `read_torch_state_dict`, or a state_dict
            `{name: array}` (`module.` prefixes are stripped).
        source: Name of the checkpoint in messages (default: the file, or
            "state_dict").

    Returns:
        A `TorchCheckpointMapping`.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If it cannot be read or does not match the model.
    """
    if isinstance(checkpoint, dict):
        source = source or "state_dict"
        state = _strip_prefix({k: np.asarray(v) for k, v in checkpoint.items()}, source)
    else:
        source = source or os.fspath(checkpoint)
        state = read_torch_state_dict(checkpoint)
    model_name = getattr(model, "name", "model")
    targets, others = _targets(model)

    assignments, used, missing, mismatched, differing = [], set(), [], [], []
    for variable, keys, kind in targets:
        present = [key for key in keys if key in state]
        target = tuple(int(d) for d in variable.shape)
        if not present:
            missing.append(f"{keys[0]} for {variable.path} {_shape(target)}")
            continue
        used.update(present)
        key, value = present[0], state[present[0]]
        for other in present[1:]:
            if state[other].shape != value.shape or not np.array_equal(state[other], value):
                differing.append(f"{key} and {other}")
        fitted = _torch_kernel(value, target) if kind == "kernel" else (value if value.shape == target else None)
        if fitted is None:
            expects = f" (expects {_shape((target[1], target[0]))} plus any 1x1 axes)" if kind == "kernel" else ""
            mismatched.append(f"{key} {_shape(value.shape)} vs model {variable.path} {_shape(target)}{expects}")
            continue
        assignments.append((key, variable, np.array(fitted, dtype=np.float32)))

    ignored = sorted(key for key in state if key.rsplit(".", 1)[-1] == _COUNTER)
    unused = sorted(f"{key} {_shape(state[key].shape)}" for key in set(state) - used - set(ignored))
    copies = [f"copies of one module differ: {short_listing(differing)}"] if differing else []
    problems = mapping_problems("state_dict", "tensor", mismatched=mismatched, missing=missing, unused=unused,
                                extra=copies, outside=[w.path for w in others])  # fmt: skip
    if problems:
        try:
            hint = " (the state_dict looks like dgcnn_cls with " + ", ".join(
                f"{k}={v}" for k, v in dgcnn_cls_config(state, source).items()) + ")"
        except ValueError:
            hint = ""
        raise ValueError(f"{source}: does not match model {model_name!r}{hint}: " + " | ".join(problems))

    for _, variable, value in assignments:
        variable.assign(value)
    return TorchCheckpointMapping(checkpoint=source, assigned=[(key, v.path) for key, v, _ in assignments],
                                  ignored=ignored)


def _numbered(state, pattern):
    """`[(i, key)]` of the keys matching `pattern` (one `(\\d+)` group), by number, required consecutive from 1."""
    found = sorted((int(m[1]), key) for key in state if (m := re.fullmatch(pattern, key)))
    numbers = [i for i, _ in found]
    return found if numbers == list(range(1, len(found) + 1)) else None


def dgcnn_cls_config(state, source="state_dict"):
    """The `dgcnn_cls` builder arguments a state_dict of the PyTorch DGCNN classifier was trained with.

    Read from the weight shapes: `input_dims` (`conv1.0.weight` has
    `2 * input_dims` inputs), `edge_widths` (the 4-D `conv{i}.0.weight`),
    `emb_dims` (the last, 3-D, convolution), `head_widths` and `num_classes`
    (`linear{i}.weight`). `k`, `num_points` and `dropout` are not in the
    weights.

    Args:
        state: `{name: array}` without the `module.` prefix.
        source: Name used in messages.

    Returns:
        A dict with `num_classes`, `input_dims`, `edge_widths`, `emb_dims`, `head_widths`.

    Raises:
        ValueError: If the state_dict is not one of that network.
    """
    convs = _numbered(state, r"conv(\d+)\.0\.weight")
    linears = _numbered(state, r"linear(\d+)\.weight")
    if not convs or len(convs) < 2 or not linears:
        keys = ", ".join(sorted(state)[:4])
        raise ValueError(f"{source}: not a state_dict of the PyTorch DGCNN classifier (needs conv1.0.weight ... "
                         f"and linear1.weight ...; has {keys}{', ...' if len(state) > 4 else ''})")
    shapes = [state[key].shape for _, key in convs]
    if any(len(s) < 2 for s in shapes) or any(len(state[key].shape) != 2 for _, key in linears):
        raise ValueError(f"{source}: conv/linear weights must be (out, in, ...) matrices, got "
                         f"{', '.join(f'{key} {_shape(state[key].shape)}' for _, key in convs + linears)}")
    if shapes[0][1] % 2:
        raise ValueError(f"{source}: conv1.0.weight {_shape(shapes[0])} must read edge features of 2 x input_dims "
                         "channels")
    return {
        "num_classes": int(state[linears[-1][1]].shape[0]),
        "input_dims": int(shapes[0][1]) // 2,
        "edge_widths": tuple(int(s[0]) for s in shapes[:-1]),
        "emb_dims": int(shapes[-1][0]),
        "head_widths": tuple(int(state[key].shape[0]) for _, key in linears[:-1]),
    }
