"""The resume state of a training run: one file per completed epoch, written atomically.

A state file (`state-epoch-000003.npz` after 3 completed epochs;
`state-epoch-000003-step-000040.npz` when SIGTERM stopped training 40 steps into the fourth
epoch) is a NumPy `.npz` zip that holds everything exact resume needs as one unit: the model's
variables (weights, non-trainable variables and the dropout seed-generator states), the
optimizer's variables (iterations, learning rate, moments), the arrays of stateful callbacks
(early-stopping best weights), for a mid-epoch state the metric accumulators of the epoch so
far, and a JSON document (`meta`) with the epoch count, the history (`history` as Keras's
lists, `history_logs` as each epoch's logs, so that a name logged on some epochs only stays
with its epoch), the learning-rate schedule `kerasx.fit` set (`lr_schedule`), the state of
every stateful callback, the data generator's state and the architecture fingerprint. Because
it is a single file replaced with `os.replace`, a kill at any moment leaves either the previous
state or the new one, never a mix.

Callback state is a protocol: a callback with `get_state()` (a JSON-serialisable dict) and
`set_state(state)` is saved and restored without kerasx knowing its fields. Keras's
`EarlyStopping` has neither, so a built-in adapter reads and writes its counters and best
weights. Format history: `STATE_FORMAT` 1 kept only the `EarlyStopping` counters
(`meta["early_stopping"]`, arrays `early_stopping_<i>`); 2 keeps every stateful callback, in
order (`meta["callbacks"]`: `{"class", "state"}` and, for an adapted one, `"adapter"`; its
arrays `callback_<i>`). Format 1 files are still read. `history_logs` and `lr_schedule` were
added to format 2 later: a state without them reads as one without a schedule, its epochs'
logs rebuilt from the lists.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerasx._atomic import atomic_path
from kerasx.errors import ConfigurationError, CorruptFileError

__all__ = [
    "STATE_FORMAT",
    "LoadedState",
    "RunContext",
    "architecture",
    "assign_variables",
    "callback_states",
    "fingerprint",
    "is_stateful",
    "list_states",
    "paired_states",
    "read_state",
    "restore_callback_states",
    "saved_stop",
    "state_path",
    "stateful_callbacks",
    "write_state",
]

_log = logging.getLogger(__name__)

STATE_FORMAT = 2
"""The version of the `meta` document: 2 saves every stateful callback (1, still read, saved
the `EarlyStopping` counters only)."""
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
    written = meta.get("format", 1)
    if not isinstance(written, int) or written > STATE_FORMAT:
        raise ConfigurationError(
            f"This run state was written by a newer kerasx (state format {written!r}; this "
            f"kerasx reads formats 1 to {STATE_FORMAT}). Received: path={str(path)!r}. "
            "Upgrade kerasx to resume this run, or pass `resume=False` to start over."
        )
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
    """What `kerasx.fit` shares with kerasx's callbacks during one call.

    `Checkpoint`, `HistoryLogger`, `LivePlot` and `kerasx.History` read it when `kerasx.fit`
    drives them; used on their own with `model.fit` they have none (`run` is None).

    Attributes:
        run_dir: the run directory, or None.
        history: the `kerasx.History` being filled.
        seed: the seed of the run, or None.
        epochs: the number of epochs asked for.
        call_epochs: the `epochs` of the `model.fit` call running now: `epochs`, or fewer
            while `kerasx.fit` finishes an epoch that SIGTERM cut short. None means `epochs`.
        terminate_requested: set by the SIGTERM handler.
        epoch_partial: whether the epoch ending now was cut short (then nothing records it).
        stopped_early: whether an `EarlyStopping` ended the run.
        failed: why training failed (a NaN loss), or None.
        fingerprint: `fingerprint(model)`, computed once.
        architecture: `architecture(model)`, computed once.
        lr_schedule: the learning-rate schedule `kerasx.fit` set (`{"name", "warmup"}`), or
            None; the state files record it so that a resume can check it.
    """

    run_dir: Path | None = None
    history: Any = None
    seed: int | None = None
    epochs: int = 0
    call_epochs: int | None = None
    terminate_requested: bool = False
    epoch_partial: bool = False
    stopped_early: bool = False
    failed: str | None = None
    fingerprint: str = ""
    architecture: dict[str, Any] = field(default_factory=dict)
    lr_schedule: dict[str, Any] | None = None

    @property
    def run_ends(self) -> bool:
        """Whether the `model.fit` call ending now ends the run: no SIGTERM, no failure, and
        every epoch trained or stopped early."""
        if self.terminate_requested or self.failed is not None:
            return False
        call_epochs = self.epochs if self.call_epochs is None else self.call_epochs
        return self.stopped_early or call_epochs >= self.epochs


# -- callback state ---------------------------------------------------------------------------

_EARLY_STOPPING = "EarlyStopping"
"""The `adapter` of a saved entry that the built-in `EarlyStopping` adapter wrote."""


def _early_stopping_state(callback: Any) -> tuple[dict[str, Any], list[Any]]:
    best = callback.best
    state = {
        "wait": int(callback.wait),
        "best": None if best is None else float(best),
        "best_epoch": int(callback.best_epoch),
        "stopped_epoch": int(callback.stopped_epoch),
    }
    weights = callback.best_weights
    return state, list(weights) if weights is not None else []


def _set_early_stopping_state(callback: Any, state: dict[str, Any], arrays: list[Any]) -> None:
    callback.wait = state["wait"]
    callback.best = state["best"]
    callback.best_epoch = state["best_epoch"]
    callback.stopped_epoch = state["stopped_epoch"]
    callback.best_weights = list(arrays) if arrays else None


_Getter = Callable[[Any], tuple[dict[str, Any], list[Any]]]
_Setter = Callable[[Any, dict[str, Any], list[Any]], None]


def _adapter(callback: Any) -> tuple[str, _Getter, _Setter] | None:
    """The built-in adapter for a callback without the protocol, or None."""
    if isinstance(callback, keras.callbacks.EarlyStopping):
        return _EARLY_STOPPING, _early_stopping_state, _set_early_stopping_state
    return None


def _has_protocol(callback: Any) -> bool:
    return callable(getattr(callback, "get_state", None)) and callable(
        getattr(callback, "set_state", None)
    )


def is_stateful(callback: Any) -> bool:
    """Whether a resume state holds `callback`'s state: it has `get_state()` and
    `set_state(state)`, or a built-in adapter (Keras's `EarlyStopping`)."""
    return _has_protocol(callback) or _adapter(callback) is not None


def stateful_callbacks(callbacks: Iterable[Any]) -> list[Any]:
    """The stateful callbacks of `callbacks`, in order (see `is_stateful`)."""
    return [callback for callback in callbacks if is_stateful(callback)]


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as Python numbers and lists, for `json.dumps`."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_problem(value: Any, where: str = "state") -> str | None:
    """Why `value` would not come back from JSON as it is, or None when it would.

    NumPy numbers and arrays are accepted (they come back as Python numbers and lists).
    """
    if value is None or isinstance(value, str | bool | int | float | np.generic | np.ndarray):
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has the key {key!r}, which JSON turns into a string"
            problem = _json_problem(item, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    return f"{where} is a {type(value).__name__}, which JSON cannot hold as it is"


def _protocol_state(callback: Any) -> dict[str, Any]:
    state = callback.get_state()
    problem = (
        f"get_state() returned a {type(state).__name__}"
        if not isinstance(state, dict)
        else _json_problem(state)
    )
    if problem is not None:
        raise ConfigurationError(
            "A callback's get_state() must return a dict that JSON holds as it is: string "
            "keys; numbers, strings, booleans, None, lists and dicts (NumPy numbers and arrays "
            f"are accepted and come back as Python numbers and lists). Received: "
            f"{type(callback).__name__}.get_state() -> {state!r}: {problem}. Return lists "
            "instead of tuples and string keys, or rename the methods if the callback is not "
            "meant to be resumed."
        )
    return dict(json.loads(json.dumps(state, default=_plain)))


def callback_states(callbacks: Iterable[Any]) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """The state of each stateful callback, for a state file.

    Args:
        callbacks: callbacks, stateful or not; only the stateful ones are saved, in order.

    Returns:
        `(entries, groups)`: `entries[i]` is `{"class": name, "state": {...}}` for the `i`-th
        stateful callback (plus `"adapter"` when a built-in adapter wrote it), and `groups`
        holds the arrays of adapted callbacks as `"callback_<i>"`.

    Raises:
        ConfigurationError: if a `get_state()` does not return a JSON-serialisable dict.
    """
    entries: list[dict[str, Any]] = []
    groups: dict[str, list] = {}
    for position, callback in enumerate(stateful_callbacks(callbacks)):
        entry: dict[str, Any] = {"class": type(callback).__name__}
        adapter = None if _has_protocol(callback) else _adapter(callback)
        if adapter is None:
            entry["state"] = _protocol_state(callback)
        else:
            entry["adapter"], get_state, _ = adapter
            entry["state"], groups[f"callback_{position}"] = get_state(callback)
        entries.append(entry)
    return entries, groups


def _format_1_pairs(loaded: LoadedState, stateful: list[Any]) -> list[tuple[Any, dict, list]]:
    """Format 1 kept the `EarlyStopping` callbacks only, by their order among themselves."""
    stoppers = [cb for cb in stateful if isinstance(cb, keras.callbacks.EarlyStopping)]
    saved = loaded.meta.get("early_stopping", [])
    return [
        (callback, state, loaded.groups.get(f"early_stopping_{index}", []))
        for index, (callback, state) in enumerate(zip(stoppers, saved))
    ]


def paired_states(loaded: LoadedState, callbacks: Iterable[Any]) -> list[tuple[Any, dict, list]]:
    """Each stateful callback with its saved state and arrays, matched by position and class.

    The `i`-th stateful callback gets the `i`-th saved entry if the class names agree; a
    callback without a matching entry is left as it is, with a warning in the log.

    Returns:
        `(callback, state, arrays)` triples.
    """
    stateful = stateful_callbacks(callbacks)
    entries = loaded.meta.get("callbacks")
    if entries is None:
        return _format_1_pairs(loaded, stateful)
    if not entries:  # written by a Checkpoint that tracked no callbacks: nothing to give
        return []
    pairs = []
    for position, callback in enumerate(stateful):
        name = type(callback).__name__
        entry = entries[position] if position < len(entries) else None
        if entry is None or entry.get("class") != name:
            _log.warning(
                "The run state %s holds no state for stateful callback %d (%s); it holds %s. "
                "That callback starts afresh.",
                loaded.path, position, name, [e.get("class") for e in entries],
            )
            continue
        pairs.append((callback, entry["state"], loaded.groups.get(f"callback_{position}", [])))
    return pairs


def restore_callback_states(loaded: LoadedState, callbacks: Iterable[Any]) -> None:
    """Give each stateful callback of `callbacks` its state from `loaded` (`paired_states`)."""
    for callback, state, arrays in paired_states(loaded, callbacks):
        adapter = None if _has_protocol(callback) else _adapter(callback)
        if adapter is None:
            callback.set_state(state)
        else:
            adapter[2](callback, state, arrays)


def saved_stop(meta: Mapping[str, Any]) -> bool:
    """Whether the state `meta` is of a run that an `EarlyStopping` ended."""
    if meta.get("stopped_early"):
        return True
    entries = meta.get("callbacks")
    if entries is None:  # format 1
        entries = [{"adapter": _EARLY_STOPPING, "state": s} for s in meta.get("early_stopping", [])]
    return any(
        entry.get("adapter") == _EARLY_STOPPING and entry["state"].get("stopped_epoch", 0) > 0
        for entry in entries
    )
