"""Learning-rate schedules resume exactly, for real: SIGKILL a training subprocess three times,
resume it, and compare the learning rate of every step with the closed form and with an
uninterrupted run.

The worker trains the digits MLP of `test_resume_kill.py` with `kerasx.fit(...,
lr_schedule="onecycle", run_dir=...)`. Before every step a callback appends the optimizer's
iteration count and learning rate to a file (each line ends with ` ;`, so a line cut short by
the kill is recognised and dropped). Steps trained again after a kill appear more than once;
every appearance must carry the rate of its step: the closed form (up to float32 rounding,
1e-6 of the peak) and, exactly, the uninterrupted run's. The process helpers are those of
`test_resume_kill.py`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from test_lr_schedule import onecycle
from test_resume_kill import _finish, _kill_at, _start

from kerasx.datasets import DIGITS_TRAIN_SIZE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EPOCHS = 5
STEPS = math.ceil(math.floor(DIGITS_TRAIN_SIZE * 0.8) / 32)  # Keras's validation_split rule
PEAK = 0.0020000000949949026  # float32(0.002), the optimizer's learning rate

WORKER = r"""
import json, sys
import numpy as np
import keras
import kerasx

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
model.compile(optimizer=keras.optimizers.Adam(0.002),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])

class Rates(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        step = int(optimizer.iterations.numpy())
        rate = float(np.asarray(optimizer.learning_rate))
        with open(out + ".rates", "a") as f:
            f.write(f"{step} {rate!r} ;\n")
    def on_train_batch_end(self, batch, logs=None):
        if batch in (5, 20):
            print(f"B {self.epoch} {batch}", flush=True)
    def on_epoch_end(self, epoch, logs=None):
        print(f"E {epoch}", flush=True)

print("START", flush=True)
history = kerasx.fit(model, x, y, epochs=epochs, batch_size=32, validation_split=0.2,
                     run_dir=run_dir, callbacks=["default", Rates()], progress=False,
                     lr_schedule="onecycle")
np.savez(out, *model.get_weights())
print("DONE " + json.dumps({"resumed": history.resumed_from_epoch, "epoch": history.epoch,
                            "history": history.to_dict()}), flush=True)
"""


def _rates(out: Path) -> list[tuple[int, float]]:
    """The `(step, rate)` lines the worker appended, without a line a kill cut short."""
    pairs = []
    for line in Path(f"{out}.rates").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == ";":
            pairs.append((int(parts[0]), float(parts[1])))
    return pairs


def test_after_sigkills_every_step_has_the_rate_of_an_uninterrupted_run(tmp_path: Path) -> None:
    reference_out = tmp_path / "reference.npz"
    reference_process = _start(tmp_path / "reference", reference_out, worker=WORKER, epochs=EPOCHS)
    run_dir, out = tmp_path / "run", tmp_path / "run.npz"

    _kill_at(_start(run_dir, out, worker=WORKER, epochs=EPOCHS), "B 0 20")  # no state yet
    _kill_at(_start(run_dir, out, worker=WORKER, epochs=EPOCHS), "E 1")  # before its state
    _kill_at(_start(run_dir, out, worker=WORKER, epochs=EPOCHS), "B 3 5")  # after a resume
    result = _finish(_start(run_dir, out, worker=WORKER, epochs=EPOCHS))
    reference = _finish(reference_process)
    assert result["resumed"] >= 2, result["resumed"]

    total = EPOCHS * STEPS
    expected = {step: onecycle(step, total, 0.0, PEAK) for step in range(total)}
    uninterrupted = dict(_rates(reference_out))
    assert sorted(uninterrupted) == list(range(total))
    interrupted = _rates(out)
    assert {step for step, _ in interrupted} == set(range(total))
    assert len(interrupted) > total  # the kills made it train some steps again
    for step, rate in interrupted:
        assert rate == pytest.approx(expected[step], rel=1e-5, abs=PEAK * 1e-6), step
        assert rate == uninterrupted[step], step

    logged = result["history"]["learning_rate"]
    assert logged == reference["history"]["learning_rate"]
    assert logged == pytest.approx(
        [expected.get((e + 1) * STEPS, onecycle(total, total, 0.0, PEAK)) for e in range(EPOCHS)],
        rel=1e-5,
        abs=PEAK * 1e-6,
    )
