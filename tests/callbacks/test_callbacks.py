"""kerasx's own callbacks: defaults, Checkpoint, HistoryLogger, ProgressBar, LivePlot."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasx
from kerasx.callbacks import Checkpoint, HistoryLogger, LivePlot, ProgressBar
from kerasx.errors import ConfigurationError, CorruptFileError


def _fit(callbacks: list, *, epochs: int = 2, initial_epoch: int = 0, spe: int = 1, model=None):
    x = np.random.default_rng(0).normal(size=(80, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    if model is None:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=spe
        )
    model.fit(
        x, y, epochs=epochs, initial_epoch=initial_epoch, batch_size=8, validation_split=0.0,
        callbacks=callbacks, verbose=0,
    )
    return model


def test_defaults_composition(tmp_path: Path) -> None:
    names = [type(c).__name__ for c in kerasx.callbacks.defaults(tmp_path, patience=3)]
    assert names == [
        "Checkpoint", "EarlyStopping", "HistoryLogger", "TensorBoardLogger", "TerminateOnNaN",
        "ProgressBar",
    ]
    names = [
        type(c).__name__ for c in kerasx.callbacks.defaults(tmp_path, tensorboard=False)
    ]
    assert names == ["Checkpoint", "HistoryLogger", "TerminateOnNaN", "ProgressBar"]
    names = [type(c).__name__ for c in kerasx.callbacks.defaults(None, progress=False)]
    assert names == ["TerminateOnNaN"]
    message = r"`patience` must be None.*Received: patience=1\.5"
    with pytest.raises(ConfigurationError, match=message):
        kerasx.callbacks.defaults(None, patience=1.5)  # type: ignore[arg-type]


def test_checkpoint_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r'mode` must be "auto".*Received: mode=\'up\''):
        Checkpoint(tmp_path, mode="up")
    with pytest.raises(ConfigurationError, match=r"`keep` must be an integer.*Received: keep=0"):
        Checkpoint(tmp_path, keep=0)


def test_checkpoint_missing_monitor_lists_available(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"monitors 'val_acc', .*Available: \['loss'\]"):
        _fit([Checkpoint(tmp_path, monitor="val_acc")], epochs=1)


def test_checkpoint_writes_loadable_best_and_keeps_states(tmp_path: Path) -> None:
    model = _fit([Checkpoint(tmp_path, monitor="loss", keep=2)], epochs=3)
    best = keras.saving.load_model(tmp_path / "best.keras")
    assert [w.shape for w in best.get_weights()] == [w.shape for w in model.get_weights()]
    states = sorted(p.name for p in tmp_path.glob("state-epoch-*.npz"))
    assert states == ["state-epoch-000002.npz", "state-epoch-000003.npz"]
    from kerasx.callbacks._run_state import read_state

    meta = read_state(tmp_path / "state-epoch-000003.npz").meta
    assert meta["epoch"] == 3 and meta["checkpoint"]["monitor"] == "loss"
    assert len(meta["history"]["loss"]) == 3


def test_corrupt_state_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "state-epoch-000001.npz").write_bytes(b"not a zip")
    with pytest.raises(CorruptFileError, match=r"could not be read.*resume=False"):
        Checkpoint(tmp_path).latest_state()


def test_history_logger_appends_each_epoch_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r'must end in ".csv" or ".json"'):
        HistoryLogger(tmp_path / "log.txt")
    model = _fit([HistoryLogger(tmp_path / "log.csv")], epochs=2)
    _fit([HistoryLogger(tmp_path / "log.json")], epochs=3, initial_epoch=2, model=model)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss"
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2"]
    assert len(json.loads((tmp_path / "log.json").read_text())["loss"]) == 3
    # an epoch trained again (after a kill) replaces its row and drops later ones
    _fit([HistoryLogger(tmp_path / "log.csv")], epochs=2, initial_epoch=1, model=model)
    assert len(json.loads((tmp_path / "log.json").read_text())["loss"]) == 2
    (tmp_path / "log.json").write_text("[1, 2")
    with pytest.raises(CorruptFileError, match="history file is not valid JSON"):
        _fit([HistoryLogger(tmp_path / "log.csv")], epochs=1, model=model)


def test_progress_bar_lines_in_a_pipe_counts_steps_per_execution() -> None:
    with pytest.raises(ConfigurationError, match=r"`mode` must be one of"):
        ProgressBar("fancy")
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as stream:
        bar = ProgressBar(stream=stream)
        _fit([bar], epochs=2, spe=3)
    with os.fdopen(read_fd) as reader:
        lines = reader.read().splitlines()
    assert bar.resolved_mode == "lines"
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - 10 steps - ") and "loss: " in lines[0]


def test_progress_bar_terminal_in_a_pty_reaches_the_total_with_steps_per_execution() -> None:
    primary, secondary = pty.openpty()
    with os.fdopen(secondary, "w") as stream:
        bar = ProgressBar(stream=stream)
        _fit([bar], epochs=1, spe=4)
        stream.flush()
        output = os.read(primary, 65536).decode()
    os.close(primary)
    assert bar.resolved_mode == "terminal"
    assert "Epoch 1/1" in output and "10/10" in output and "\r" in output


@pytest.mark.slow
def test_fit_progress_auto_in_a_real_pty_subprocess(tmp_path: Path) -> None:
    code = (
        "import numpy as np, keras, kerasx\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation='softmax')])\n"
        "m.compile('adam', 'sparse_categorical_crossentropy', steps_per_execution=2)\n"
        "kerasx.fit(m, np.zeros((40, 4)), np.zeros(40), epochs=2, batch_size=8)\n"
    )
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=secondary, stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), cwd=tmp_path,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=300) == 0
    output = b"".join(chunks).decode(errors="replace")
    assert "Epoch 2/2" in output and "5/5" in output and "step" in output


def test_live_plot_writes_png_headless(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r'must end in ".png"'):
        LivePlot(tmp_path / "x.jpg")
    with pytest.raises(ConfigurationError, match="needs a PNG path"):
        _fit([LivePlot()], epochs=1)
    target = tmp_path / "curves.png"
    _fit([LivePlot(target)], epochs=2)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_live_plot_under_fit_defaults_to_run_dir(tmp_path: Path) -> None:
    x = np.zeros((16, 4), "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    kerasx.fit(model, x, x[:, :1], epochs=1, run_dir=tmp_path, callbacks=[LivePlot()])
    assert (tmp_path / "live_plot.png").read_bytes()[:4] == b"\x89PNG"
