"""`kerasx.fit(..., lr_schedule=..., warmup=...)`: the closed forms at every step, the logged
learning rate, and the refusals (in-process, real training).

The closed forms below are written out independently of kerasx's code, from the training
guide: T steps, peak `lr` (the optimizer's learning rate), global step `t` from 0. Keras
computes them in float32, so they agree to 1e-5 relative or 1e-6 of the peak.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasx
from kerasx.errors import ConfigurationError

SAMPLES, BATCH, EPOCHS = 64, 16, 5  # 4 steps per epoch, T = 20
STEPS = SAMPLES // BATCH
PEAK = 0.01


def cosine(t: int, total: int, warmup: float, peak: float = PEAK) -> float:
    """`"cosine"`: linear warm-up from 0 over W steps, then cosine decay to 0 over D."""
    warm = min(round(warmup * total), total - 1)
    decay = total - warm
    if t < warm:
        return peak * t / warm
    return peak * 0.5 * (1 + math.cos(math.pi * min(t - warm, decay) / decay))


def onecycle(t: int, total: int, warmup: float, peak: float = PEAK) -> float:
    """`"onecycle"`: linear rise from peak/25 over W steps (W = 0.3 T unless `warmup`), then a
    cosine fall to peak/25/1e4."""
    rise = warmup if warmup > 0 else 0.3
    warm = min(max(round(rise * total), 1), total - 1)
    decay = total - warm
    start, alpha = peak / 25, 1 / (25 * 1e4)
    if t < warm:
        return start + (peak - start) * t / warm
    cos = 0.5 * (1 + math.cos(math.pi * min(t - warm, decay) / decay))
    return peak * ((1 - alpha) * cos + alpha)


CLOSED_FORMS = {"cosine": cosine, "onecycle": onecycle}


class StepRates(keras.callbacks.Callback):
    """Records `(iterations, learning rate)` before every step (steps_per_execution=1)."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[tuple[int, float]] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        optimizer = self.model.optimizer
        self.rates.append(
            (int(optimizer.iterations.numpy()), float(np.asarray(optimizer.learning_rate)))
        )


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _model(learning_rate: Any = PEAK) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _fit(model: keras.Model, **options: Any) -> kerasx.History:
    x, y = _data()
    options.setdefault("epochs", EPOCHS)
    return kerasx.fit(model, x, y, batch_size=BATCH, progress=False, **options)


@pytest.mark.parametrize(
    ("name", "warmup"), [("cosine", 0.0), ("cosine", 0.25), ("onecycle", 0.0), ("onecycle", 0.4)]
)
def test_every_step_follows_the_closed_form_and_each_epoch_logs_its_end(
    name: str, warmup: float
) -> None:
    model, rates = _model(), StepRates()
    history = _fit(model, lr_schedule=name, warmup=warmup, callbacks=[rates])
    total = EPOCHS * STEPS
    closed_form = CLOSED_FORMS[name]
    peak = float(np.float32(PEAK))  # the optimizer keeps its learning rate as float32
    assert [step for step, _ in rates.rates] == list(range(total))
    for step, rate in rates.rates:
        expected = closed_form(step, total, warmup, peak)
        assert rate == pytest.approx(expected, rel=1e-5, abs=PEAK * 1e-6), step
    # The logged rate is the optimizer's once the epoch's last step is done (the next step's).
    logged = [closed_form((e + 1) * STEPS, total, warmup, peak) for e in range(EPOCHS)]
    np.testing.assert_allclose(
        history.history["learning_rate"], logged, rtol=1e-5, atol=PEAK * 1e-6
    )


def test_the_schedule_is_keras_own_cosine_decay_and_best_keras_loads_without_kerasx(
    tmp_path: Path,
) -> None:
    model = _model()
    _fit(model, lr_schedule="onecycle", run_dir=tmp_path / "run", monitor="loss")
    config = model.optimizer.get_config()["learning_rate"]
    assert config["class_name"] == "CosineDecay"
    assert config["config"]["warmup_steps"] == round(0.3 * EPOCHS * STEPS)
    loaded = keras.saving.load_model(tmp_path / "run" / "checkpoints" / "best.keras")
    schedule = loaded.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"] == config["config"]


def test_history_csv_and_state_record_the_learning_rate(tmp_path: Path) -> None:
    history = _fit(_model(), lr_schedule="cosine", run_dir=tmp_path / "run")
    logged = kerasx.io.load_history(tmp_path / "run" / "history.csv")
    np.testing.assert_allclose(logged["learning_rate"], history.history["learning_rate"])
    assert history.history["learning_rate"][-1] == pytest.approx(0.0, abs=PEAK * 1e-6)


def test_a_constant_rate_is_not_logged_but_a_users_schedule_is() -> None:
    assert "learning_rate" not in _fit(_model(), epochs=1).history
    decay = keras.optimizers.schedules.ExponentialDecay(0.01, 4, 0.5)
    history = _fit(_model(decay), epochs=2)
    np.testing.assert_allclose(history.history["learning_rate"], [0.005, 0.0025], rtol=1e-6)


