import keras
import numpy as np
import pytest

from pointnet_tf2.models import get_model
from pointnet_tf2.training.callbacks import BatchNormMomentumScheduler
from pointnet_tf2.training.callbacks import batch_norm_layers
from pointnet_tf2.training.schedules import StaircaseDecay
from pointnet_tf2.training.schedules import bn_momentum


def test_learning_rate_staircase_per_sample_with_floor():
    schedule = StaircaseDecay(0.001, decay_step=200_000, decay_rate=0.7, batch_size=32)
    # 200,000 samples = 6250 steps of 32.
    assert float(schedule(0)) == pytest.approx(0.001)
    assert float(schedule(6249)) == pytest.approx(0.001)
    assert float(schedule(6250)) == pytest.approx(0.0007)
    assert float(schedule(6250 * 3 + 1)) == pytest.approx(0.001 * 0.7**3)
    assert float(schedule(10**7)) == pytest.approx(1e-5)
    for step in (0, 6250, 20000, 10**7):
        assert schedule.value(step) == pytest.approx(float(schedule(step)), rel=1e-5)


def test_learning_rate_without_staircase():
    schedule = StaircaseDecay(0.01, decay_step=100, decay_rate=0.5, batch_size=10, staircase=False)
    assert float(schedule(5)) == pytest.approx(0.01 * 0.5**0.5, rel=1e-5)


def test_learning_rate_schedule_serializes():
    schedule = StaircaseDecay(0.002, decay_step=1000, decay_rate=0.5, batch_size=8, minimum=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert restored.get_config() == schedule.get_config()


@pytest.mark.parametrize("kwargs, match", [({"decay_rate": 0.0}, "decay_rate"), ({"batch_size": 0}, "batch_size"),
                                           ({"initial_learning_rate": -1.0}, "initial_learning_rate")])
def test_learning_rate_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StaircaseDecay(**kwargs)


def test_bn_momentum_follows_the_original():
    assert bn_momentum(0) == 0.5
    assert bn_momentum(199_999) == 0.5
    assert bn_momentum(200_000) == 0.75
    assert bn_momentum(400_000) == 0.875
    assert bn_momentum(10**8) == 0.99


def test_momentum_scheduler_sets_every_batch_norm_layer_and_takes_effect():
    model = get_model("pointnet_cls", num_classes=3, num_points=None, mlp1=(4, 4), mlp2=(8,), head_widths=(4,),
                      tnet_conv_widths=(4,), tnet_fc_widths=(4,))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # decay_step of 8 samples with batch 4: the momentum moves every 2 steps.
    scheduler = BatchNormMomentumScheduler(4, initial=0.5, decay_step=8, decay_rate=0.5, maximum=0.99)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(sorted({layer.momentum for layer in batch_norm_layers(self.model)}))

    x = np.random.default_rng(0).normal(size=(16, 10, 3)).astype("float32")
    y = np.zeros(16, "int64")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False, callbacks=[scheduler, Record()])
    assert seen == [[0.5], [0.5], [0.75], [0.75]]
    assert len(batch_norm_layers(model)) == 8  # 2 per T-Net, conv1-3, fc1

    # The new momentum is really used by the traced train step: with momentum m,
    # the moving mean moves by (1 - m) of the way towards the batch mean.
    bn = model.get_layer("conv1_bn")
    before = bn.moving_mean.numpy().copy()
    model.fit(x[:4], y[:4], batch_size=4, epochs=1, verbose=0, callbacks=[scheduler])
    assert scheduler.current == 0.875
    features = keras.Model(model.input, model.get_layer("conv1").output)(x[:4]).numpy()
    batch_mean = features.reshape(-1, features.shape[-1]).mean(axis=0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.875 * before + 0.125 * batch_mean, rtol=1e-4, atol=1e-5)
