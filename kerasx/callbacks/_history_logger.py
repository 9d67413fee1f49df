"""`HistoryLogger`: the per-epoch logs as CSV and JSON, appended across resumed runs."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import keras

from kerasx.callbacks._run_state import RunContext
from kerasx.errors import ConfigurationError
from kerasx.io import load_history, save_history

__all__ = ["HistoryLogger"]


def _columns(rows: dict[int, dict[str, float]]) -> dict[str, list[Any]]:
    """Rows keyed by epoch -> `{"epoch": [...], "loss": [...], ...}` (missing values NaN)."""
    epochs = sorted(rows)
    keys: list[str] = []
    for epoch in epochs:
        keys.extend(key for key in rows[epoch] if key not in keys)
    data: dict[str, list[Any]] = {"epoch": epochs}
    for key in keys:
        data[key] = [rows[epoch].get(key, math.nan) for epoch in epochs]
    return data


class HistoryLogger(keras.callbacks.Callback):
    """Write the logs of every epoch to a CSV file and a JSON file, rewritten atomically.

    `HistoryLogger("run/history.csv")` writes `run/history.csv` (header `epoch,loss,...`) and
    `run/history.json` (`{"loss": [...], ...}`); giving the `.json` path does the same. Rows are
    keyed by epoch, so each epoch appears exactly once: a resumed run appends to the files of
    the interrupted one, and an epoch that is trained again after a kill replaces its row.

    Both files have the format of `kerasx.io.save_history` (`"epoch"` included), which
    `kerasx.io.load_history` and `kerasx.viz.plot_history` read.

    Args:
        path: the `.csv` or `.json` file; the other format goes next to it.

    Raises:
        ConfigurationError: if `path` does not end in `.csv` or `.json`.
        CorruptFileError: at the start of training, if an existing JSON log cannot be read.

    Example:

    ```python
    model.fit(x, y, epochs=3, callbacks=[kerasx.callbacks.HistoryLogger("run/history.csv")])
    kerasx.viz.plot_history("run/history.json")
    ```
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        path = Path(path)
        if path.suffix not in (".csv", ".json"):
            raise ConfigurationError(
                'HistoryLogger `path` must end in ".csv" or ".json" (both files are written). '
                f"Received: path={str(path)!r}. Use for example `run_dir / 'history.csv'`."
            )
        self.csv_path = path.with_suffix(".csv")
        self.json_path = path.with_suffix(".json")
        self.rows: dict[int, dict[str, float]] = {}
        self.run: RunContext | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.rows = self._read_existing()
        if self.run is not None:
            # Keep exactly the epochs of the state being resumed (none for a fresh run).
            history = self.run.history
            completed = len(history.epoch) if history is not None else 0
            self.rows = {epoch: row for epoch, row in self.rows.items() if epoch < completed}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None and self.run.epoch_partial:
            return
        self.rows = {e: row for e, row in self.rows.items() if e < epoch}
        self.rows[epoch] = {key: float(value) for key, value in (logs or {}).items()}
        data = _columns(self.rows)
        save_history(data, self.csv_path)
        save_history(data, self.json_path)

    def _read_existing(self) -> dict[int, dict[str, float]]:
        """The rows of an earlier (interrupted) run's JSON log, keyed by epoch."""
        if not self.json_path.exists():
            return {}
        data = load_history(self.json_path)
        metrics = {key: values for key, values in data.items() if key != "epoch"}
        length = max((len(values) for values in metrics.values()), default=0)
        epochs = [int(e) for e in data.get("epoch", range(length))]
        rows: dict[int, dict[str, float]] = {}
        for index, epoch in enumerate(epochs):
            rows[epoch] = {
                key: float(values[index])
                for key, values in metrics.items()
                if index < len(values) and not math.isnan(values[index])
            }
        return rows
