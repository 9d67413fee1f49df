"""`Checkpoint`: the best model and the exact-resume state, written atomically."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras

from kerasx._version import __version__
from kerasx.callbacks._run_state import (
    STATE_FORMAT,
    LoadedState,
    RunContext,
    architecture,
    callback_states,
    fingerprint,
    list_states,
    read_state,
    restore_callback_states,
    state_path,
    write_state,
)
from kerasx.errors import ConfigurationError, CorruptFileError

__all__ = ["Checkpoint", "infer_mode"]

_log = logging.getLogger(__name__)

_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "iou", "r2")


def infer_mode(monitor: str) -> str:
    """`"max"` for metrics where higher is better (accuracy, AUC, ...), else `"min"`."""
    name = monitor.lower()
    if "loss" in name or "error" in name:
        return "min"
    return "max" if any(hint in name for hint in _MAX_HINTS) else "min"


class Checkpoint(keras.callbacks.Callback):
    """Save the best model and, after every epoch, the state exact resume needs.

    Files in `directory`:

    - `best.keras`: the whole model at its best `monitor` value so far, written atomically
      with `kerasx.io.save`. Load it with `kerasx.load`.
    - `state-epoch-NNNNNN.npz`: after each epoch, one file holding the model's variables
      (including dropout seed-generator states), the optimizer's variables (iterations,
      learning rate, moments), the state of the tracked callbacks (early-stopping counters
      and best weights included), the history, the data generator's position and the
      architecture fingerprint. It is written as a single atomic file, so a kill at any
      moment leaves either the previous state or the new one.
    - `state-epoch-NNNNNN-step-SSSSSS.npz`: the same, written by `kerasx.fit` when SIGTERM
      stops training in the middle of an epoch, plus the epoch's metric accumulators.

    `kerasx.fit` resumes from the newest state file. Used on its own with `model.fit`, the
    callback writes the same files; resume them with `kerasx.fit(..., run_dir=...)`.

    Callback state: `kerasx.fit` hands its callbacks to `track`. Every tracked callback that has
    `get_state()` and `set_state(state)` is saved in each state file, and on resume `set_state`
    receives what `get_state` returned, at the start of training (after every callback's
    `on_train_begin`, as `kerasx.fit` puts the checkpoint last). Keras's `EarlyStopping` has a
    built-in adapter (its `wait`, `best`, `best_epoch`, `stopped_epoch` and best weights). A
    saved state belongs to a callback by its position among the stateful callbacks of the list
    and its class name: the third stateful callback gets the third saved state if both have the
    same class name, and starts afresh (with a warning in the log) otherwise. Keep the order of
    stateful callbacks the same between a run and its resume. `get_state()` must return a dict
    that JSON holds as it is (string keys; numbers, strings, booleans, None, lists and dicts;
    NumPy numbers and arrays come back as Python numbers and lists). The states are checked
    when training begins, so a callback that cannot be saved stops the run with a
    `ConfigurationError` before its first epoch, not after it.

    Args:
        directory: folder for the files; created if needed.
        monitor: the logged quantity that decides "best". Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"` (max for accuracy-like names, else min).
            Defaults to `"auto"`.
        save_best: write `best.keras` when `monitor` improves. Defaults to `True`.
        save_last: write the resume state after every epoch. Defaults to `True`.
        keep: how many of the newest state files to keep (older ones are removed).
            Defaults to `1`.

    Raises:
        ConfigurationError: for an unknown `mode`, a `keep` below 1, or, at the end of an epoch,
            a `monitor` that is not in the logs or a tracked `get_state()` that does not
            return a JSON-serialisable dict.

    Example:

    ```python
    class Counter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

        def get_state(self):
            return {"batches": self.batches}

        def set_state(self, state):
            self.batches = state["batches"]

    # Saved in every state file of run/checkpoints, restored when the run resumes:
    kerasx.fit(model, x, y, epochs=10, run_dir="run", callbacks=["default", Counter()])

    # On its own with model.fit (resume the files with kerasx.fit):
    checkpoint = kerasx.callbacks.Checkpoint("run/checkpoints", monitor="loss")
    model.fit(x, y, epochs=2, callbacks=[checkpoint])
    ```
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best: bool = True,
        save_last: bool = True,
        keep: int = 1,
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ConfigurationError(
                f'Checkpoint `mode` must be "auto", "min" or "max". Received: mode={mode!r}.'
            )
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ConfigurationError(
                "Checkpoint `keep` must be an integer of at least 1 (the newest state is always "
                f"kept). Received: keep={keep!r}."
            )
        self.directory = Path(directory)
        self.monitor = monitor
        self.mode = infer_mode(monitor) if mode == "auto" else mode
        self.save_best = save_best
        self.save_last = save_last
        self.keep = keep
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.run: RunContext | None = None
        self._completed = 0
        self._history: dict[str, list[float]] = {}
        self._tracked: list[Any] = []
        self._data: Any = None
        self._resume: LoadedState | None = None

    @property
    def best_path(self) -> Path:
        """Path of the best model, `directory / "best.keras"`."""
        return self.directory / "best.keras"

    def track(self, callbacks: Iterable[Any] = (), *, data: Any = None) -> None:
        """Choose whose state the state files hold besides the model's.

        Replaces what an earlier call chose. `kerasx.fit` calls it with its callback list and
        its training data.

        Args:
            callbacks: callbacks, stateful or not; the stateful ones (see the class
                docstring) are saved, in this order. Defaults to `()`.
            data: the training data when it has `get_state()` and `set_state(state)`, such
                as a `kerasx.data.DataGenerator` (its seed and epoch), else `None`.
                Defaults to `None`.
        """
        self._tracked = [callback for callback in callbacks if callback is not self]
        self._data = data

    def resume_from(self, state: LoadedState) -> None:
        """Continue the run of `state` at the start of the next training.

        At `on_train_begin` the checkpoint takes its best value (if it monitors the same
        quantity) and epoch count from `state`, and gives the tracked callbacks and data
        their saved states. The model's own variables are not touched: `kerasx.fit`
        restores them before training.

        Args:
            state: a state read by `latest_state`.
        """
        self._resume = state

    def latest_state(self, *, mid_epoch: bool = True) -> LoadedState | None:
        """The newest readable state in `directory`, or None when there is none.

        A state file that cannot be read (a disk error; kerasx's own writes are atomic) is
        skipped with a warning in favour of the next older one.

        Args:
            mid_epoch: also consider states SIGTERM wrote in the middle of an epoch.
                Defaults to `True`.

        Returns:
            The state read back, or None.

        Raises:
            CorruptFileError: if state files exist but none of them can be read.
        """
        states = [s for s in list_states(self.directory) if mid_epoch or s[1] == 0]
        first_error: CorruptFileError | None = None
        for _epoch, _step, path in reversed(states):
            try:
                loaded = read_state(path)
            except CorruptFileError as error:
                _log.warning("Skipping an unreadable run state: %s", error)
                first_error = first_error or error
                continue
            if first_error is not None:
                _log.warning("Resuming from the older state %s instead.", path)
            return loaded
        if first_error is not None:
            raise first_error
        return None

    def clear_states(self) -> None:
        """Remove every state file (for a run started over with `resume=False`)."""
        for _epoch, _step, path in list_states(self.directory):
            path.unlink(missing_ok=True)

    def save_mid_epoch(self, steps: int) -> None:
        """Write the state after `steps` steps of the current epoch (SIGTERM; see `kerasx.fit`).

        Adds the epoch's metric accumulators, so the resumed epoch logs what an uninterrupted
        one would. Older states are kept until the next epoch ends.

        Args:
            steps: the steps of the current epoch trained so far.
        """
        if self.save_last:
            self._save_state(self._completed, finished=False, step=steps)

    # -- Keras hooks -------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        callback_states(self._tracked)  # refuse a state that cannot be saved, before training
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._resume is not None:
            resumed, self._resume = self._resume, None
            self._restore(resumed)
        elif self.run is None:
            loaded = self.latest_state()
            if loaded is not None:
                saved = loaded.meta.get("checkpoint", {})
                self.best, self.best_epoch = saved.get("best"), saved.get("best_epoch")
                self._history = dict(loaded.meta.get("history", {}))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None and self.run.epoch_partial:
            return
        logs = logs or {}
        if self.run is None:  # standalone: keep our own copy, Keras's History comes after us
            for key, value in logs.items():
                self._history.setdefault(key, []).append(float(value))
        current = logs.get(self.monitor)
        if current is None:
            self._check_monitor_missing(logs)
        elif self._improved(float(current)):
            self.best, self.best_epoch = float(current), epoch
            if self.save_best:
                self._save_best_model()
        self._completed = epoch + 1
        if self.save_last:
            self._save_state(self._completed, finished=False)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.run is None or not self.run.run_ends:
            # Standalone (`model.fit`): the last epoch's state is already written. Under
            # kerasx.fit: SIGTERM, a failure, or the end of a cut-short epoch with more to train.
            return
        if not self.save_last or self._completed == 0:
            return
        # The final state: after EarlyStopping may have restored the best weights.
        self._save_state(self._completed, finished=True)

    # -- helpers -----------------------------------------------------------------------------

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _check_monitor_missing(self, logs: dict[str, Any]) -> None:
        validation_skipped = self.monitor.startswith("val_") and not any(
            key.startswith("val_") for key in logs
        )
        if validation_skipped and self._completed > 0:
            return  # `validation_freq` > 1: validation did not run this epoch.
        raise ConfigurationError(
            f"Checkpoint monitors {self.monitor!r}, which is not in the logs. Available: "
            f"{sorted(logs)}. Received: monitor={self.monitor!r}. Pass one of the available "
            "names as `monitor` (for `val_...` names, give `validation_data` or "
            "`validation_split`)."
        )

    def _save_best_model(self) -> None:
        from kerasx.io import save

        save(self.model, self.best_path)

    def _save_state(self, completed: int, *, finished: bool, step: int = 0) -> None:
        model = self.model
        meta = self._meta(completed, finished=finished, step=step)
        entries, callback_groups = callback_states(self._tracked)
        meta["callbacks"] = entries
        meta["generator"] = self._data.get_state() if self._data is not None else None
        groups: dict[str, list[Any]] = {
            "model": [v.numpy() for v in model.variables],
            "optimizer": [v.numpy() for v in model.optimizer.variables],
            **callback_groups,
        }
        if step:
            groups["metrics"] = [v.numpy() for v in model.metrics_variables]
        write_state(state_path(self.directory, completed, step), meta, groups)
        if not step:
            self._remove_old_states()

    def _meta(self, completed: int, *, finished: bool, step: int) -> dict[str, Any]:
        """The JSON document of a state file, without the tracked callbacks and data."""
        run = self.run
        meta: dict[str, Any] = {
            "format": STATE_FORMAT,
            "kerasx_version": __version__,
            "epoch": completed,
            "step": step,
            "finished": finished,
            "fingerprint": run.fingerprint if run is not None else fingerprint(self.model),
            "architecture": run.architecture if run is not None else architecture(self.model),
            "checkpoint": {
                "monitor": self.monitor,
                "mode": self.mode,
                "best": self.best,
                "best_epoch": self.best_epoch,
            },
        }
        if run is None:
            meta["history"] = {key: list(values) for key, values in self._history.items()}
            return meta
        history = run.history
        meta["epochs_requested"] = run.epochs
        meta["stopped_early"] = run.stopped_early
        meta["seed"] = run.seed
        meta["history"] = history.to_dict() if history is not None else {}
        meta["history_epochs"] = list(history.epoch) if history is not None else []
        rows = getattr(history, "epoch_logs", None)
        if rows is not None:  # each epoch's logs, sparse names included (kerasx.History)
            meta["history_logs"] = [rows.get(epoch, {}) for epoch in meta["history_epochs"]]
        meta["lr_schedule"] = run.lr_schedule
        return meta

    def _remove_old_states(self) -> None:
        states = list_states(self.directory)
        for _epoch, _step, path in states[: max(0, len(states) - self.keep)]:
            path.unlink(missing_ok=True)

    def _restore(self, loaded: LoadedState) -> None:
        saved = loaded.meta.get("checkpoint", {})
        if saved.get("monitor") == self.monitor:
            self.best, self.best_epoch = saved.get("best"), saved.get("best_epoch")
        self._completed = int(loaded.meta["epoch"])
        restore_callback_states(loaded, self._tracked)
        if self._data is not None and loaded.meta.get("generator") is not None:
            self._data.set_state(loaded.meta["generator"])