def test_fit_again_in_the_same_process_replaces_its_own_schedule() -> None:
    model = _model()
    _fit(model, lr_schedule="cosine", epochs=2)
    rates = StepRates()
    _fit(model, lr_schedule="onecycle", epochs=2, callbacks=[rates])
    peak = float(np.float32(PEAK))
    # The optimizer had taken 8 steps, so the 8-step one-cycle starts at its end (warned).
    assert rates.rates[0] == (8, pytest.approx(onecycle(8, 8, 0.0, peak), rel=1e-5))
    assert model.optimizer.get_config()["learning_rate"]["config"]["name"] == "kerasx_onecycle"


def test_a_fresh_run_on_a_trained_optimizer_warns(caplog: pytest.LogCaptureFixture) -> None:
    model = _model()
    _fit(model, epochs=1)
    with caplog.at_level("WARNING", logger="kerasx.training"):
        _fit(model, epochs=1, lr_schedule="cosine")
    assert "has already taken 4 steps" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr_schedule": "linear"}, r'`lr_schedule` must be None, "cosine" or "onecycle"'),
        ({"lr_schedule": "cosine", "warmup": 1.0}, r"`warmup` must be a number in \[0, 1\)"),
        ({"lr_schedule": "cosine", "warmup": -0.1}, r"Received: warmup=-0\.1"),
        ({"lr_schedule": "cosine", "warmup": True}, r"Received: warmup=True"),
        ({"lr_schedule": "cosine", "warmup": "0.1"}, r"Received: warmup='0\.1'"),
        ({"warmup": 0.1}, r"`warmup` applies to an `lr_schedule`"),
        (
            {"lr_schedule": "cosine", "callbacks": [keras.callbacks.ReduceLROnPlateau()]},
            r"a callback that also sets it would fight it.*\['ReduceLROnPlateau'\]",
        ),
    ],
)
def test_bad_arguments_are_refused_before_anything_changes(
    options: dict[str, Any], message: str
) -> None:
    model = _model()
    before = [v.numpy().copy() for v in model.optimizer.variables]
    with pytest.raises(ConfigurationError, match=message):
        _fit(model, **options)
    assert isinstance(model.optimizer.learning_rate, keras.Variable)
    after = [v.numpy() for v in model.optimizer.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_an_optimizer_with_a_schedule_of_its_own_is_refused() -> None:
    decay = keras.optimizers.schedules.ExponentialDecay(0.01, 4, 0.5)
    with pytest.raises(
        ConfigurationError, match=r"already a schedule.*ExponentialDecay.*Compile with a float"
    ):
        _fit(_model(decay), lr_schedule="cosine")


def test_an_input_without_a_length_is_refused_unless_steps_per_epoch_is_given() -> None:
    x, y = _data()

    def batches():
        while True:
            for start in range(0, SAMPLES, BATCH):
                yield x[start : start + BATCH], y[start : start + BATCH]

    signature = (
        tf.TensorSpec((None, 4), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    )
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    model = _model()
    with pytest.raises(ConfigurationError, match=r"batches per epoch.*Pass `steps_per_epoch=`"):
        kerasx.fit(model, dataset, epochs=2, lr_schedule="cosine", progress=False)
    assert isinstance(model.optimizer.learning_rate, keras.Variable)
    rates = StepRates()
    kerasx.fit(
        model, dataset, epochs=2, steps_per_epoch=3, lr_schedule="cosine", progress=False,
        callbacks=[rates],
    )
    peak = float(np.float32(PEAK))
    assert [r for _, r in rates.rates] == pytest.approx(
        [cosine(t, 6, 0.0, peak) for t in range(6)], rel=1e-5, abs=PEAK * 1e-6
    )


def test_resuming_with_another_schedule_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _fit(_model(), lr_schedule="cosine", warmup=0.1, run_dir=run_dir, epochs=2)
    for options, received in [
        ({}, "lr_schedule=None"),
        ({"lr_schedule": "onecycle"}, "lr_schedule='onecycle', warmup=0.0"),
        ({"lr_schedule": "cosine"}, "lr_schedule='cosine', warmup=0.0"),
    ]:
        model = _model()
        with pytest.raises(
            ConfigurationError,
            match=rf"trained with lr_schedule='cosine', warmup=0\.1.*Received: {received}",
        ):
            _fit(model, run_dir=run_dir, epochs=4, **options)
        assert isinstance(model.optimizer.learning_rate, keras.Variable)
    # The same schedule resumes, recomputed over the new number of epochs.
    rates = StepRates()
    history = _fit(
        _model(), lr_schedule="cosine", warmup=0.1, run_dir=run_dir, epochs=4,
        callbacks=["default", rates],
    )
    assert history.resumed_from_epoch == 2
    peak = float(np.float32(PEAK))
    assert rates.rates[0] == (8, pytest.approx(cosine(8, 16, 0.1, peak), rel=1e-5))
