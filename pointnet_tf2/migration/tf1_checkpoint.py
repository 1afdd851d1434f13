"""Loads checkpoints of the original TF1 networks (PointNet, PointNet++, DGCNN) into the zoo's Keras models.

The originals save, per layer scope `S` (e.g. `conv1`, `transform_net1/tconv1`,
`cla/fc1`, PointNet++ `layer1/conv0`, `fa_layer1/conv_0`, `fc1`, DGCNN `dgcnn1`,
`seg/conv1`): `S/weights` ([1, k, C_in, C_out] for per-point 2-D convolutions,
[1, 1, C_in, C_out] for PointNet++'s 1x1 convolutions, [1, C_in, C_out] for
1-D ones, [C_in, C_out] for fully connected layers), `S/biases`, and for batch
norm `S/bn/beta`, `S/bn/gamma` and the moving statistics: as
ExponentialMovingAverage shadows `S/bn/S/bn/moments/Squeeze/ExponentialMovingAverage`
(mean) and `.../Squeeze_1/...` (variance) (PointNet, the DGCNN classifier), as
`S/bn/moving_mean` and `S/bn/moving_variance` (PointNet++,
`tf.contrib.layers.batch_norm`), or as `S/bn/pop_mean` and `S/bn/pop_var`
(tf_util's `is_dist=True` batch norm: the DGCNN part and semantic segmentation
networks). The zoo's models name their
layers after the same scopes with "/" replaced by "_": Dense `S'` and
BatchNormalization `S'_bn`.

Mapping: weights -> Dense kernel (reshaped to (k * C_in, C_out)), biases ->
Dense bias (plus the flattened identity for a T-Net's last layer, which the
original adds as a constant outside the variable), beta/gamma -> BN
beta/gamma, EMA, moving or pop mean/variance -> BN moving mean/variance. Optimizer slots
(`.../Adam`, `.../Adam_1`, `.../Momentum`), `beta1_power`, `beta2_power` and
step counters are ignored. Anything else on either side is an error.

Only the checkpoint files are read (`tf.train.load_checkpoint`); no TF1 code.
"""

import dataclasses
import glob
import os
import re

import numpy as np

EMA_SUFFIX = "/ExponentialMovingAverage"
_EMA = re.compile(r"^(?P<scope>.+)/bn/(?P=scope)/bn/moments/(?P<stat>Squeeze|Squeeze_1)/ExponentialMovingAverage$")
# PointNet++ (tf.contrib.layers.batch_norm): plain moving-statistics variables.
_MOVING = re.compile(r"^(?P<scope>.+)/bn/(?P<stat>moving_mean|moving_variance)$")
_LAYER_VARIABLE = re.compile(r"^(?P<scope>.+?)/(?P<part>weights|biases|bn/beta|bn/gamma|bn/pop_mean|bn/pop_var)$")
# tf_util's is_dist batch norm stores the moving statistics as plain variables.
_POP_PARTS = {"bn/pop_mean": "bn/mean", "bn/pop_var": "bn/variance"}
# Optimizer state and counters a training checkpoint holds besides the model.
_OPTIMIZER_SLOT = re.compile(r"/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|Adagrad|Ftrl|Ftrl_1)$")
_COUNTERS = re.compile(r"^(beta1_power|beta2_power|global_step|batch|Variable(_\d+)?|_CHECKPOINTABLE_OBJECT_GRAPH)$")
_MAX_LISTED = 4


@dataclasses.dataclass
class Tf1CheckpointMapping:
    """What `load_tf1_checkpoint` did.

    Attributes:
        checkpoint: The checkpoint prefix that was read.
        assigned: `(checkpoint variable, model weight path)` pairs, one per
            model weight.
        ignored: Checkpoint variables skipped as optimizer state or counters.
    """

    checkpoint: str
    assigned: list
    ignored: list


