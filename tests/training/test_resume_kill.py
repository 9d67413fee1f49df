"""Exact resume for real: SIGKILL and SIGTERM a training subprocess, restart it, compare.

A worker script trains a small dropout MLP on the digits with `kerasx.fit(..., run_dir=...)`
under `seed_everything(7, deterministic=True)` and prints markers (`B epoch batch`, `E epoch`)
that tell the test where training is. The test kills it at varied points, restarts it, and
checks the final weights and history against an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EPOCHS = 6

WORKER = r"""
import json, os, signal, sys
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
schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 20, 0.9)
model.compile(optimizer=keras.optimizers.Adam(schedule),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])

class Markers(keras.callbacks.Callback):
    epoch = None
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, batch, logs=None):
        if batch in (5, 20):
            print(f"B {self.epoch} {batch}", flush=True)
        if os.environ.get("KX_SIGTERM_AT") == f"{self.epoch} {batch}":
            os.kill(os.getpid(), signal.SIGTERM)  # a real SIGTERM, at a known batch
    def on_epoch_end(self, epoch, logs=None):
        print(f"E {epoch}", flush=True)

markers = Markers()
if os.environ.get("KX_KILL_IN_WRITE"):
    # Die inside kerasx's atomic write of a checkpoint file at the end of the named epoch: the
    # temporary file is complete, the rename has not happened. (Only this worker is patched.)
    replace, target = os.replace, int(os.environ["KX_KILL_IN_WRITE"])
    def dying_replace(source, destination):
        folder, name = os.path.split(os.fspath(source))
        in_checkpoints = os.path.basename(folder) == "checkpoints"
        if name.startswith(".kerasx-tmp-") and in_checkpoints and markers.epoch == target:
            print("KILLED IN WRITE " + os.path.basename(os.fspath(destination)), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return replace(source, destination)
    os.replace = dying_replace

print("START", flush=True)
history = kerasx.fit(model, x, y, epochs=epochs, batch_size=32, validation_split=0.2,
                     run_dir=run_dir, callbacks=["default", markers], progress=False,
                     patience=50)
np.savez(out, *model.get_weights())
print("DONE " + json.dumps({"resumed": history.resumed_from_epoch, "epoch": history.epoch,
                            "history": history.to_dict()}), flush=True)
"""


def _start(
    run_dir: Path, out: Path, *, worker: str = WORKER, epochs: int = EPOCHS, **env_vars: str
) -> subprocess.Popen:
    """Start `worker` (a script taking `run_dir epochs out`) in a new Python process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env_vars)
    return subprocess.Popen(
        [sys.executable, "-c", worker, str(run_dir), str(epochs), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _finish(process: subprocess.Popen) -> dict:
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 0, output
    done = [line for line in output.splitlines() if line.startswith("DONE ")]
    assert done, output
    return json.loads(done[0][5:])


def _kill_at(process: subprocess.Popen, marker: str, delay: float = 0.0) -> list[str]:
    """Read markers until `marker`, then SIGKILL after `delay` seconds; return lines seen."""
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line.strip())
        if line.strip() == marker:
            if delay:
                time.sleep(delay)
            _kill(process)
            return seen
    _kill(process)
    raise AssertionError(f"the worker ended before printing {marker!r}: {seen}")


def _killed_in_write(process: subprocess.Popen, folder: Path) -> list[str]:
    """Wait for a worker started with KX_KILL_IN_WRITE to die; the temporaries it left."""
    output, _ = process.communicate(timeout=400)
    assert process.returncode == -signal.SIGKILL, output
    assert "KILLED IN WRITE" in output, output
    return [name for name in os.listdir(folder) if name.startswith(".kerasx-tmp-")]


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.stdout is not None
    process.stdout.close()


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def _assert_same_run(result: dict, reference: dict, out: Path, reference_out: Path) -> None:
    assert result["epoch"] == list(range(EPOCHS))
    assert result["history"].keys() == reference["history"].keys()
    for key, values in reference["history"].items():
        np.testing.assert_allclose(result["history"][key], values, atol=1e-6)
    ours, theirs = _weights(out), _weights(reference_out)
    assert len(ours) == len(theirs)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs)) <= 1e-6


def _history_file_epochs(run_dir: Path) -> list[int]:
    lines = (run_dir / "history.csv").read_text().splitlines()
    return [int(line.split(",")[0]) for line in lines[1:]]


def test_sigkill_at_five_points_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    reference_process = _start(tmp_path / "reference", tmp_path / "reference.npz")
    run_dir, out = tmp_path / "run", tmp_path / "run.npz"

    # 1. mid-epoch, before any state exists
    _kill_at(_start(run_dir, out), "B 0 20")
    # 2. right at the end of epoch 1, before its state is written
    _kill_at(_start(run_dir, out), "E 1")
    # 3. inside a checkpoint file's atomic write, before its rename (temporary file present)
    checkpoints = run_dir / "checkpoints"
    left_behind = _killed_in_write(_start(run_dir, out, KX_KILL_IN_WRITE="2"), checkpoints)
    # 4. a little after an epoch end: during validation logs, the best model or state write
    _kill_at(_start(run_dir, out), "E 3", delay=0.02)
    # 5. mid-epoch after a resume
    _kill_at(_start(run_dir, out), "B 4 5")

    result = _finish(_start(run_dir, out))
    reference = _finish(reference_process)

    assert result["resumed"] >= 3, result["resumed"]
    _assert_same_run(result, reference, out, tmp_path / "reference.npz")
    assert _history_file_epochs(run_dir) == list(range(EPOCHS))
    assert (checkpoints / "best.keras").exists()
    # A kill leaves temporaries behind; the next successful write removes them.
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".kerasx-tmp-")]
    assert [p.name for p in checkpoints.glob("state-epoch-*.npz")] == [
        f"state-epoch-{EPOCHS:06d}.npz"
    ]
    assert left_behind, "the kill inside a checkpoint write left no temporary file"

    # A finished run called again returns its history without training.
    again = _finish(_start(run_dir, out))
    assert again["resumed"] == EPOCHS
    _assert_same_run(again, reference, out, tmp_path / "reference.npz")


def test_sigterm_stops_at_a_batch_boundary_and_resume_is_exact(tmp_path: Path) -> None:
    reference_process = _start(tmp_path / "reference", tmp_path / "reference.npz")
    run_dir, out = tmp_path / "run", tmp_path / "run.npz"
    # The worker sends itself SIGTERM at the end of epoch 2's batch 5: a real signal, at a
    # known point, however busy the machine is.
    process = _start(run_dir, out, KX_SIGTERM_AT="2 5")
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 143, output
    assert "B 2 5" in output and "E 2" in output  # Keras ends the cut-short epoch
    assert "B 2 20" not in output and "DONE" not in output  # ... at the next batch boundary
    # The state at the first batch boundary after the signal (batch 5 had ended when it was
    # sent, so at least 6 steps of epoch 2 are in it), next to the state of epoch 2's start.
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("state-*.npz"))
    assert len(names) == 2 and names[1] == "state-epoch-000002.npz", names
    assert names[0].startswith("state-epoch-000002-step-"), names
    assert 6 <= int(names[0][len("state-epoch-000002-step-") : -len(".npz")]) <= 7, names
    assert _history_file_epochs(run_dir) == [0, 1]

    result = _finish(_start(run_dir, out))
    assert result["resumed"] == 2
    _assert_same_run(result, _finish(reference_process), out, tmp_path / "reference.npz")
