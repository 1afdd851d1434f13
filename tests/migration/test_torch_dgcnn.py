"""The official PyTorch DGCNN classifier's state_dict -> `dgcnn_cls`, without torch.

The reference is a NumPy forward pass written from WangYueFt/dgcnn
`pytorch/model.py` (class `DGCNN`, in eval mode) on a random state_dict in
PyTorch layout; checkpoint files are written here in torch's zip and legacy
formats by a minimal pickler that emits the records `torch.save` emits.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2 import get_model
from pointnet_tf2.checkpoints import open_checkpoint
from pointnet_tf2.migration import dgcnn_cls_config
from pointnet_tf2.migration import load_torch_checkpoint
from pointnet_tf2.migration import read_torch_state_dict
from pointnet_tf2.migration import torch_checkpoint

PARITY_TOLERANCE = 1e-4  # max |keras - reference| relative to max |reference logits|, as the TF1 tests
# A tiny network of the original's shape: four EdgeConv blocks, an embedding, two hidden linears.
CONFIG = dict(num_classes=5, input_dims=3, edge_widths=(8, 8, 8, 16), emb_dims=16, head_widths=(16, 8))
K = 4
BATCH, POINTS = 2, 32
TORCH_EPS = 1e-5
SLOPE = 0.2


# -- a random state_dict in PyTorch layout --------------------------------------------------------


def torch_state_dict(rng, *, num_classes, input_dims, edge_widths, emb_dims, head_widths):
    """What `DGCNN(args).state_dict()` holds: shapes (out, in, 1, 1) / (out, in, 1) / (out, in).

    `bn1` ... `bn5` appear twice (also as `conv{i}.1`, the same module inside
    the `nn.Sequential`): the two keys hold the same array object, as torch's
    two entries share one storage.
    """
    state = collections.OrderedDict()

    def batch_norm(names, n):
        values = {
            "weight": rng.uniform(0.5, 1.5, n).astype(np.float32),
            "bias": rng.normal(0.0, 0.2, n).astype(np.float32),
            "running_mean": rng.normal(0.0, 0.3, n).astype(np.float32),
            "running_var": rng.uniform(0.5, 2.0, n).astype(np.float32),
            "num_batches_tracked": np.array(1234, dtype=np.int64),
        }
        for name in names:
            for part, value in values.items():
                state[f"{name}.{part}"] = value

    def weight(*shape):
        return rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape).astype(np.float32)

    channels = 2 * input_dims
    for i, width in enumerate(edge_widths, 1):
        state[f"conv{i}.0.weight"] = weight(width, channels, 1, 1)
        batch_norm([f"bn{i}", f"conv{i}.1"], width)
        channels = 2 * width
    n = len(edge_widths) + 1
    state[f"conv{n}.0.weight"] = weight(emb_dims, sum(edge_widths), 1)
    batch_norm([f"bn{n}", f"conv{n}.1"], emb_dims)
    inputs = 2 * emb_dims
    for j, width in enumerate(head_widths, 1):
        state[f"linear{j}.weight"] = weight(width, inputs)
        if j > 1:
            state[f"linear{j}.bias"] = rng.normal(0.0, 0.1, width).astype(np.float32)
        batch_norm([f"bn{n + j}"], width)
        inputs = width
    last = len(head_widths) + 1
    state[f"linear{last}.weight"] = weight(num_classes, inputs)
    state[f"linear{last}.bias"] = rng.normal(0.0, 0.1, num_classes).astype(np.float32)
    return state


# -- the NumPy reference of pytorch/model.py (eval mode) -----------------------------------------


def reference_logits(state, points, k, centre_first=False, dtype=np.float64):
    """DGCNN's forward pass from a state_dict: `(B, N, C)` points -> `(B, classes)`.

    Tensors are in PyTorch's layout: `(B, C, N)` and `(B, C, N, k)`.
    `centre_first=True` swaps the edge-feature halves (a wrong network, to
    show the comparison can fail). `dtype`: float64, or float32 as PyTorch
    computes (then the k-th and k+1-th neighbours of a near tie are chosen
    as a float32 network chooses them).
    """
    s = {name: np.asarray(value, dtype=dtype) for name, value in state.items()}

    def knn(x):  # x (B, C, N) -> (B, N, k): the k largest -||xi - xj||^2, the point itself first
        inner = -2.0 * np.matmul(x.transpose(0, 2, 1), x)
        xx = np.sum(x ** 2, axis=1, keepdims=True)
        pairwise = -xx - inner - xx.transpose(0, 2, 1)
        return np.argsort(-pairwise, axis=-1, kind="stable")[..., :k]

    def graph_feature(x):  # (B, C, N) -> (B, 2C, N, k): cat(x_j - x_i, x_i)
        idx = knn(x)
        points_last = x.transpose(0, 2, 1)  # (B, N, C)
        neighbours = points_last[np.arange(x.shape[0])[:, None, None], idx]  # (B, N, k, C)
        centre = np.repeat(points_last[:, :, None, :], k, axis=2)
        halves = (centre, neighbours - centre) if centre_first else (neighbours - centre, centre)
        return np.concatenate(halves, axis=3).transpose(0, 3, 1, 2)

    def batch_norm(x, name):  # channels on axis 1 (BatchNorm1d / 2d in eval mode)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean, var = s[f"{name}.running_mean"].reshape(shape), s[f"{name}.running_var"].reshape(shape)
        gamma, beta = s[f"{name}.weight"].reshape(shape), s[f"{name}.bias"].reshape(shape)
        return (x - mean) / np.sqrt(var + TORCH_EPS) * gamma + beta

    def leaky(x):
        return np.where(x > 0, x, SLOPE * x)

    x = points.transpose(0, 2, 1).astype(dtype)
    blocks, i = [], 1
    while f"conv{i + 1}.0.weight" in s:  # every conv but the last is an EdgeConv (Conv2d)
        w = s[f"conv{i}.0.weight"][:, :, 0, 0]
        y = np.einsum("oc,bcnk->bonk", w, graph_feature(x))
        y = leaky(batch_norm(y, f"bn{i}"))
        x = y.max(axis=-1)
        blocks.append(x)
        i += 1
    x = np.concatenate(blocks, axis=1)
    x = leaky(batch_norm(np.einsum("oc,bcn->bon", s[f"conv{i}.0.weight"][:, :, 0], x), f"bn{i}"))
    x = np.concatenate([x.max(axis=2), x.mean(axis=2)], axis=1)
    j = 1
    while f"linear{j + 1}.weight" in s:  # linear + bn + LeakyReLU (+ dropout: identity in eval)
        x = x @ s[f"linear{j}.weight"].T + s.get(f"linear{j}.bias", 0.0)
        x = leaky(batch_norm(x, f"bn{i + j}"))
        j += 1
    return x @ s[f"linear{j}.weight"].T + s[f"linear{j}.bias"]


def relative_difference(ours, reference):
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


# -- torch's file formats, written without torch ----------------------------------------------------


class _Global:
    """A global the pickler writes by name (`GLOBAL module\\nname`) without importing it."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle wants a callable reduce function; it is never called here
        raise AssertionError(f"{self.module}.{self.name} called")


REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
STORAGE_CLASSES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage",
                   np.dtype(np.float64): "DoubleStorage"}


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, np.ascontiguousarray(array).ravel()
        self.type = _Global("torch", STORAGE_CLASSES[self.array.dtype])


class _Tensor:
    """Pickled as torch pickles a tensor: `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return REBUILD_TENSOR, (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                                collections.OrderedDict())


class _TorchPickler(pickle._Pickler):
    """Protocol 2 (torch's default) with torch's persistent storage ids, zip (5 fields) or legacy (6)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def _save_named_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[_Global] = _save_named_global

    def persistent_id(self, obj):
        if not isinstance(obj, _Storage):
            return None
        pid = ("storage", obj.type, obj.key, "cuda:0", int(obj.array.size))
        return pid + (None,) if self.legacy else pid


def tensors_of(state, prefix="module."):
    """`{prefix + name: _Tensor}` sharing one storage per array object (as torch's shared parameters)."""
    storages, out = {}, collections.OrderedDict()
    for name, value in state.items():
        if isinstance(value, _Tensor):
            out[prefix + name] = value
            continue
        storage = storages.get(id(value))
        if storage is None:
            storage = storages[id(value)] = _Storage(str(len(storages)), value)
        out[prefix + name] = _Tensor(storage, 0, value.shape, tuple(d // value.itemsize for d in value.strides))
    out._metadata = collections.OrderedDict([("", {"version": 1})])  # as Module.state_dict() sets
    return out


def _storages(obj, found=None):
    found = {} if found is None else found
    if isinstance(obj, _Tensor):
        found[obj.storage.key] = obj.storage
    elif isinstance(obj, dict):
        for value in obj.values():
            _storages(value, found)
    return found


def write_torch_zip(path, obj, archive="archive", byteorder="little"):
    """`torch.save(obj, path)` as torch >= 1.6 writes it: `<archive>/data.pkl` + `data/<key>` records."""
    buffer = io.BytesIO()
    _TorchPickler(buffer, legacy=False).dump(obj)
    order = "<" if byteorder == "little" else ">"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as out:
        out.writestr(f"{archive}/data.pkl", buffer.getvalue())
        out.writestr(f"{archive}/byteorder", byteorder)
        for key, storage in sorted(_storages(obj).items()):
            out.writestr(f"{archive}/data/{key}", storage.array.astype(storage.array.dtype.newbyteorder(order)).tobytes())
        out.writestr(f"{archive}/version", "3\n")


def write_torch_legacy(path, obj):
    """`torch.save(obj, path, _use_new_zipfile_serialization=False)` (torch < 1.6, e.g. model.1024.t7)."""
    with open(path, "wb") as out:
        for header in (0x1950A86A20F9469CFC6C, 1001,
                       {"protocol_version": 1001, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 8}}):
            pickle.dump(header, out, protocol=2)
        _TorchPickler(out, legacy=True).dump(obj)
        storages = _storages(obj)
        pickle.dump(sorted(storages), out, protocol=2)
        for key in sorted(storages):
            array = storages[key].array
            out.write(struct.pack("<q", array.size) + array.astype(array.dtype.newbyteorder("<")).tobytes())


def evil_pickle(marker):
    """A pickle calling `os.system("touch MARKER")` when loaded by an unrestricted unpickler."""
    command = f"touch {marker}".encode()
    return b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(command)) + command + b"\x85R."


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def case():
    """A random state_dict, points, and the reference logits."""
    rng = np.random.default_rng(7)
    state = torch_state_dict(rng, **CONFIG)
    points = rng.normal(size=(BATCH, POINTS, 3)).astype(np.float32)
    return state, points, reference_logits(state, points, K)


def build(config=CONFIG, **overrides):
    return get_model("dgcnn_cls", k=K, num_points=None, **{**config, **overrides})


# -- parity ----------------------------------------------------------------------------------------


def test_parity_converted_state_dict_gives_the_reference_logits(case):
    state, points, reference = case
    model = build()
    mapping = load_torch_checkpoint(model, state)
    assert len(mapping.assigned) == len(model.weights)
    assert len(mapping.ignored) == 7 + 5 and all(k.endswith(".num_batches_tracked") for k in mapping.ignored)
    logits = np.asarray(model(points, training=False))
    difference = relative_difference(logits, reference)
    print(f"parity dgcnn_cls (PyTorch): max |keras - numpy| = {np.max(np.abs(logits - reference)):.3g}, "
          f"logit scale {np.max(np.abs(reference)):.3g}, relative {difference:.3g}")
    assert logits.shape == (BATCH, CONFIG["num_classes"])
    assert difference < PARITY_TOLERANCE
    # The comparison can fail: an unconverted model, or the other edge-feature order, is far off.
    assert relative_difference(np.asarray(build()(points, training=False)), reference) > 0.1
    assert relative_difference(reference_logits(state, points, K, centre_first=True), reference) > 0.1


@pytest.mark.slow
def test_parity_at_the_original_size():
    """The released model's sizes (40 classes, k=20, 1024 points): 1,809,576 weights, same logits.

    At 1024 points some kNN distances tie within float32 rounding in the
    deeper blocks, so a float64 reference may pick another k-th neighbour
    than any float32 network (1.9e-4 relative with this seed, the same
    between the float32 and float64 references); the comparison is with the
    reference computed in float32, as PyTorch computes.
    """
    rng = np.random.default_rng(3)
    config = dict(num_classes=40, input_dims=3, edge_widths=(64, 64, 128, 256), emb_dims=1024,
                  head_widths=(512, 256))
    state = torch_state_dict(rng, **config)
    points = rng.normal(size=(1, 1024, 3)).astype(np.float32)
    model = get_model("dgcnn_cls", k=20, **dgcnn_cls_config(state))
    load_torch_checkpoint(model, state)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 1_809_576
    reference = reference_logits(state, points, 20, dtype=np.float32)
    logits = np.asarray(model(points, training=False))
    difference = relative_difference(logits, reference)
    print(f"parity dgcnn_cls (PyTorch, original size): max |keras - numpy| = "
          f"{np.max(np.abs(logits - reference)):.3g}, logit scale {np.max(np.abs(reference)):.3g}, "
          f"relative {difference:.3g}")
    assert difference < PARITY_TOLERANCE


def test_model_uses_pytorch_batch_norm_epsilon():
    epsilons = {layer.epsilon for layer in build().layers if layer.name.startswith("bn")}
    assert epsilons == {TORCH_EPS}


def test_config_is_read_from_the_weight_shapes(case):
    state = case[0]
    assert dgcnn_cls_config(state) == CONFIG
    assert dgcnn_cls_config(torch_state_dict(np.random.default_rng(0), num_classes=40, input_dims=3,
                                             edge_widths=(64, 64, 128, 256), emb_dims=1024,
                                             head_widths=(512, 256))) == dict(
        num_classes=40, input_dims=3, edge_widths=(64, 64, 128, 256), emb_dims=1024, head_widths=(512, 256))
    with pytest.raises(ValueError, match=r"not a state_dict of the PyTorch DGCNN classifier"):
        dgcnn_cls_config({"fc.weight": np.zeros((2, 3))})


# -- reading torch's formats -------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["zip", "zip_big_endian", "zip_other_archive_name", "legacy"])
def test_reader_reads_torch_files_exactly(case, tmp_path, writer):
    state = case[0]
    path = str(tmp_path / "model.t7")
    obj = tensors_of(state)
    if writer == "legacy":
        write_torch_legacy(path, obj)
    else:
        write_torch_zip(path, obj, archive="model" if writer == "zip_other_archive_name" else "archive",
                        byteorder="big" if writer == "zip_big_endian" else "little")
    assert zipfile.is_zipfile(path) == (writer != "legacy")
    values = read_torch_state_dict(path)
    assert list(values) == list(state)  # module. stripped, order kept
    for name, value in state.items():
        assert values[name].dtype == value.dtype and values[name].shape == value.shape, name
        np.testing.assert_array_equal(values[name], value, err_msg=name)


def test_reader_follows_offsets_and_strides_and_unwraps_checkpoint_dicts(tmp_path):
    base = np.arange(20, dtype=np.float32)
    storage = _Storage("0", base)
    # A transposed (3, 4) view starting at element 2, and a scalar at element 19.
    obj = {"epoch": 7, "best_acc": 0.9,
           "state_dict": collections.OrderedDict([("t", _Tensor(storage, 2, (3, 4), (1, 3))),
                                                  ("s", _Tensor(storage, 19, (), ()))])}
    path = str(tmp_path / "ckpt.pth")
    write_torch_zip(path, obj)
    values = read_torch_state_dict(path)
    np.testing.assert_array_equal(values["t"], base[2:14].reshape(4, 3).T)
    assert values["s"].shape == () and values["s"] == 19.0
    # A view reaching past its storage is refused, not read.
    write_torch_zip(path, {"t": _Tensor(storage, 10, (3, 4), (4, 1))})
    with pytest.raises(ValueError, match=r"ckpt\.pth: cannot read it as a PyTorch checkpoint .*reads past the end"):
        read_torch_state_dict(path)


def test_reader_takes_npz(case, tmp_path):
    state = case[0]
    path = str(tmp_path / "state.npz")
    np.savez(path, **{"module." + k: v for k, v in state.items()})
    values = read_torch_state_dict(path)
    assert sorted(values) == sorted(state)
    np.testing.assert_array_equal(values["conv1.0.weight"], state["conv1.0.weight"])


@pytest.mark.parametrize("form", ["zip", "legacy"])
def test_forbidden_global_is_refused_without_running_it(tmp_path, form):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "evil.t7")
    if form == "zip":
        with zipfile.ZipFile(path, "w") as out:
            out.writestr("archive/data.pkl", evil_pickle(marker))
    else:
        with open(path, "wb") as out:
            pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
            pickle.dump(1001, out, protocol=2)
            pickle.dump({"little_endian": True}, out, protocol=2)
            out.write(evil_pickle(marker))
    with pytest.raises(ValueError) as error:
        read_torch_state_dict(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: refused") and "os.system" in message
    assert not marker.exists()


def test_files_that_are_not_state_dicts_give_one_line_errors(tmp_path):
    cases = {}
    path = tmp_path / "list.pt"
    write_torch_zip(path, [_Tensor(_Storage("0", np.zeros(3, np.float32)), 0, (3,), (1,))])
    cases[path] = r"holds a list, not a state_dict"
    path = tmp_path / "script.pt"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        out.writestr("archive/constants.pkl", pickle.dumps((), protocol=2))
    cases[path] = r"TorchScript archive"
    path = tmp_path / "text.t7"
    path.write_text("not a checkpoint\n")
    cases[path] = r"cannot read it as a PyTorch checkpoint"
    path = tmp_path / "truncated.t7"
    write_torch_legacy(path, tensors_of({"w": np.ones((4, 4), np.float32)}))
    path.write_bytes(path.read_bytes()[:-10])
    cases[path] = r"ends inside the storage data \(storage 0\)"
    path = tmp_path / "missing_record.pt"
    write_torch_zip(path, tensors_of({"w": np.ones(3, np.float32)}))
    with zipfile.ZipFile(path) as archive:
        records = {name: archive.read(name) for name in archive.namelist() if "/data/" not in name}
    with zipfile.ZipFile(path, "w") as out:
        for name, data in records.items():
            out.writestr(name, data)
    cases[path] = r"storage record archive/data/0 is missing"
    for path, pattern in cases.items():
        with pytest.raises(ValueError, match=pattern) as error:
            read_torch_state_dict(path)
        assert "\n" not in str(error.value) and str(error.value).startswith(str(path)), error.value
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        read_torch_state_dict(tmp_path / "absent.t7")


@pytest.mark.parametrize("form", ["zip", "legacy"])
def test_damaged_files_fail_in_one_line(case, tmp_path, form):
    """Empty, random, truncated and bit-flipped files: read, or one ValueError naming the file."""
    good = tmp_path / "good.t7"
    (write_torch_zip if form == "zip" else write_torch_legacy)(good, tensors_of(case[0]))
    data = good.read_bytes()
    rng = np.random.default_rng(11)
    variants = [b"", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()]
    variants += [data[:int(n)] for n in rng.integers(1, len(data), 20)]
    for _ in range(20):
        flipped = bytearray(data)
        for position in rng.integers(0, len(data), 3):
            flipped[position] = int(rng.integers(0, 256))
        variants.append(bytes(flipped))
    path = tmp_path / "damaged.t7"
    refused = 0
    for variant in variants:
        path.write_bytes(variant)
        try:
            read_torch_state_dict(path)
        except ValueError as error:
            refused += 1
            assert "\n" not in str(error) and str(error).startswith(str(path)), error
    assert refused >= 22  # the empty, random and truncated files at least


def test_pickle_cannot_change_the_allowed_globals(tmp_path):
    """A BUILD on an allowed global (e.g. setting `_rebuild_tensor_v2.__defaults__`) is refused."""
    path = tmp_path / "build.t7"
    for name in (b"torch._utils\n_rebuild_tensor_v2", b"torch\nFloatStorage", b"collections\nOrderedDict"):
        payload = b"\x80\x02c" + name + b"\nN}X\x0c\x00\x00\x00__defaults__)s\x86b."
        with zipfile.ZipFile(path, "w") as out:
            out.writestr("archive/data.pkl", payload)
        with pytest.raises(ValueError, match="cannot read it as a PyTorch checkpoint"):
            read_torch_state_dict(path)
    assert torch_checkpoint._rebuild_tensor_v2.__defaults__ == (False, None, None)


# -- mapping errors --------------------------------------------------------------------------------


def _load_error(state, **overrides):
    model = build(**overrides)
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError) as error:
        load_torch_checkpoint(model, state)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights)), "weights were assigned"
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_unused_misshaped_and_inconsistent_tensors_are_refused(case):
    state = dict(case[0])
    missing = {k: v for k, v in state.items() if k != "linear3.bias"}
    assert "1 model weight(s) not in the state_dict: linear3.bias for linear3/bias (5)" in _load_error(missing)

    extra = {**state, "linear4.weight": np.zeros((2, 5), np.float32)}
    assert "1 state_dict tensor(s) not used by the model: linear4.weight (2, 5)" in _load_error(extra)

    wrong = {**state, "conv2.0.weight": np.zeros((8, 14, 1, 1), np.float32)}
    message = _load_error(wrong)
    assert "conv2.0.weight (8, 14, 1, 1) vs model conv2/kernel (16, 8)" in message

    # Only one copy of a shared batch norm is needed; two copies must agree.
    only_bn = {k: v for k, v in state.items() if not k.startswith("conv1.1.")}
    load_torch_checkpoint(build(), only_bn)
    differ = {**state, "conv1.1.running_var": state["conv1.1.running_var"] + 1.0}
    assert "copies of one module differ: bn1.running_var and conv1.1.running_var" in _load_error(differ)

    # A state_dict of another class count: named, with what it looks like.
    message = _load_error(state, num_classes=7)
    assert "linear3.weight (5, 8) vs model linear3/kernel (8, 7)" in message
    assert "looks like dgcnn_cls with num_classes=5" in message