def resolve_checkpoint(path):
    """Turns what a user passes into a TF1 checkpoint prefix.

    Accepts the prefix (`log/model.ckpt`), one of its files
    (`model.ckpt.index`, `model.ckpt.meta`, `model.ckpt.data-00000-of-00001`)
    or a folder with a `checkpoint` state file.

    Args:
        path: The user's path.

    Returns:
        The checkpoint prefix; its `.index` file exists.

    Raises:
        FileNotFoundError: If there is no checkpoint index at that path.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        import tensorflow as tf

        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise FileNotFoundError(f"{path}: folder has no TF1 checkpoint (no 'checkpoint' state file "
                                    "naming one); pass the checkpoint prefix, e.g. log/model.ckpt")
        path = prefix
    path = re.sub(r"\.(index|meta|data-\d{5}-of-\d{5})$", "", path)
    if not os.path.isfile(path + ".index"):
        near = sorted(glob.glob(glob.escape(path) + ".*"))
        found = f" (found {', '.join(os.path.basename(p) for p in near[:3])})" if near else ""
        raise FileNotFoundError(f"{path}.index: checkpoint index file is missing{found}; pass the checkpoint "
                                "prefix whose .index and .data-* files exist, e.g. log/model.ckpt")
    return path


def read_tf1_checkpoint(path):
    """Reads every variable of a checkpoint into NumPy arrays.

    Args:
        path: Checkpoint prefix, one of its files, or a folder (see
            `resolve_checkpoint`).

    Returns:
        `(prefix, {variable name: np.ndarray})`.

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: If the checkpoint cannot be read (e.g. truncated files).
    """
    import tensorflow as tf

    prefix = resolve_checkpoint(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = sorted(reader.get_variable_to_shape_map())
        values = {name: np.asarray(reader.get_tensor(name)) for name in names}
    except Exception as error:  # noqa: BLE001 - the reader raises IndexError, DataLossError, ... on bad files
        message = getattr(error, "message", None) or str(error)
        first = next((line.strip() for line in message.splitlines() if line.strip()), type(error).__name__)
        raise ValueError(f"{prefix}: cannot read the checkpoint ({first}); is it complete?") from None
    return prefix, values


def _is_ignorable(name, value):
    if _OPTIMIZER_SLOT.search(name) or name in ("beta1_power", "beta2_power"):
        return True
    # Step counters: scalar integers (the original's unnamed `tf.Variable(0)` is "Variable").
    return bool(_COUNTERS.match(name)) and (value.ndim == 0 or name == "_CHECKPOINTABLE_OBJECT_GRAPH")


def flat_layers(model):
    """Every layer of the model, nested models flattened."""
    layers = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            layers.extend(flat_layers(layer))
        else:
            layers.append(layer)
    return layers


def _layer_targets(model):
    """`{keras layer name: [(tf1 part, weight variable, is identity bias)]}` for Dense and BN layers."""
    import keras

    targets = {}
    for layer in flat_layers(model):
        if isinstance(layer, keras.layers.Dense):
            parts = [("weights", layer.kernel, False)]
            if layer.use_bias:
                identity = type(layer.bias_initializer).__name__ == "FlattenedIdentity"
                parts.append(("biases", layer.bias, identity))
            targets[layer.name] = parts
        elif isinstance(layer, keras.layers.BatchNormalization):
            parts = []
            if layer.scale:
                parts.append(("bn/gamma", layer.gamma, False))
            if layer.center:
                parts.append(("bn/beta", layer.beta, False))
            parts += [("bn/mean", layer.moving_mean, False), ("bn/variance", layer.moving_variance, False)]
            targets[layer.name] = parts
    return targets


def _shape(shape):
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def mapping_problems(source, item, *, mismatched=(), missing=(), unused=(), extra=(), outside=()):
    """The problems of a checkpoint-to-model mapping, each as a short phrase (none: an empty list).

    Args:
        source: What the values come from ("checkpoint", "state_dict").
        item: What one value of it is called ("variable", "tensor").
        mismatched: "source name shape vs model weight shape" lines.
        missing: Model weights with no value.
        unused: Values no model weight takes.
        extra: Further problems, already phrased.
        outside: Model weights outside the layers a converter maps.
    """
    problems = []
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {short_listing(mismatched)}")
    if missing:
        problems.append(f"{len(missing)} model weight(s) not in the {source}: {short_listing(missing)}")
    if unused:
        problems.append(f"{len(unused)} {source} {item}(s) not used by the model: {short_listing(unused)}")
    problems += list(extra)
    if outside:
        problems.append(f"{len(outside)} model weight(s) outside Dense/BatchNormalization layers: "
                        f"{short_listing(outside)}")
    return problems


def short_listing(items):
    """The first items joined with "; ", and how many more there are (for one-line errors)."""
    shown = "; ".join(items[:_MAX_LISTED])
    more = f"; and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return shown + more


def _fit(name, value, variable):
    """Reshapes a checkpoint value to a Keras weight's shape, or returns None."""
    target = tuple(int(d) for d in variable.shape)
    if value.shape == target:
        return value
    # [1, k, C_in, C_out] (2-D) or [1, C_in, C_out] (1-D) per-point convolution -> Dense kernel (k * C_in, C_out).
    if (name.endswith("/weights") and value.ndim in (3, 4) and value.shape[0] == 1 and len(target) == 2
            and value.shape[-1] == target[-1] and int(np.prod(value.shape[:-1])) == target[0]):
        return value.reshape(target)
    return None


