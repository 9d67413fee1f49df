"""SIGTERM in the middle of an epoch: the state at that batch boundary, and an exact resume.

In-process: a callback sends the real SIGTERM to this process after a given batch, kerasx's
handler saves `state-epoch-E-step-S.npz` at the next batch boundary and `fit` exits with
`SystemExit(143)`; a second `fit` with the same `run_dir` finishes the cut-short epoch and the
run. Final weights and history must equal those of an uninterrupted run.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import kerasx
from kerasx.data import DataGenerator

EPOCHS = 3
SAMPLES = 320  # 256 for training after validation_split=0.2: 8 steps of 32 per epoch


class _Sigterm(keras.callbacks.Callback):
    """Send SIGTERM to this process after batch `batch` of epoch `epoch` (of this call)."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.when = (epoch, batch)
        self.epoch = -1

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if (self.epoch, batch) == self.when:
            os.kill(os.getpid(), signal.SIGTERM)


class _Digits(DataGenerator):
    """A random-access subclass: kerasx.fit loads its batches on tf.data threads."""

    def __init__(self, x: np.ndarray, y: np.ndarray, workers: int = 1) -> None:
        super().__init__(len(x), batch_size=32, seed=11, workers=workers)
        self.x, self.y = x, y

    def load_batch(self, indices: np.ndarray) -> Any:
        return self.x[indices], self.y[indices]


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    return x, y


def _model() -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 5, 0.9)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _train(kind: str, run_dir: Path, extra: list[Any]) -> tuple[kerasx.History, keras.Model]:
    kerasx.seed_everything(5, deterministic=True)
    x, y = _data()
    model = _model()
    options: dict[str, Any] = dict(
        epochs=EPOCHS, run_dir=run_dir, progress=False, callbacks=["default", *extra]
    )
    if kind == "arrays":
        history = kerasx.fit(model, x, y, batch_size=32, validation_split=0.2, **options)
    else:
        split = int(SAMPLES * 0.8)
        if kind == "from_arrays":
            data = DataGenerator.from_arrays(x[:split], y[:split], batch_size=32, seed=11)
        else:
            data = _Digits(x[:split], y[:split], workers=2 if kind == "subclass, 2 workers" else 1)
        history = kerasx.fit(model, data, validation_data=(x[split:], y[split:]), **options)
    return history, model


def _interrupt(kind: str, run_dir: Path, epoch: int, batch: int) -> None:
    with pytest.raises(SystemExit) as stopped:
        _train(kind, run_dir, [_Sigterm(epoch, batch)])
    assert stopped.value.code == 128 + signal.SIGTERM


