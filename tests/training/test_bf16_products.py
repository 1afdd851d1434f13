"""bf16 products (`--bf16_products`) train like float32 on real shapes: loss, gradients, accuracy.

Both runs start from the same weights and see the same batches of clouds
sampled on the real ModelNet10 grids of ../shared/data (a hold-out of its
training split). Along the float32 run, the gradient with bf16 products is
compared with the float32 gradient at the same weights, and that difference
with the float32 gradient's own change from one batch to another (the noise
SGD lives with); at the end, the two loss curves and validation accuracies
are compared.

The gradient difference is far above bf16's rounding (0.4%): a max over
points routes each channel's gradient to one point, and rounding changes
which point wins a near tie, as any perturbation of the weights does.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pointnet_tf2
from pointnet_tf2.data.voxels import grid_cloud
from pointnet_tf2.layers import set_bf16_products


def _clouds(grids, labels, count, points, seed):
    rng = np.random.default_rng(seed)
    rows = [i for i in rng.permutation(len(grids)) if grids[i].any()][:count]  # the archive has empty grids
    clouds = np.stack([grid_cloud(grids[i], points, rng=rng) for i in rows]).astype(np.float32)
    return clouds, labels[rows].astype(np.int64)


def _model(points, classes, small):
    widths = dict(mlp2=(64, 128, 256), head_widths=(128, 64), tnet_conv_widths=(64, 128, 256),
                  tnet_fc_widths=(128, 64)) if small else {}  # fmt: skip
    keras.utils.set_random_seed(0)
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=classes, num_points=points, dropout_rate=0.0,
                                     bn_momentum=0.9, **widths)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


def _gradient_function(model, bf16):
    """The loss gradient of `model`'s current weights, traced with bf16 products on or off."""
    previous = set_bf16_products(bf16)
    try:

        @tf.function
        def gradients(x, y):
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True), training=True)
            return tape.gradient(loss, model.trainable_variables)

        gradients.get_concrete_function(tf.TensorSpec((None, *model.input.shape[1:])), tf.TensorSpec((None,), tf.int64))
    finally:
        set_bf16_products(previous)
    return gradients


def _train(model, batches, bf16, on_step=None):
    previous = set_bf16_products(bf16)
    try:
        losses = []
        for step, (x, y) in enumerate(batches):
            if on_step is not None:
                on_step(step)
            losses.append(float(model.train_on_batch(x, y, return_dict=True)["loss"]))
        return np.array(losses)
    finally:
        set_bf16_products(previous)


def _accuracy(model, clouds, labels):
    return float(np.mean(np.argmax(model.predict(clouds, batch_size=64, verbose=0), -1) == labels))


@pytest.mark.parametrize("steps, points, small", [
    (120, 128, True),
    pytest.param(400, 1024, False, marks=pytest.mark.slow),  # the original network and size: ~10 min
])  # fmt: skip
def test_bf16_products_train_like_float32_on_real_shapes(shared_voxels, steps, points, small):
    grids, labels = shared_voxels
    batch = 32
    clouds, targets = _clouds(grids, labels, 768, points, seed=0)
    train_x, train_y, val_x, val_y = clouds[:512], targets[:512], clouds[512:], targets[512:]
    rng = np.random.default_rng(1)
    order = [rng.permutation(len(train_x))[:batch] for _ in range(steps)]
    batches = [(train_x[rows], train_y[rows]) for rows in order]
    probe = (tf.constant(train_x[:batch]), tf.constant(train_y[:batch]))
    other = (tf.constant(train_x[batch : 2 * batch]), tf.constant(train_y[batch : 2 * batch]))

    reference = _model(points, 10, small)
    bf16_model = _model(points, 10, small)
    bf16_model.set_weights(reference.get_weights())
    exact, rounded = _gradient_function(reference, False), _gradient_function(reference, True)
    agreement = []

    def compare_gradients(step):
        if step % (steps // 4) == 0:
            a, b, c = (np.concatenate([g.numpy().ravel() for g in f(*data)])
                       for f, data in ((exact, probe), (rounded, probe), (exact, other)))  # fmt: skip
            norm = np.linalg.norm(a)
            agreement.append((np.linalg.norm(a - b) / norm, a @ b / norm / np.linalg.norm(b), np.linalg.norm(a - c) / norm))

    float32_losses = _train(reference, batches, bf16=False, on_step=compare_gradients)
    bf16_losses = _train(bf16_model, batches, bf16=True)

    # Along the float32 trajectory, bf16 products change the gradient's direction little, and by far
    # less than another batch of the same data does.
    assert len(agreement) == 4
    for relative_error, cosine, batch_noise in agreement:
        assert 1e-5 < relative_error < 0.4 * batch_noise, agreement
        assert cosine > 0.95, agreement
    # Both runs learn the real shapes, and the curves agree within the noise of one run.
    window = steps // 4
    float32_tail, bf16_tail = float32_losses[-window:].mean(), bf16_losses[-window:].mean()
    assert float32_tail < 0.6 * float32_losses[:10].mean()
    assert abs(bf16_tail - float32_tail) < 0.15 * float32_tail + 0.05, (float32_tail, bf16_tail)
    float32_accuracy, bf16_accuracy = _accuracy(reference, val_x, val_y), _accuracy(bf16_model, val_x, val_y)
    print(f"gradients (relative error, cosine, batch noise): {np.round(agreement, 3).tolist()}; loss over the last "
          f"{window} steps {float32_tail:.3f} (float32) / {bf16_tail:.3f} (bf16); validation accuracy "
          f"{float32_accuracy:.3f} / {bf16_accuracy:.3f}")  # fmt: skip
    assert float32_accuracy > 0.5, (float32_accuracy, bf16_accuracy)
    assert abs(bf16_accuracy - float32_accuracy) < 0.1, (float32_accuracy, bf16_accuracy)  # 256 clouds
