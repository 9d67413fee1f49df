"""TensorBoard logs exactly once, for real: SIGKILL and SIGTERM a training subprocess at five
points, resume it each time, and read the event files back.

The worker trains the digits MLP of `tests/training/test_resume_kill.py` with
`kerasx.fit(..., run_dir=..., lr_schedule="cosine", warmup=0.1)` and a `WeightMonitor`, so the
logs hold train and validation metrics, the learning rate and weight statistics. It prints
markers: `B epoch batch`, `E epoch` (a callback before the checkpoint), and `T epoch` from the
TensorBoard logger just before it writes an epoch, that is once the epoch's state is saved, so
a kill there leaves an epoch that the run state holds and the event files do not. The last
kill lands there after the last epoch, so the next call finds a finished run and returns
without training: its logs must be completed all the same.

At the end every `(subdirectory, tag, epoch)` must appear exactly once, across all the event
files the sessions wrote, with the values of the run's history, and the same scalars as an
uninterrupted run's. The process helpers are those of `test_resume_kill.py`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from test_tensorboard import expected_scalars, scalars

_TRAINING_TESTS = str(Path(__file__).resolve().parent.parent / "training")
if _TRAINING_TESTS not in sys.path:  # pytest adds it only when it collects that folder
    sys.path.insert(0, _TRAINING_TESTS)
from test_resume_kill import _finish, _kill_at, _start  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EPOCHS = 6

WORKER = r"""
import json, sys, time
import numpy as np
import keras
import kerasx
from kerasx.callbacks import TensorBoardLogger

run_dir, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kerasx.seed_everything(7, deterministic=True)
(x, y), _ = kerasx.datasets.load_digits()
x = (x.reshape(len(x), 64) / 16.0).astype("float32")
model = keras.Sequential([
    keras.Input((64,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dropout(0.3),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])

write_epoch = TensorBoardLogger.on_epoch_end

def announced(self, epoch, logs=None):
    print(f"T {epoch}", flush=True)  # the state of this epoch is saved; its scalars are not
    time.sleep(0.3)
    write_epoch(self, epoch, logs)

TensorBoardLogger.on_epoch_end = announced

class Markers(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, batch, logs=None):
        if batch in (5, 20):
            print(f"B {self.epoch} {batch}", flush=True)
    def on_epoch_end(self, epoch, logs=None):
        print(f"E {epoch}", flush=True)

print("START", flush=True)
history = kerasx.fit(model, x, y, epochs=epochs, batch_size=32, validation_split=0.2,
                     run_dir=run_dir, progress=False, lr_schedule="cosine", warmup=0.1,
                     callbacks=["default", Markers(), kerasx.callbacks.WeightMonitor()])
np.savez(out, *model.get_weights())
print("DONE " + json.dumps({"resumed": history.resumed_from_epoch, "epoch": history.epoch,
                            "history": history.to_dict()}), flush=True)
"""


def _start_worker(run_dir: Path, out: Path):
    return _start(run_dir, out, worker=WORKER, epochs=EPOCHS)


def _sigterm_at(run_dir: Path, out: Path, marker: str) -> None:
    process = _start_worker(run_dir, out)
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == marker:
            process.send_signal(signal.SIGTERM)
            break
    rest = process.stdout.read()
    process.wait(timeout=120)
    process.stdout.close()
    assert process.returncode == 143, rest


def test_each_epoch_is_written_once_after_sigkills_sigterm_and_resumes(tmp_path: Path) -> None:
    reference_process = _start_worker(tmp_path / "reference", tmp_path / "reference.npz")
    run_dir, out = tmp_path / "run", tmp_path / "run.npz"
    board = run_dir / "tensorboard"

    # 1. mid-epoch, before any state exists
    _kill_at(_start_worker(run_dir, out), "B 0 20")
    # 2. epoch 1's state is saved, its scalars not yet written
    _kill_at(_start_worker(run_dir, out), "T 1")
    assert (run_dir / "checkpoints" / "state-epoch-000002.npz").exists()
    assert sorted({step for (_, steps) in scalars(board).items() for step in steps}) == [0]
    # 3. SIGTERM in the middle of epoch 3: a mid-epoch state, then status 143
    _sigterm_at(run_dir, out, "B 3 5")
    # 4. a little after an epoch end: during the history files, the checkpoint or the logs
    _kill_at(_start_worker(run_dir, out), "E 4", delay=0.02)
    # 5. after the last epoch's state, before its scalars
    _kill_at(_start_worker(run_dir, out), f"T {EPOCHS - 1}")
    # The run is finished: the next call trains nothing, and completes the logs.
    result = _finish(_start_worker(run_dir, out))
    reference = _finish(reference_process)
    assert result["resumed"] == EPOCHS
    assert result["epoch"] == list(range(EPOCHS))
    for name, values in reference["history"].items():  # the resumed run is the same run
        np.testing.assert_allclose(result["history"][name], values, rtol=1e-5, err_msg=name)

    series = scalars(board)  # fails on any scalar written twice
    assert series == expected_scalars(result["history"])
    assert {("train", "epoch_learning_rate"), ("validation", "epoch_accuracy"),
            ("train", "epoch_weights/dense/max_abs")} <= set(series)
    assert all(sorted(steps) == list(range(EPOCHS)) for steps in series.values())
    assert len(list(board.rglob("events.out.tfevents.*"))) > 2  # one file per session

    uninterrupted = scalars(tmp_path / "reference" / "tensorboard")
    assert uninterrupted.keys() == series.keys()
    for key, steps in uninterrupted.items():
        np.testing.assert_allclose(
            [series[key][e] for e in range(EPOCHS)], [steps[e] for e in range(EPOCHS)],
            rtol=1e-5, atol=1e-6, err_msg=str(key),
        )