def _states(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").glob("state-*.npz"))


def _assert_same_run(ours: tuple[kerasx.History, keras.Model], reference: Any) -> None:
    (history, model), (ref_history, ref_model) = ours, reference
    assert history.epoch == ref_history.epoch == list(range(EPOCHS))
    assert history.history.keys() == ref_history.history.keys()
    for key, values in ref_history.history.items():
        np.testing.assert_allclose(history.history[key], values, atol=1e-6, err_msg=key)
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("kind", ["arrays", "from_arrays", "subclass", "subclass, 2 workers"])
def test_sigterm_mid_epoch_saves_that_boundary_and_resume_is_exact(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    reference = _train(kind, tmp_path / "reference", [])

    run_dir = tmp_path / "run"
    _interrupt(kind, run_dir, epoch=1, batch=3)
    # Batches 0-3 of epoch 1 are done; the handler saved at the next boundary. The state
    # of epoch 1's start is kept until the next epoch ends.
    assert _states(run_dir) == ["state-epoch-000001-step-000004.npz", "state-epoch-000001.npz"]
    with np.load(run_dir / "checkpoints" / "state-epoch-000001-step-000004.npz") as saved:
        assert int(saved["optimizer/0"]) == 8 + 4  # optimizer iterations: 1 epoch + 4 steps

    with caplog.at_level(logging.INFO, logger="kerasx.training"):
        result = _train(kind, run_dir, [])
    assert "after epoch 1 and 4 steps" in caplog.text
    assert result[0].resumed_from_epoch == 1
    assert result[0].trained_epochs == EPOCHS - 1
    _assert_same_run(result, reference)
    assert _states(run_dir) == [f"state-epoch-{EPOCHS:06d}.npz"]
    csv_epochs = [
        int(line.split(",")[0])
        for line in (run_dir / "history.csv").read_text().splitlines()[1:]
    ]
    assert csv_epochs == list(range(EPOCHS))


def test_sigterm_again_in_the_resumed_part_of_an_epoch(tmp_path: Path) -> None:
    reference = _train("arrays", tmp_path / "reference", [])
    run_dir = tmp_path / "run"
    _interrupt("arrays", run_dir, epoch=1, batch=1)  # 2 steps of epoch 1 done
    _interrupt("arrays", run_dir, epoch=1, batch=2)  # 3 more steps, counted from the 2
    assert "state-epoch-000001-step-000005.npz" in _states(run_dir)
    _assert_same_run(_train("arrays", run_dir, []), reference)


def test_plain_arrays_keep_keras_validation_split(tmp_path: Path) -> None:
    history, model = _train("arrays", tmp_path / "run", [])
    x, y = _data()
    split = int(SAMPLES * 0.8)
    # Keras's rule: the last 20% of the samples, before any shuffling.
    val_loss = model.evaluate(x[split:], y[split:], batch_size=32, verbose=0)[0]
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, abs=1e-5)


def test_an_unreadable_newest_state_falls_back_to_the_older_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reference = _train("arrays", tmp_path / "reference", [])
    run_dir = tmp_path / "run"
    _interrupt("arrays", run_dir, epoch=1, batch=3)
    newest = run_dir / "checkpoints" / "state-epoch-000001-step-000004.npz"
    newest.write_bytes(newest.read_bytes()[:100])  # a disk error, not a kerasx write
    with caplog.at_level(logging.WARNING, logger="kerasx"):
        result = _train("arrays", run_dir, [])
    assert "Skipping an unreadable run state" in caplog.text
    assert "state-epoch-000001.npz instead" in caplog.text
    _assert_same_run(result, reference)


def _early_stopping_stuck_at_epoch_0() -> keras.callbacks.EarlyStopping:
    """Its best weights stay epoch 0's (no later loss beats them by 100), and it never stops."""
    return keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=100.0, patience=10, restore_best_weights=True
    )


def test_after_a_resumed_epoch_training_goes_on_from_its_weights_not_the_best(
    tmp_path: Path,
) -> None:
    # The rest of the cut-short epoch is one model.fit call, so EarlyStopping's on_train_end
    # restores the best weights at its end; the next epochs must still start from the weights
    # that epoch ended with, as in an uninterrupted run.
    reference = _train("arrays", tmp_path / "reference", [_early_stopping_stuck_at_epoch_0()])
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit):
        _train("arrays", run_dir, [_early_stopping_stuck_at_epoch_0(), _Sigterm(1, 3)])
    result = _train("arrays", run_dir, [_early_stopping_stuck_at_epoch_0()])
    assert result[0].resumed_from_epoch == 1 and result[0].finished
    _assert_same_run(result, reference)
    assert _states(run_dir) == [f"state-epoch-{EPOCHS:06d}.npz"]


class _StopAfter(keras.callbacks.Callback):
    """A user's callback that asks Keras to stop at the end of epoch `epoch` (0-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.stop_epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == self.stop_epoch:
            self.model.stop_training = True


def test_a_callbacks_stop_in_the_resumed_part_of_an_epoch_ends_the_call(tmp_path: Path) -> None:
    # Finishing the cut-short epoch is one model.fit call and the remaining epochs another;
    # a stop a callback asks for in the first must not be lost between the two.
    run_dir = tmp_path / "run"
    _interrupt("arrays", run_dir, 1, 3)
    history, _ = _train("arrays", run_dir, [_StopAfter(1)])
    assert history.resumed_from_epoch == 1
    assert history.epoch == [0, 1]
    assert _states(run_dir)[-1] == "state-epoch-000002.npz"
