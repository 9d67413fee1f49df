"""`defaults`: the callbacks `kerasx.fit` uses unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kerasx.errors import ConfigurationError

__all__ = ["PROGRESS_VALUES", "defaults"]

PROGRESS_VALUES = ("auto", True, False)


def defaults(
    run_dir: str | os.PathLike[str] | None,
    *,
    monitor: str = "val_loss",
    patience: int | None = None,
    progress: str | bool = "auto",
    tensorboard: bool = True,
) -> list[Any]:
    """The default callbacks of `kerasx.fit`, in the order it uses them.

    - `Checkpoint(run_dir / "checkpoints", monitor=monitor)`: best model and resume state
      (only with a `run_dir`);
    - `EarlyStopping(monitor, patience=patience, restore_best_weights=True)` (only when
      `patience` is set);
    - `HistoryLogger(run_dir / "history.csv")`: `history.csv` and `history.json` (only with a
      `run_dir`);
    - `TensorBoardLogger(run_dir / "tensorboard")`: TensorBoard event files (only with a
      `run_dir` and `tensorboard=True`; when the `tensorboard` package is missing, a warning
      says once per process how to install it, `pip install "kerasx[tensorboard]"`, and the
      logger is left out). `kerasx.fit` runs it after the checkpoints, so that an epoch is
      written once its resume state is saved;
    - `TerminateOnNaN()`;
    - `ProgressBar("auto")` (unless `progress=False`).

    None of them does work per step except a live terminal or notebook bar.

    Args:
        run_dir: the run directory, or `None` to write nothing.
        monitor: the quantity for the best checkpoint and early stopping.
            Defaults to `"val_loss"`.
        patience: epochs without improvement before stopping; `None` disables early stopping.
            Defaults to `None`.
        progress: `"auto"` or `True` for a `ProgressBar`, `False` for none.
            Defaults to `"auto"`.
        tensorboard: write TensorBoard logs to `run_dir / "tensorboard"`. Defaults to `True`.

    Returns:
        A new list of callback instances.

    Raises:
        ConfigurationError: for a negative or non-integer `patience`, an unknown `progress` or
            a `tensorboard` that is not a bool.

    Example:

    ```python
    callbacks = kerasx.callbacks.defaults("run", monitor="loss", patience=5)
    kerasx.fit(model, x, y, epochs=50, run_dir="run", callbacks=[*callbacks, MyCallback()])
    ```
    """
    import keras

    from kerasx.callbacks._checkpoint import Checkpoint
    from kerasx.callbacks._history_logger import HistoryLogger
    from kerasx.callbacks._progress import ProgressBar
    from kerasx.callbacks._tensorboard import (
        TensorBoardLogger,
        tensorboard_available,
        tensorboard_missing_warning,
    )

    if patience is not None and (
        isinstance(patience, bool) or not isinstance(patience, int) or patience < 0
    ):
        raise ConfigurationError(
            "`patience` must be None (no early stopping) or an integer >= 0. "
            f"Received: patience={patience!r}."
        )
    if not any(progress is value or progress == value for value in PROGRESS_VALUES) or (
        isinstance(progress, int) and not isinstance(progress, bool)
    ):
        raise ConfigurationError(
            f'`progress` must be "auto", True or False. Received: progress={progress!r}.'
        )
    if not isinstance(tensorboard, bool):
        raise ConfigurationError(
            f"`tensorboard` must be True or False. Received: tensorboard={tensorboard!r}."
        )
    callbacks: list[Any] = []
    folder = Path(run_dir) if run_dir is not None else None
    if folder is not None:
        callbacks.append(Checkpoint(folder / "checkpoints", monitor=monitor))
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=patience, restore_best_weights=True
            )
        )
    if folder is not None:
        callbacks.append(HistoryLogger(folder / "history.csv"))
        if tensorboard and tensorboard_available():
            callbacks.append(TensorBoardLogger(folder / "tensorboard"))
        elif tensorboard:
            tensorboard_missing_warning(stacklevel=4)  # the caller of kerasx.fit
    callbacks.append(keras.callbacks.TerminateOnNaN())
    if progress is not False:
        callbacks.append(ProgressBar("auto"))
    return callbacks