def guess_tf1_network(shapes):
    """Says which original network a checkpoint holds, from its variable shapes.

    Args:
        shapes: `{variable name: shape}` of the checkpoint.

    Returns:
        A description such as "pointnet_cls with num_classes=40" or
        "dgcnn_part_seg with num_parts=50, num_categories=16", or None.
    """
    def width(name):
        shape = shapes.get(name)
        return int(shape[-1]) if shape is not None and len(shape) else None

    if "layer1/conv0/weights" in shapes or "layer1/conv0_0/weights" in shapes:
        return _guess_pointnet2(shapes, width)
    if "adj_conv7/weights" in shapes:
        if "one_hot_label_expand/weights" in shapes:
            categories = shapes["one_hot_label_expand/weights"][-2]
            return f"dgcnn_part_seg with num_parts={width('seg/conv4/weights')}, num_categories={int(categories)}"
        return f"dgcnn_sem_seg with num_classes={width('seg/conv3/weights')}"
    if "dgcnn1/weights" in shapes and "fc3/weights" in shapes:
        return f"dgcnn_cls_tf with num_classes={width('fc3/weights')}"
    if "cla/fc3/weights" in shapes and "seg/conv4/weights" in shapes:
        return (f"pointnet_part_seg with num_parts={width('seg/conv4/weights')}, "
                f"num_categories={width('cla/fc3/weights')}")
    if "conv8/weights" in shapes and "fc2/weights" in shapes:
        return f"pointnet_sem_seg with num_classes={width('conv8/weights')}"
    if "fc3/weights" in shapes:
        name = "pointnet_cls" if any(n.startswith("transform_net1/") for n in shapes) else "pointnet_cls_basic"
        return f"{name} with num_classes={width('fc3/weights')}"
    return None


def _last_conv(shapes, prefix):
    """The `weights` of the highest-numbered layer `{prefix}{i}`, or None."""
    found = [n for n in shapes if re.fullmatch(re.escape(prefix) + r"\d+/weights", n)]
    return max(found, key=lambda n: int(n[len(prefix):-len("/weights")])) if found else None


def _guess_pointnet2(shapes, width):
    """`guess_tf1_network` for PointNet++ checkpoints (scopes `layer1/conv0`, MSG `layer1/conv0_0`)."""
    if "fp_layer3/conv_0/weights" in shapes:
        # fp_layer3 reads [interpolated fa_layer2 output, one-hot category, XYZ, normals].
        last = _last_conv(shapes, "fa_layer2/conv_")
        categories = int(shapes["fp_layer3/conv_0/weights"][-2]) - (width(last) or 0) - 6 if last else None
        return f"pointnet2_part_seg_msg with num_parts={width(_last_conv(shapes, 'fc'))}, num_categories={categories}"
    if "fa_layer4/conv_0/weights" in shapes:
        return f"pointnet2_sem_seg with num_classes={width(_last_conv(shapes, 'fc'))}"
    if "fa_layer3/conv_0/weights" in shapes:
        return f"pointnet2_part_seg with num_parts={width(_last_conv(shapes, 'fc'))}"
    if "fa_layer1/conv_0/weights" in shapes:
        return None
    name = "pointnet2_cls_msg" if "layer1/conv0_0/weights" in shapes else "pointnet2_cls_ssg"
    head = _last_conv(shapes, "fc")
    return f"{name} with num_classes={width(head)}" if head else name


