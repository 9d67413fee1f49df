"""The resume state of a training run: one file per completed epoch, written atomically.

A state file (`state-epoch-000003.npz` after 3 completed epochs;
`state-epoch-000003-step-000040.npz` when SIGTERM stopped training 40 steps into the fourth
epoch) is a NumPy `.npz` zip that holds
everything exact resume needs as one unit: the model's variables (weights, non-trainable
variables and the dropout seed-generator states), the optimizer's variables (iterations,
learning rate, moments), early-stopping best weights, for a mid-epoch state the metric
accumulators of the epoch so far, and a JSON document (`meta`) with the
epoch count, the history, callback counters, the data generator's state and the architecture
fingerprint. Because it is a single file replaced with `os.replace`, a kill at any moment leaves
either the previous state or the new one, never a mix.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kerasx._atomic import atomic_path
from kerasx.errors import ConfigurationError, CorruptFileError

__all__ = [
    "STATE_FORMAT",
    "LoadedState",
    "RunContext",
    "architecture",
    "assign_variables",
    "fingerprint",
    "list_states",
    "read_state",
    "state_path",
    "write_state",
]

STATE_FORMAT = 1
_STATE_NAME = re.compile(r"^state-epoch-(\d{6})(?:-step-(\d{6}))?\.npz$")


def state_path(directory: str | os.PathLike[str], epoch: int, step: int = 0) -> Path:
    """The state file for `epoch` completed epochs (and `step` steps of the next) in `directory`."""
    suffix = f"-step-{step:06d}" if step else ""
    return Path(directory) / f"state-epoch-{epoch:06d}{suffix}.npz"


def list_states(directory: str | os.PathLike[str]) -> list[tuple[int, int, Path]]:
    """`(completed_epochs, steps_into_next_epoch, path)` of every state file, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _STATE_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2) or 0), path))
    return sorted(found)


def architecture(model: Any) -> dict[str, Any]:
    """What must match for a state to fit `model`: layer classes and variable shapes/dtypes.

    Layer and variable *names* are left out on purpose: Keras numbers them per session
    (`dense_1`), so the same script can produce different names in two processes.
    """
    layers = [type(layer).__name__ for layer in getattr(model, "layers", [])]
    variables = [[list(v.shape), str(v.dtype)] for v in model.variables]
    return {"model": type(model).__name__, "layers": layers, "variables": variables}


def fingerprint(model: Any) -> str:
    """A short digest of `architecture(model)`."""
    text = json.dumps(architecture(model), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class LoadedState:
    """A state file read back: its JSON `meta` and its named array groups."""

    path: Path
    meta: dict[str, Any]
    groups: dict[str, list[np.ndarray]] = field(default_factory=dict)


def write_state(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    groups: Mapping[str, Sequence[Any]],
) -> None:
    """Write one state file atomically.

    Args:
        path: the target `.npz` path.
        meta: a JSON-serialisable document.
        groups: named lists of arrays (`"model"`, `"optimizer"`, ...).
    """
    arrays: dict[str, np.ndarray] = {}
    counts = {}
    for name, values in groups.items():
        counts[name] = len(values)
        for index, value in enumerate(values):
            arrays[f"{name}/{index}"] = np.asarray(value)
    document = dict(meta, groups=counts)
    arrays["meta"] = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        f.write(buffer.getbuffer())


def read_state(path: str | os.PathLike[str]) -> LoadedState:
    """Read a state file written by `write_state`.

    Raises:
        CorruptFileError: if the file is not a readable state file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            groups = {
                name: [data[f"{name}/{index}"] for index in range(count)]
                for name, count in meta["groups"].items()
            }
    except Exception as error:
        raise CorruptFileError(
            "A kerasx run state file could not be read. "
            f"Received: path={str(path)!r} ({type(error).__name__}: {error}). "
            "Delete it to resume from the previous state, or pass `resume=False` to start over."
        ) from error
    return LoadedState(path, meta, groups)


def assign_variables(variables: Sequence[Any], values: Sequence[np.ndarray], what: str) -> None:
    """Assign saved `values` to `variables`, checking count and shapes first.

    Raises:
        ConfigurationError: if the saved values do not fit the variables.
    """
    if len(variables) != len(values):
        raise ConfigurationError(
            f"The run state holds {len(values)} {what} variables but the model has "
            f"{len(variables)}. Received: a run directory written by a different model. Use a "
            "new `run_dir` or pass `resume=False`."
        )
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != tuple(value.shape):
            raise ConfigurationError(
                f"A saved {what} variable has shape {tuple(value.shape)} but the model's "
                f"{variable.path!r} has {tuple(variable.shape)}. Received: a run directory "
                "written by a different model. Use a new `run_dir` or pass `resume=False`."
            )
    for variable, value in zip(variables, values):
        variable.assign(value)


@dataclass
class RunContext:
    """What `kerasx.fit` shares with its callbacks during one call.

    Attributes:
        run_dir: the run directory, or None.
        history: the `kerasx.History` being filled.
        early_stopping: the `EarlyStopping` callbacks whose counters are saved.
        generator: the training input if it has `get_state`/`set_state`, else None.
        seed: the seed of the run, or None.
        epochs: the number of epochs asked for.
        loaded: the state resumed from, or None.
        terminate_requested: set by the SIGTERM handler.
        epoch_partial: whether the epoch ending now was cut short (then nothing records it).
        mid_epoch: whether the training input can skip the first steps of an epoch, so that
            SIGTERM may save a mid-epoch state (see `kerasx.fit`).
        step_offset: steps of the current epoch trained before this call (resuming a
            mid-epoch state), else 0.
        saved_mid_epoch: the steps of the mid-epoch state SIGTERM saved, else 0.
        threads: whether `fit` feeds `generator` through its `_threaded_dataset()`.
        checkpoints: the `Checkpoint` callbacks that write mid-epoch states.
        stopped_early: whether an `EarlyStopping` ended the run.
        failed: why training failed (a NaN loss), or None.
    """

    run_dir: Path | None = None
    history: Any = None
    early_stopping: list[Any] = field(default_factory=list)
    generator: Any = None
    seed: int | None = None
    epochs: int = 0
    loaded: LoadedState | None = None
    terminate_requested: bool = False
    epoch_partial: bool = False
    mid_epoch: bool = False
    step_offset: int = 0
    saved_mid_epoch: int = 0
    threads: bool = False
    checkpoints: list[Any] = field(default_factory=list)
    stopped_early: bool = False
    failed: str | None = None
    fingerprint: str = ""
    architecture: dict[str, Any] = field(default_factory=dict)