# -- the command -----------------------------------------------------------------------------------


def test_convert_torch_command_end_to_end(case, tmp_path, capsys):
    state, points, reference = case
    checkpoint = str(tmp_path / "model.1024.t7")
    write_torch_zip(checkpoint, tensors_of(state))
    output = str(tmp_path / "dgcnn.keras")
    argv = ["convert-torch", "--model", "dgcnn_cls", "--checkpoint", checkpoint, "--output", output,
            "--k", str(K), "--num_points", "any"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert f"wrote {output}" in err and "num_classes=5" in err
    model = open_checkpoint(output).model
    logits = np.asarray(model(points, training=False))
    assert relative_difference(logits, reference) < PARITY_TOLERANCE

    # An existing output needs --overwrite; a wrong --num_classes or a bad file fails in one line, writing nothing.
    mtime = os.path.getmtime(output)
    assert cli.main(argv) == 1
    assert "exists; choose another path or overwrite it (--overwrite)" in capsys.readouterr().err
    assert cli.main([*argv, "--overwrite", "--num_classes", "40"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--num_classes 40, but the checkpoint has 5 classes" in err
    evil = str(tmp_path / "evil.t7")
    with zipfile.ZipFile(evil, "w") as out:
        out.writestr("archive/data.pkl", evil_pickle(tmp_path / "pwned"))
    other = str(tmp_path / "other.keras")
    assert cli.main(["convert-torch", "--model", "dgcnn_cls", "--checkpoint", evil, "--output", other]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused" in err and "os.system" in err
    assert not os.path.exists(other) and not (tmp_path / "pwned").exists()
    partial = str(tmp_path / "partial.t7")
    write_torch_legacy(partial, tensors_of({k: v for k, v in state.items() if k != "linear3.bias"}))
    assert cli.main(["convert-torch", "--model", "dgcnn_cls", "--checkpoint", partial, "--output", other,
                     "--k", str(K)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{partial}: does not match model 'dgcnn_cls'" in err and "linear3.bias" in err
    assert not os.path.exists(other)
    assert os.path.getmtime(output) == mtime
    assert cli.main([*argv, "--overwrite"]) == 0
