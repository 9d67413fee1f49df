"""A user's own stateful callback survives a real SIGKILL: its `get_state()` is in the resume
state, and the resumed run's `set_state` makes it count as if the run had never stopped.

The worker trains a tiny classifier for 3 epochs with `kerasx.fit(..., run_dir=...)` and a
`Counter` callback (batches and epochs seen, with `get_state`/`set_state`) after the default
callbacks and their `EarlyStopping`, so the counter is the second stateful callback. It prints
`E epoch` at each epoch end and, when done, the counter's state. The test kills it with SIGKILL
at the end of epoch 1 (the state after epoch 0 is on disk by then), resumes it, and compares the
counter with an uninterrupted run's. The process helpers are those of `test_resume_kill.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_resume_kill import _finish, _kill_at, _start

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

EPOCHS = 3

WORKER = r"""
import json, sys
import numpy as np
import keras
import kerasx

run_dir, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kerasx.seed_everything(3, deterministic=True)
rng = np.random.default_rng(0)
x = rng.normal(size=(96, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

class Counter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0
        self.epochs = 0

    def on_train_begin(self, logs=None):
        self.batches = self.epochs = 0  # a fresh start; a resumed run gets set_state after

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        print(f"E {epoch}", flush=True)

    def get_state(self):
        return {"batches": self.batches, "epochs": self.epochs}

    def set_state(self, state):
        self.batches, self.epochs = state["batches"], state["epochs"]

counter = Counter()
history = kerasx.fit(model, x, y, epochs=epochs, batch_size=16, run_dir=run_dir,
                     callbacks=["default", counter], progress=False, patience=50)
print("DONE " + json.dumps({"resumed": history.resumed_from_epoch, "epoch": history.epoch,
                            "counter": counter.get_state()}), flush=True)
"""


def _state_meta(run_dir: Path) -> dict:
    from kerasx.callbacks._run_state import list_states, read_state

    return read_state(list_states(run_dir / "checkpoints")[-1][-1]).meta


def test_a_users_callback_state_survives_sigkill(tmp_path: Path) -> None:
    reference_process = _start(
        tmp_path / "reference", tmp_path / "reference.npz", worker=WORKER, epochs=EPOCHS
    )
    run_dir, out = tmp_path / "run", tmp_path / "run.npz"

    seen = _kill_at(_start(run_dir, out, worker=WORKER, epochs=EPOCHS), "E 1")
    assert "DONE" not in " ".join(seen)
    killed_meta = _state_meta(run_dir)
    assert killed_meta["epoch"] in (1, 2)  # the kill may land before or after epoch 2's state
    entries = killed_meta["callbacks"]
    assert [entry["class"] for entry in entries] == ["EarlyStopping", "Counter"]
    epochs_saved = killed_meta["epoch"]
    assert entries[1]["state"] == {"batches": 6 * epochs_saved, "epochs": epochs_saved}

    result = _finish(_start(run_dir, out, worker=WORKER, epochs=EPOCHS))
    reference = _finish(reference_process)

    assert result["resumed"] == epochs_saved  # it did resume from the saved state
    assert result["epoch"] == reference["epoch"] == list(range(EPOCHS))
    assert reference["counter"] == {"batches": 6 * EPOCHS, "epochs": EPOCHS}
    assert result["counter"] == reference["counter"]
    assert _state_meta(run_dir)["callbacks"][1]["state"] == result["counter"]
