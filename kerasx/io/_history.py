"""Training histories as JSON or CSV, in the formats kerasx's other modules read and write.

- JSON: `{"loss": [v1, v2, ...], "val_loss": [...], ..., "epoch": [0, 1, ...]}` (`epoch`
  optional).
- CSV: header `epoch,loss,...`, one row per epoch, as `keras.callbacks.CSVLogger` writes it
  (`NA` or an empty cell for a missing value).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_write_text
from kerasx.errors import ConfigurationError, CorruptFileError, DataError
from kerasx.io._files import read_private_copy

__all__ = ["load_history", "save_history"]

_SUFFIXES = "`.json` or `.csv`"


def _as_dict(history: Any) -> dict[str, list[Any]]:
    if isinstance(history, Mapping):
        source: Mapping[str, Any] = history
        epochs = None
    elif isinstance(getattr(history, "history", None), Mapping):
        source = history.history
        epochs = getattr(history, "epoch", None)
    else:
        raise DataError(
            "`save_history` takes a keras History, a kerasx History or a dict of lists. "
            f"Received: history of type {type(history).__name__}. "
            "Pass the object `model.fit` returned, or its `.history` dict."
        )
    result: dict[str, list[Any]] = {}
    for key, values in source.items():
        try:
            result[str(key)] = [_number(value) for value in values]
        except (TypeError, ValueError) as error:
            raise DataError(
                f"History values must be lists of numbers. Received: {key!r}={values!r}. "
                "Pass one number per epoch for each metric."
            ) from error
    lengths = {len(v) for k, v in result.items() if k != "epoch"}
    if len(lengths) > 1:
        raise DataError(
            f"Every metric must have one value per epoch. Received lengths "
            f"{ {k: len(v) for k, v in result.items()} }. Pass a history from one run."
        )
    if "epoch" not in result and isinstance(epochs, list) and lengths == {len(epochs)}:
        result["epoch"] = [int(e) for e in epochs]
    return result


def _number(value: Any) -> float | int:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = float(value)
    return value


def _history_suffix(path: Path, fix: str) -> str:
    """`.json` or `.csv` (lower case), else a `ConfigurationError` ending with `fix`."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ConfigurationError(
            f"A history file must end in {_SUFFIXES}. Received: path={str(path)!r}. {fix}"
        )
    return suffix


def save_history(history: Any, path: str | os.PathLike[str]) -> Path:
    """Write a training history atomically as JSON or CSV (by suffix).

    Args:
        history: a `keras.callbacks.History`, a kerasx `History`, or a dict of lists.
        path: a file ending in `.json` or `.csv`.

    Returns:
        The path written, as a `Path`.

    Raises:
        ConfigurationError: `path` ends in another suffix.
        DataError: `history` is not a history or its values are not numbers.

    Example:

    >>> import kerasx.io, os, tempfile
    >>> history = {"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}
    >>> path = kerasx.io.save_history(history, os.path.join(tempfile.mkdtemp(), "history.csv"))
    >>> print(path.read_text(), end="")
    epoch,loss,val_loss
    0,0.9,1.0
    1,0.5,0.7
    """
    path = Path(path)
    suffix = _history_suffix(path, "Use `history.json` or `history.csv`.")
    data = _as_dict(history)
    if suffix == ".json":
        atomic_write_text(path, json.dumps(_json_safe(data), indent=2) + "\n")
        return path
    metrics = sorted(key for key in data if key != "epoch")
    count = max((len(data[key]) for key in metrics), default=0)
    epochs = data.get("epoch") or list(range(count))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *metrics])
    for row in range(count):
        cells: list[Any] = [int(epochs[row]) if row < len(epochs) else row]
        for key in metrics:
            value = data[key][row] if row < len(data[key]) else None
            cells.append("NA" if value is None or _is_nan(value) else value)
        writer.writerow(cells)
    atomic_write_text(path, buffer.getvalue())
    return path


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _json_safe(data: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """JSON has no NaN: write None (null) instead."""
    return {key: [None if _is_nan(v) else v for v in values] for key, values in data.items()}


def load_history(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """Read a history written by `save_history`, `HistoryLogger` or Keras's `CSVLogger`.

    Args:
        path: a `.json` or `.csv` file.

    Returns:
        A dict of lists: one list of floats per metric, and `"epoch"` (ints) when the file has
        it. Missing values (`NA`, empty, null) become `nan`.

    Raises:
        MissingFileError: the file does not exist.
        ConfigurationError: another suffix.
        CorruptFileError: the file is not a history in that format.

    Example:

    >>> import kerasx.io, os, tempfile
    >>> history = {"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}
    >>> path = kerasx.io.save_history(history, os.path.join(tempfile.mkdtemp(), "history.csv"))
    >>> kerasx.io.load_history(path)
    {'epoch': [0, 1], 'loss': [0.9, 0.5], 'val_loss': [1.0, 0.7]}
    """
    path = Path(path)
    suffix = _history_suffix(
        path, "Pass the file written by `save_history`, `HistoryLogger` or `CSVLogger`."
    )
    text = read_private_copy(path, what="history file").decode("utf-8", errors="replace")
    if suffix == ".json":
        return _history_from_json(text, path)
    return _history_from_csv(text, path)


def _history_from_json(text: str, path: Path) -> dict[str, list[Any]]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorruptFileError(
            f"The history file is not valid JSON: {error}. Received: path={str(path)!r}. "
            "Write it with `kerasx.io.save_history`."
        ) from error
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise CorruptFileError(
            'A JSON history must be an object of lists, such as {"loss": [0.5, 0.4]}. '
            f"Received: path={str(path)!r}. Write it with `kerasx.io.save_history`."
        )
    result: dict[str, list[Any]] = {}
    for key, values in raw.items():
        if key == "epoch":
            result[key] = [int(v) for v in values]
        else:
            result[key] = [math.nan if v is None else float(v) for v in values]
    return result


def _history_from_csv(text: str, path: Path) -> dict[str, list[Any]]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0]:
        raise CorruptFileError(
            f"The CSV history has no header row. Received: path={str(path)!r}. "
            "Expected a header such as `epoch,loss,val_loss`, as CSVLogger writes."
        )
    header = [name.strip() for name in rows[0]]
    result: dict[str, list[Any]] = {name: [] for name in header}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise CorruptFileError(
                f"Row {line} of the CSV history has {len(row)} cells, the header has "
                f"{len(header)}. Received: path={str(path)!r}. The file may be truncated."
            )
        for name, cell in zip(header, row):
            result[name].append(_cell(cell, name, line, path))
    return result


def _cell(cell: str, name: str, line: int, path: Path) -> Any:
    cell = cell.strip()
    if cell in ("", "NA", "nan", "NaN"):
        return math.nan
    try:
        return int(cell) if name == "epoch" else float(cell)
    except ValueError as error:
        raise CorruptFileError(
            f"Row {line}, column {name!r} of the CSV history is not a number: {cell!r}. "
            f"Received: path={str(path)!r}. Fix or remove that row."
        ) from error
