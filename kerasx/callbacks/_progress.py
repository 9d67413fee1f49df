"""`ProgressBar`: tqdm bars in terminals and notebooks, one plain line per epoch in logs."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import keras

from kerasx._notebook import in_notebook
from kerasx.errors import ConfigurationError

__all__ = ["MODES", "ProgressBar", "resolve_mode"]

MODES = ("auto", "terminal", "notebook", "lines")


def _has_ipywidgets() -> bool:
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def resolve_mode(mode: str, stream: TextIO) -> str:
    """The concrete mode for `"auto"`: notebook widget, terminal bar or plain lines."""
    if mode != "auto":
        if mode == "notebook" and not _has_ipywidgets():
            return "lines"
        return mode
    if in_notebook():
        return "notebook" if _has_ipywidgets() else "lines"
    isatty = getattr(stream, "isatty", None)
    return "terminal" if isatty is not None and isatty() else "lines"


def format_logs(logs: dict[str, Any]) -> str:
    """`loss: 0.1234 - accuracy: 0.9500` for the logs of one epoch."""
    return " - ".join(f"{key}: {float(value):.4g}" for key, value in logs.items())


def _columns(stream: TextIO) -> int:
    """The terminal width of `stream`, or 100 when unknown (a new pty reports 0)."""
    import os

    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns if columns > 0 else 100


def _rows(stream: TextIO) -> int:
    """The terminal height of `stream`, or 24 when unknown (tqdm hides bars beyond it)."""
    import os

    try:
        rows = os.get_terminal_size(stream.fileno()).lines
    except (AttributeError, OSError, ValueError):
        rows = 0
    return rows if rows > 0 else 24


class ProgressBar(keras.callbacks.Callback):
    """Show training progress: a tqdm bar, a notebook widget, or one line per epoch.

    Modes:

    - `"terminal"`: a tqdm bar per epoch, updated after every step (`steps_per_execution`
      steps at a time), with the epoch's metrics when it ends.
    - `"notebook"`: the same as a Jupyter widget (`tqdm.notebook`; needs `ipywidgets`, else
      `"lines"`).
    - `"lines"`: one line per epoch (`Epoch 3/10 - 56 steps - 0.4s - loss: 0.31 - ...`) and no
      per-step work at all: what CI logs and pipes want.
    - `"auto"`: `"notebook"` in Jupyter, `"terminal"` when the stream is a terminal, else
      `"lines"`.

    `kerasx.fit` turns Keras's own progress bar off when it uses this one.

    Args:
        mode: one of `"auto"`, `"terminal"`, `"notebook"`, `"lines"`. Defaults to `"auto"`.
        stream: where to write; `None` means `sys.stdout` at the time training starts.
            Defaults to `None`.

    Raises:
        ConfigurationError: for an unknown `mode`.

    Example:

    ```python
    model.fit(x, y, epochs=5, verbose=0, callbacks=[kerasx.callbacks.ProgressBar("lines")])
    ```
    """

    def __init__(self, mode: str = "auto", *, stream: TextIO | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigurationError(
                f"ProgressBar `mode` must be one of {list(MODES)}. Received: mode={mode!r}."
            )
        self.mode = mode
        self.stream = stream
        self.resolved_mode = mode
        self._bar: Any = None
        self._stream: TextIO = sys.stdout
        self._epoch_start = 0.0
        self._steps_done = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._stream = self.stream if self.stream is not None else sys.stdout
        self.resolved_mode = resolve_mode(self.mode, self._stream)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._steps_done = 0
        if self.resolved_mode == "lines":
            return
        if self.resolved_mode == "notebook":
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
        self._bar = tqdm(
            total=self.params.get("steps"),
            desc=f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}",
            unit="step",
            file=self._stream,
            leave=True,
            ncols=_columns(self._stream),
            nrows=_rows(self._stream),
        )

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras passes the index of the last step of the execution, so with
        # `steps_per_execution=k` this advances k steps at a time.
        steps = self.params.get("steps")
        self._steps_done = batch + 1 if not steps else min(batch + 1, steps)
        bar = self._bar
        if bar is not None:
            bar.update(self._steps_done - bar.n)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_start
        bar = self._bar
        if bar is not None:
            bar.set_postfix_str(format_logs(logs), refresh=False)
            bar.close()
            self._bar = None
            return
        steps = self.params.get("steps") or self._steps_done
        parts = [f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"]
        if steps:
            parts.append(f"{steps} steps")
        parts.append(f"{seconds:.1f}s")
        if logs:
            parts.append(format_logs(logs))
        self._stream.write(" - ".join(parts) + "\n")
        self._stream.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
