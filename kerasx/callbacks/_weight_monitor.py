"""`WeightMonitor`: per-layer weight statistics in the logs, and a stop on NaN or Inf weights."""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

import keras

from kerasx.errors import ConfigurationError, CorruptFileError

__all__ = ["LOG_STATS", "ON_NAN_CHOICES", "WeightMonitor"]

logger = logging.getLogger(__name__)

ON_NAN_CHOICES: tuple[str, ...] = ("stop", "warn")

LOG_STATS: tuple[str, ...] = ("mean", "std", "max_abs", "nonfinite")
"""Statistics written to the logs for each layer, as `weights/<layer>/<stat>`."""

_MAX_DETAILS = 5  # variables named in the NaN message; `last_stats` has them all


class WeightMonitor(keras.callbacks.Callback):
    """Records per-layer weight statistics each `every` epochs and stops on NaN or Inf weights.

    At the end of every `every`-th epoch, for each layer that has weights, the monitor adds four
    numbers to the epoch's `logs`, over all of the layer's variables together:

    - `weights/<layer>/mean` and `weights/<layer>/std`: of the finite values,
    - `weights/<layer>/max_abs`: the largest finite absolute value,
    - `weights/<layer>/nonfinite`: how many values are NaN or Inf.

    Keras's `History`, `HistoryLogger` and `plot_history` then record and draw them like any
    metric. On the epochs in between the keys are absent, as `val_*` keys are with Keras's
    `validation_freq`. Layers inside nested models are named `outer/inner` (as in
    `kerasx.viz.weight_stats`).

    When a value is NaN or Inf, the monitor names the layer and variable in a `RuntimeWarning`
    and in `nan_layers`, and with `on_nan="stop"` it sets `model.stop_training = True` so `fit`
    returns after this epoch with the weights as they are (inspect them, then lower the learning
    rate or clip gradients).

    The monitor defines no batch hooks, so it costs nothing per batch (Keras's batch dispatch,
    including its asynchronous mode, is unchanged); the statistics cost one pass over the
    weights per checked epoch.

    Args:
        every: check after every `every` epochs (epochs `every`, `2 * every`, ... counting from
            1). Defaults to `1`.
        on_nan: `"stop"` to stop training when a weight is NaN or Inf, `"warn"` to only warn.
            Defaults to `"stop"`.
        path: if given, a JSON file that receives the full `weight_stats` rows of every checked
            epoch, rewritten atomically after each one, as
            `{"epochs": [{"epoch": 0, "stats": [row, ...]}, ...]}` (`epoch` counts from 0 as in
            Keras; NaN and Inf statistics are written as null). Entries already in the file for
            other epochs are kept, so a resumed run continues the same file. Defaults to `None`.

    Attributes:
        nan_layers: names of the layers where NaN or Inf weights were found, in order.
        nan_epoch: the (0-based) epoch at which they were first found, or None.
        last_stats: the `weight_stats` rows of the last checked epoch.

    Raises:
        ConfigurationError: `every` is not a positive integer or `on_nan` is not `"stop"` or
            `"warn"`.
        CorruptFileError: `path` exists but is not a JSON file a `WeightMonitor` wrote; the
            file is left untouched.

    Example:

    >>> import numpy as np, keras
    >>> from kerasx.callbacks import WeightMonitor
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="out")])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> history = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0,
    ...                     callbacks=[WeightMonitor()])
    >>> sorted(k for k in history.history if k.startswith("weights/"))
    ['weights/out/max_abs', 'weights/out/mean', 'weights/out/nonfinite', 'weights/out/std']
    """

    def __init__(
        self,
        every: int = 1,
        *,
        on_nan: str = "stop",
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigurationError(
                "`every` must be a positive integer (check after every `every` epochs). "
                f"Received: every={every!r}."
            )
        if on_nan not in ON_NAN_CHOICES:
            raise ConfigurationError(
                f"`on_nan` must be one of {', '.join(repr(c) for c in ON_NAN_CHOICES)}. "
                f"Received: on_nan={on_nan!r}."
            )
        self.every = every
        self.on_nan = on_nan
        self.path = Path(path) if path is not None else None
        self.nan_layers: list[str] = []
        self.nan_epoch: int | None = None
        self.last_stats: list[dict[str, Any]] = []
        self._epochs: dict[int, list[dict[str, Any]]] | None = None
        if self.path is not None:
            self._read_existing()  # fail now, not mid-`fit`, on a file the monitor did not write

    # No batch hooks on purpose: see the class docstring.

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.nan_layers = []
        self.nan_epoch = None
        self._epochs = self._read_existing() if self.path is not None else None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every != 0:
            return
        from kerasx.viz._weight_stats import Moments, weight_stats

        rows = weight_stats(self.model)
        self.last_stats = rows
        per_layer: dict[str, Moments] = {}
        max_abs: dict[str, float] = {}
        for row in rows:
            totals = per_layer.setdefault(row["layer"], Moments())
            totals.merge(_row_moments(row))
            if row["min"] is not None:
                largest = max(abs(row["min"]), abs(row["max"]))
                max_abs[row["layer"]] = max(max_abs.get(row["layer"], 0.0), largest)
        if logs is not None:
            for layer, totals in per_layer.items():
                summary = totals.summary()
                prefix = f"weights/{layer}/"
                logs[prefix + "mean"] = _float(summary["mean"])
                logs[prefix + "std"] = _float(summary["std"])
                logs[prefix + "max_abs"] = _float(max_abs.get(layer))
                logs[prefix + "nonfinite"] = float(summary["nan_count"] + summary["inf_count"])
        if self.path is not None:
            self._write(epoch, rows)
        bad = [row for row in rows if row["nan_count"] or row["inf_count"]]
        if bad:
            self._report(epoch, bad)

    def _report(self, epoch: int, bad: list[dict[str, Any]]) -> None:
        for row in bad:
            if row["layer"] not in self.nan_layers:
                self.nan_layers.append(row["layer"])
        if self.nan_epoch is None:
            self.nan_epoch = epoch
        details = "; ".join(
            f"layer {row['layer']!r} variable {row['variable']!r}: "
            f"{row['nan_count']} NaN, {row['inf_count']} Inf of {row['count']}"
            for row in bad[:_MAX_DETAILS]
        )
        if len(bad) > _MAX_DETAILS:
            details += f"; and {len(bad) - _MAX_DETAILS} more variables (see `last_stats`)"
        action = "Training stopped." if self.on_nan == "stop" else "Training goes on."
        message = (
            f"WeightMonitor: weights became NaN or Inf after epoch {epoch + 1} in "
            f"{len(self.nan_layers)} layer(s): {details}. {action} Lower the learning rate, "
            "clip gradients (e.g. `optimizer=keras.optimizers.Adam(clipnorm=1.0)`), or check "
            "the inputs and targets for NaN."
        )
        logger.info(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        if self.on_nan == "stop" and self.model is not None:
            self.model.stop_training = True

    def _read_existing(self) -> dict[int, list[dict[str, Any]]]:
        assert self.path is not None
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["epochs"]
            return {int(entry["epoch"]): list(entry["stats"]) for entry in entries}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CorruptFileError(
                "WeightMonitor appends to its JSON file, but the existing file is not one it "
                f"wrote ({error}). Received: path={str(self.path)!r}. Move the file away or "
                "pass another `path`; it was left untouched."
            ) from error

    def _write(self, epoch: int, rows: list[dict[str, Any]]) -> None:
        from kerasx._atomic import atomic_write_text

        assert self.path is not None
        if self._epochs is None:
            self._epochs = self._read_existing()
        self._epochs[epoch] = [_json_row(row) for row in rows]
        document = {
            "epochs": [{"epoch": e, "stats": self._epochs[e]} for e in sorted(self._epochs)]
        }
        atomic_write_text(self.path, json.dumps(document, allow_nan=False) + "\n")


def _row_moments(row: dict[str, Any]) -> Any:
    """Rebuild a mergeable accumulator from one `weight_stats` row."""
    from kerasx.viz._weight_stats import Moments

    moments = Moments()
    moments.count = int(row["count"])
    moments.nan = int(row["nan_count"])
    moments.inf = int(row["inf_count"])
    moments.zeros = round(row["zero_fraction"] * row["count"])
    finite = moments.count - moments.nan - moments.inf
    if finite and row["mean"] is not None:
        moments.finite = finite
        moments.mean = float(row["mean"])
        moments.m2 = float(row["std"]) ** 2 * finite
        moments.minimum = float(row["min"])
        moments.maximum = float(row["max"])
    return moments


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        result[key] = value
    return result
