"""TensorBoard logs in the run directory: what `kerasx.fit` writes, each epoch exactly once
across SIGTERM, resumes, runs started over and damaged files; `TensorBoardLogger` on its own;
and the optional `tensorboard` package being absent.

Every test reads the event files back with TensorFlow's own reader
(`tf.compat.v1.train.summary_iterator`), from every event file under the folder. The helpers
`read_events`, `scalars` and `expected_scalars` are shared with `test_tensorboard_kill.py`.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import kerasx
from kerasx.callbacks import TensorBoardLogger, WeightMonitor

from helpers import run_python

# -- reading the events back --------------------------------------------------------------------


def read_events(directory: Path) -> Counter:
    """`{(subdirectory, tag, step, float32 value): count}` of every scalar under `directory`,
    read with `tf.compat.v1.train.summary_iterator` from every event file (any writer's)."""
    import tensorflow as tf

    found: Counter = Counter()
    for path in sorted(directory.rglob("events.out.tfevents.*")):
        sub = path.parent.relative_to(directory).as_posix()
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = np.float32(tf.make_ndarray(value.tensor))
                found[(sub, value.tag, int(event.step), float(number))] += 1
    return found


def scalars(directory: Path) -> dict[tuple[str, str], dict[int, float]]:
    """`{(subdirectory, tag): {step: value}}`; fails on any `(subdirectory, tag, step)` that
    appears more than once."""
    series: dict[tuple[str, str], dict[int, float]] = {}
    for (sub, tag, step, value), count in read_events(directory).items():
        steps = series.setdefault((sub, tag), {})
        assert count == 1 and step not in steps, f"{sub}/{tag} step {step} written twice"
        steps[step] = value
    return series


def expected_scalars(history: dict[str, list[float]]) -> dict[tuple[str, str], dict[int, float]]:
    """TensorBoard's view of a history whose every name is logged at every epoch, in Keras's
    `TensorBoard` layout (`val_loss` -> `validation/epoch_loss`)."""
    series: dict[tuple[str, str], dict[int, float]] = {}
    for name, values in history.items():
        sub, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
        series[(sub, "epoch_" + tag)] = {e: float(np.float32(v)) for e, v in enumerate(values)}
    return series


# -- a small run ---------------------------------------------------------------------------------

SAMPLES = 160  # 128 for training after validation_split=0.2: 8 steps of 16 per epoch


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int32")


def _model(learning_rate: float = 0.01) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _fit(run_dir: Path | None, epochs: int = 3, extra: list[Any] | None = None,
         **options: Any) -> kerasx.History:
    kerasx.seed_everything(5)
    x, y = _data()
    options.setdefault("validation_split", 0.2)
    return kerasx.fit(
        _model(), x, y, epochs=epochs, batch_size=16, run_dir=run_dir, progress=False,
        callbacks=["default", *(extra or [])], **options,
    )


def _board(run_dir: Path) -> Path:
    return run_dir / "tensorboard"


def _with_rate(
    series: dict[tuple[str, str], dict[int, float]], rate: float = 0.01
) -> dict[tuple[str, str], dict[int, float]]:
    """`series` plus the constant learning rate the logger reads from the optimizer."""
    epochs = sorted(series[("train", "epoch_loss")])
    constant = {e: float(np.float32(rate)) for e in epochs}
    return {**series, ("train", "epoch_learning_rate"): constant}


class _Sigterm(keras.callbacks.Callback):
    """Send SIGTERM to this process after batch `batch` of epoch `epoch`."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.when, self.epoch = (epoch, batch), -1

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if (self.epoch, batch) == self.when:
            os.kill(os.getpid(), signal.SIGTERM)


# -- what is written -----------------------------------------------------------------------------


def test_fit_writes_every_metric_the_learning_rate_and_weight_statistics(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    history = _fit(run_dir, lr_schedule="cosine", extra=[WeightMonitor()])
    series = scalars(_board(run_dir))
    assert series == expected_scalars(history.history)
    assert {("train", "epoch_loss"), ("train", "epoch_accuracy"),
            ("train", "epoch_learning_rate"), ("validation", "epoch_loss"),
            ("validation", "epoch_accuracy"), ("train", "epoch_weights/hidden/std")} <= set(series)
    assert all(sorted(steps) == [0, 1, 2] for steps in series.values())
    # One file per process session, in Keras's train/validation layout.
    names = sorted(p.relative_to(_board(run_dir)).parent.as_posix()
                   for p in _board(run_dir).rglob("events.out.tfevents.*"))
    assert names == ["train", "validation"]


def test_a_constant_learning_rate_is_written_though_the_history_has_none(tmp_path: Path) -> None:
    history = _fit(tmp_path / "run", epochs=2)
    assert "learning_rate" not in history.history
    assert scalars(_board(tmp_path / "run")) == _with_rate(expected_scalars(history.history))


def test_tensorboard_false_or_no_run_dir_writes_none(tmp_path: Path, monkeypatch) -> None:
    _fit(tmp_path / "run", epochs=1, tensorboard=False)
    assert not _board(tmp_path / "run").exists()
    assert (tmp_path / "run" / "history.csv").exists()
    monkeypatch.chdir(tmp_path)
    _fit(None, epochs=1)
    assert not list(tmp_path.rglob("events.out.tfevents.*"))
    with pytest.raises(kerasx.errors.ConfigurationError, match=r"Received: tensorboard='yes'"):
        _fit(tmp_path / "other", epochs=1, tensorboard="yes")


def test_the_logger_on_its_own_writes_each_epoch_when_it_ends(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    logger = TensorBoardLogger(tmp_path / "tb")
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0,
                        callbacks=[logger])
    assert scalars(tmp_path / "tb") == _with_rate(expected_scalars(history.history))


# -- exactly once --------------------------------------------------------------------------------


def test_sigterm_mid_epoch_then_resume_writes_each_epoch_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit):
        _fit(run_dir, epochs=4, extra=[_Sigterm(1, 3)], lr_schedule="onecycle")
    assert sorted({step for (_, _, step, _) in read_events(_board(run_dir))}) == [0]
    with pytest.raises(SystemExit):  # again, in the resumed part of the same epoch
        _fit(run_dir, epochs=4, extra=[_Sigterm(1, 1)], lr_schedule="onecycle")
    history = _fit(run_dir, epochs=4, lr_schedule="onecycle")
    assert history.resumed_from_epoch == 1
    assert scalars(_board(run_dir)) == expected_scalars(history.history)
    reference = _fit(tmp_path / "reference", epochs=4, lr_schedule="onecycle")
    np.testing.assert_allclose(history.history["loss"], reference.history["loss"], rtol=1e-5)


def test_epochs_missing_from_the_files_are_written_from_the_run_state(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sparse: dict[str, Any] = {"validation_freq": 2, "monitor": "loss"}
    _fit(run_dir, epochs=2, extra=[WeightMonitor(every=2)], **sparse)
    for path in _board(run_dir).rglob("events.out.tfevents.*"):
        path.unlink()  # as if every write had been lost
    # A finished run returns its history without training, and its logs complete.
    history = _fit(run_dir, epochs=2, extra=[WeightMonitor(every=2)], **sparse)
    assert history.trained_epochs == 0
    series = scalars(_board(run_dir))
    assert sorted(series[("train", "epoch_loss")]) == [0, 1]
    # Names logged on some epochs only stay with their epoch.
    assert sorted(series[("validation", "epoch_loss")]) == [1]
    assert series[("validation", "epoch_loss")][1] == float(
        np.float32(history.history["val_loss"][0])
    )
    assert sorted(series[("train", "epoch_weights/hidden/mean")]) == [1]
    # Trains on: epoch 2 is added once.
    _fit(run_dir, epochs=3, extra=[WeightMonitor(every=2)], **sparse)
    assert sorted(scalars(_board(run_dir))[("train", "epoch_loss")]) == [0, 1, 2]


def test_the_files_of_a_run_started_over_are_replaced(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _fit(run_dir, epochs=3)
    foreign = _board(run_dir) / "train" / "events.out.tfevents.1.other.v2"
    foreign.write_bytes(b"")  # another writer's file: left alone
    # The run states are gone (deleted by hand): the run starts over from epoch 0.
    for path in (run_dir / "checkpoints").glob("state-*.npz"):
        path.unlink()
    history = _fit(run_dir, epochs=2, validation_split=0.25)
    assert scalars(_board(run_dir)) == _with_rate(expected_scalars(history.history))
    assert foreign.exists()
    # resume=False removes them before training.
    history = _fit(run_dir, epochs=1, resume=False)
    assert scalars(_board(run_dir)) == _with_rate(expected_scalars(history.history))


def test_a_cut_short_event_file_is_rewritten_from_the_run_state(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _fit(run_dir, epochs=2)
    (path,) = (_board(run_dir) / "train").glob("events.out.tfevents.*")
    path.write_bytes(path.read_bytes()[:-9])  # a record cut short, as by a kill mid-write
    history = _fit(run_dir, epochs=3)
    assert history.resumed_from_epoch == 2
    assert scalars(_board(run_dir)) == _with_rate(expected_scalars(history.history))


# -- without the tensorboard package -------------------------------------------------------------

_WITHOUT_TENSORBOARD = r"""
import sys
sys.modules["tensorboard"] = None  # as if `tensorboard` were not installed
import json, os, warnings
import numpy as np
import keras
import tensorflow as tf
import kerasx
from kerasx.errors import MissingDependencyError

run_dir = sys.argv[1]
report = {}
try:
    with tf.summary.create_file_writer(os.path.join(run_dir, "probe")).as_default():
        tf.summary.scalar("x", 1.0, step=0)
except Exception as error:
    report["tf.summary"] = type(error).__name__

x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int32")

def train(**options):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return kerasx.fit(model, x, y, epochs=2, progress=False, **options)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    train(run_dir=os.path.join(run_dir, "quiet"), tensorboard=False)
    about = lambda: [w for w in caught if "tensorboard" in str(w.message).lower()]
    report["quiet"] = [str(w.message) for w in about()]
    history = train(run_dir=os.path.join(run_dir, "a"))
    train(run_dir=os.path.join(run_dir, "b"))
    report["warnings"] = [(w.category.__name__, str(w.message), w.filename) for w in about()]
report["epochs"] = history.epoch
report["files"] = sorted(os.listdir(os.path.join(run_dir, "a")))
try:
    kerasx.callbacks.TensorBoardLogger(os.path.join(run_dir, "tb"))
except MissingDependencyError as error:
    report["logger"] = str(error)
print("REPORT " + json.dumps(report))
"""


@pytest.mark.slow
def test_without_tensorboard_fit_trains_and_says_once_how_to_turn_logs_on(
    tmp_path: Path,
) -> None:
    result = run_python(_WITHOUT_TENSORBOARD, str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("REPORT "))
    report = json.loads(line[len("REPORT "):])
    assert report["tf.summary"] == "TBNotInstalledError"  # what Keras's TensorBoard would hit
    assert report["quiet"] == []  # tensorboard=False: nothing to say
    assert len(report["warnings"]) == 1, report["warnings"]
    category, message, filename = report["warnings"][0]
    assert category == "UserWarning"
    assert "writes no TensorBoard logs" in message
    assert 'pip install "kerasx[tensorboard]"' in message
    assert "tensorboard=False" in message
    assert filename == "<string>"  # points at the caller of kerasx.fit
    assert report["epochs"] == [0, 1]
    assert report["files"] == ["checkpoints", "history.csv", "history.json", "run.json"]
    assert 'pip install "kerasx[tensorboard]"' in report["logger"]