def load_tf1_checkpoint(model, checkpoint_path):
    """Loads an original (TF1) PointNet, PointNet++ or DGCNN checkpoint into a zoo model.

    Every weight of the model must receive a value and every checkpoint
    variable must be used or be optimizer state / a step counter; otherwise
    nothing is assigned and a ValueError lists what did not match, with
    shapes. The T-Nets' last biases get the flattened identity added, since
    the original adds it outside the variable.

    Example:

    ```python
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=40)
    pointnet_tf2.migration.load_tf1_checkpoint(model, "log/model.ckpt")
    ```

    Args:
        model: A Keras model whose layers follow the original's scopes
            (`conv1`, `conv1_bn`, `transform_net1_tconv1`, `layer1_conv0`, ...),
            e.g. any PointNet or PointNet++ of the zoo, `dgcnn_cls_tf`,
            `dgcnn_part_seg` or `dgcnn_sem_seg`, built with the original's widths.
        checkpoint_path: Checkpoint prefix (`log/model.ckpt`), one of its
            files, or a folder with a `checkpoint` state file.

    Returns:
        A `Tf1CheckpointMapping` saying which variable went where.

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: If it cannot be read or does not match the model.
    """
    prefix, values = read_tf1_checkpoint(checkpoint_path)
    targets = _layer_targets(model)
    model_name = getattr(model, "name", "model")

    # Checkpoint side: {(keras layer, part): checkpoint name}.
    wanted = {}
    ignored, unknown, used = [], [], set()
    for name, value in values.items():
        if _is_ignorable(name, value):
            ignored.append(name)
            continue
        ema = _EMA.match(name)
        moving = _MOVING.match(name)
        layer_var = _LAYER_VARIABLE.match(name)
        if ema:
            scope = ema["scope"].replace("/", "_")
            key = (scope + "_bn", "bn/mean" if ema["stat"] == "Squeeze" else "bn/variance")
        elif moving:
            scope = moving["scope"].replace("/", "_")
            key = (scope + "_bn", "bn/mean" if moving["stat"] == "moving_mean" else "bn/variance")
        elif layer_var:
            scope, part = layer_var["scope"].replace("/", "_"), layer_var["part"]
            part = _POP_PARTS.get(part, part)
            key = (scope + "_bn" if part.startswith("bn/") else scope, part)
        else:
            unknown.append(name)
            continue
        if key in wanted:
            raise ValueError(f"{prefix}: checkpoint variables {wanted[key]!r} and {name!r} both map to "
                             f"Keras weight {key[0]}/{key[1]}")
        wanted[key] = name

    assignments, missing, mismatched = [], [], []
    for layer_name, parts in targets.items():
        for part, variable, identity in parts:
            name = wanted.get((layer_name, part))
            if name is None:
                missing.append(f"{variable.path} {_shape(variable.shape)}")
                continue
            used.add(name)
            value = _fit(name, values[name], variable)
            if value is None:
                mismatched.append(f"{name} {_shape(values[name].shape)} vs model {variable.path} "
                                  f"{_shape(variable.shape)}")
                continue
            value = value.astype(np.float32, copy=True)
            if identity:
                k = round(value.size ** 0.5)
                value = value + np.eye(k, dtype=np.float32).reshape(value.shape)
            assignments.append((name, variable, value))

    covered = {id(v) for parts in targets.values() for _, v, _ in parts}
    other = [f"{w.path} {_shape(w.shape)}" for w in model.weights if id(w) not in covered]
    unused = sorted(f"{name} {_shape(values[name].shape)}" for name in set(wanted.values()) - used)
    unused += [f"{name} {_shape(values[name].shape)}" for name in unknown]

    problems = mapping_problems("checkpoint", "variable", mismatched=mismatched, missing=missing, unused=unused,
                                outside=other)  # fmt: skip
    if problems:
        guess = guess_tf1_network({name: value.shape for name, value in values.items()})
        hint = f" (the checkpoint looks like {guess})" if guess else ""
        raise ValueError(f"{prefix}: does not match model {model_name!r}{hint}: " + " | ".join(problems))

    for _, variable, value in assignments:
        variable.assign(value)
    return Tf1CheckpointMapping(
        checkpoint=prefix,
        assigned=[(name, variable.path) for name, variable, _ in assignments],
        ignored=sorted(ignored),
    )
