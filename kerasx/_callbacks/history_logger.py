"""`HistoryLogger`: the per-epoch logs as CSV and JSON, appended across resumed runs."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import keras

from kerasx._atomic import atomic_write_text
from kerasx._run_state import RunContext
from kerasx.errors import ConfigurationError, CorruptFileError

__all__ = ["HistoryLogger", "history_csv", "history_json"]


def history_json(rows: dict[int, dict[str, float]]) -> str:
    """`{"loss": [...], ...}` for the rows in epoch order (keys missing in a row are null)."""
    keys = _keys(rows)
    data: dict[str, list[float | None]] = {key: [] for key in keys}
    for epoch in sorted(rows):
        for key in keys:
            value = rows[epoch].get(key)
            data[key].append(None if value is None or math.isnan(value) else value)
    return json.dumps(data, indent=2) + "\n"


def history_csv(rows: dict[int, dict[str, float]]) -> str:
    """CSV with header `epoch,loss,...`, one row per epoch (epochs count from 0)."""
    keys = _keys(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in sorted(rows):
        writer.writerow([epoch, *(_cell(rows[epoch].get(key)) for key in keys)])
    return buffer.getvalue()


def _keys(rows: dict[int, dict[str, float]]) -> list[str]:
    keys: list[str] = []
    for epoch in sorted(rows):
        for key in rows[epoch]:
            if key not in keys:
                keys.append(key)
    return keys


def _cell(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class HistoryLogger(keras.callbacks.Callback):
    """Write the logs of every epoch to a CSV file and a JSON file, rewritten atomically.

    `HistoryLogger("run/history.csv")` writes `run/history.csv` (header `epoch,loss,...`) and
    `run/history.json` (`{"loss": [...], ...}`); giving the `.json` path does the same. Rows are
    keyed by epoch, so each epoch appears exactly once: a resumed run appends to the files of
    the interrupted one, and an epoch that is trained again after a kill replaces its row.

    Args:
        path: the `.csv` or `.json` file; the other format goes next to it.

    Raises:
        ConfigurationError: if `path` does not end in `.csv` or `.json`.
        CorruptFileError: at the start of training, if an existing JSON log cannot be read.
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
        atomic_write_text(self.csv_path, history_csv(self.rows))
        atomic_write_text(self.json_path, history_json(self.rows))

    def _read_existing(self) -> dict[int, dict[str, float]]:
        if not self.json_path.exists():
            return {}
        try:
            data = json.loads(self.json_path.read_text(encoding="utf-8"))
            length = max((len(values) for values in data.values()), default=0)
            rows: dict[int, dict[str, float]] = {}
            for epoch in range(length):
                rows[epoch] = {
                    key: float(values[epoch])
                    for key, values in data.items()
                    if epoch < len(values) and values[epoch] is not None
                }
        except (ValueError, TypeError, AttributeError) as error:
            raise CorruptFileError(
                "The existing history log is not a JSON object of lists. "
                f"Received: path={str(self.json_path)!r} ({error}). Delete or move it, or log "
                "to another path."
            ) from error
        return rows
