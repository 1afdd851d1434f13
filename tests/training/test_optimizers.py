"""pointnet_tf2.training.optimizers: coupled weight decay against PyTorch's update rule, written out in NumPy."""

import keras
import numpy as np
import pytest

from pointnet_tf2.training.optimizers import AdamWithL2
from pointnet_tf2.training.optimizers import SGDWithL2
from pointnet_tf2.training.optimizers import make_optimizer
from pointnet_tf2.training.run_setup import TrainConfig


def _steps(optimizer, w0, grads):
    """Applies `grads` (one per step) to a variable starting at `w0`; its values after each step."""
    variable = keras.Variable(w0)
    values = []
    for grad in grads:
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [variable])
        values.append(np.asarray(variable.numpy()))
    return values


def test_sgd_with_l2_is_torch_sgd_with_weight_decay_and_momentum(rng):
    w0 = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=(4, 3)).astype("float32") for _ in range(3)]
    lr, momentum, wd = 0.1, 0.9, 0.05
    values = _steps(SGDWithL2(learning_rate=lr, momentum=momentum, l2=wd), w0, grads)
    # torch.optim.SGD: d = g + wd * w; buf = momentum * buf + d (buf = d at the first step); w -= lr * buf
    w, buf = w0.astype("float64"), None
    for grad, value in zip(grads, values):
        d = grad + wd * w
        buf = d if buf is None else momentum * buf + d
        w = w - lr * buf
        np.testing.assert_allclose(value, w, rtol=1e-5, atol=1e-6)


def test_adam_with_l2_is_adam_on_the_decayed_gradient(rng):
    w0 = rng.normal(size=(5,)).astype("float32")
    grads = [rng.normal(size=(5,)).astype("float32") for _ in range(3)]
    wd = 0.1
    values = _steps(AdamWithL2(learning_rate=0.01, l2=wd), w0, grads)
    plain, variable = keras.optimizers.Adam(learning_rate=0.01), keras.Variable(w0)
    for grad, value in zip(grads, values):
        plain.apply([keras.ops.convert_to_tensor(grad + wd * variable.numpy())], [variable])
        np.testing.assert_allclose(value, variable.numpy(), rtol=1e-6, atol=1e-7)


def test_no_weight_decay_gives_keras_own_optimizers_and_zero_l2_changes_nothing(rng):
    assert type(make_optimizer("adam", 0.001)) is keras.optimizers.Adam
    sgd = make_optimizer("momentum", 0.1, momentum=0.5)
    assert type(sgd) is keras.optimizers.SGD and sgd.momentum == 0.5
    coupled = make_optimizer("momentum", 0.1, momentum=0.5, weight_decay=1e-4)
    assert isinstance(coupled, SGDWithL2) and coupled.l2 == 1e-4 and coupled.momentum == 0.5
    assert isinstance(make_optimizer("adam", 0.001, weight_decay=1e-4), AdamWithL2)
    w0, grads = rng.normal(size=(3,)).astype("float32"), [rng.normal(size=(3,)).astype("float32")]
    np.testing.assert_array_equal(_steps(SGDWithL2(learning_rate=0.1, l2=0.0), w0, grads)[0],
                                  _steps(keras.optimizers.SGD(learning_rate=0.1), w0, grads)[0])  # fmt: skip


def test_config_round_trip_and_a_saved_model_keeps_the_optimizer(tmp_path):
    optimizer = SGDWithL2(learning_rate=0.1, momentum=0.9, l2=1e-4)
    again = SGDWithL2.from_config(optimizer.get_config())
    assert (again.l2, again.momentum) == (1e-4, 0.9)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is SGDWithL2 and loaded.optimizer.l2 == pytest.approx(1e-4)


@pytest.mark.parametrize("bad", [-1e-4, True, "0.1", float("nan")])
def test_bad_weight_decay_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match="l2 must be a number >= 0, got"):
        SGDWithL2(learning_rate=0.1, l2=bad)
    with pytest.raises(ValueError, match=f"--weight_decay must be a number >= 0, got {bad!r}"):
        TrainConfig(task="cls", weight_decay=bad).resolved()


def test_an_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'momentum', got 'rmsprop'"):
        make_optimizer("rmsprop", 0.1)


def test_gradients_without_their_variables_are_refused_when_decaying():
    variable = keras.Variable(np.ones(2, "float32"))
    optimizer = SGDWithL2(learning_rate=0.1, l2=0.01)
    optimizer.build([variable])
    with pytest.raises(ValueError, match="SGDWithL2 needs the variables with their gradients"):
        optimizer.apply([keras.ops.ones(2)])
