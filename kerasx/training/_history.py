"""`History`, the record `kerasx.fit` returns, and the process-wide seed.

- `History`: a `keras.callbacks.History` whose epochs are continuous across resumed runs, with
  `plot`, `to_dict`, `save` and `best`.
- `seed_everything(seed, deterministic=...)`: Python, NumPy, TensorFlow and Keras seeds;
  `last_seed()` the one last given.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from kerasx.callbacks._checkpoint import infer_mode
from kerasx.callbacks._run_state import RunContext
from kerasx.errors import ConfigurationError

__all__ = ["History", "aligned_logs", "last_seed", "seed_everything"]

_seed: int | None = None


def last_seed() -> int | None:
    """The seed last given to `seed_everything` in this process.

    `kerasx.fit` uses it for the data order when it is given no `seed` and resumes no run.

    Returns:
        The seed, or None if `seed_everything` was not called.

    Example:

    >>> import kerasx
    >>> _ = kerasx.seed_everything(7)
    >>> kerasx.training.last_seed()
    7
    """
    return _seed


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed Python's `random`, NumPy, TensorFlow and Keras, and optionally make ops deterministic.

    Calls `keras.utils.set_random_seed(seed)`; with `deterministic=True` also
    `tf.config.experimental.enable_op_determinism()` (slower on GPU; needed for bit-exact
    resume). `kerasx.fit` reuses this seed for the data order when it is not given one.

    Args:
        seed: an integer in `[0, 2**32)`.
        deterministic: also make TensorFlow ops deterministic. Defaults to `False`.

    Returns:
        The seed.

    Raises:
        ConfigurationError: if `seed` is not an integer in `[0, 2**32)`.

    Example:

    >>> import kerasx
    >>> kerasx.seed_everything(42)
    42
    """
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigurationError(
            f"The seed must be an integer in [0, 2**32). Received: seed={seed!r}."
        )
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    _seed = seed
    return seed


def aligned_logs(
    history: dict[str, list[float]], epochs: Sequence[int]
) -> dict[int, dict[str, float]]:
    """Each epoch's logs from history lists: the names with one value per epoch.

    A name with fewer values (logged on some epochs only) cannot be placed and is left out.
    """
    rows: dict[int, dict[str, float]] = {int(e): {} for e in epochs}
    for key, values in history.items():
        if len(values) == len(epochs):
            for e, value in zip(epochs, values):
                rows[int(e)][key] = float(value)
    return rows


class History(keras.callbacks.History):
    """The record of a training run, continuous across resumed runs.

    A `keras.callbacks.History`: `history.history` is `{"loss": [...], ...}` and
    `history.epoch` the list of epoch indices (from 0). When `kerasx.fit` resumes a run,
    `epoch` and `history` hold the epochs of the interrupted run too, each exactly once.

    Attributes:
        resumed_from_epoch: how many epochs the run had completed before this call (0 for a
            fresh run).
        trained_epochs: how many epochs this call trained.
        finished: whether the run is complete (all epochs, or stopped early).
        stopped_early: whether early stopping ended the run.
        interrupted: whether SIGTERM cut this call short.
        run_dir: the run directory, or None.
        epoch_logs: each epoch's logs keyed by epoch, `{epoch: {"loss": ..., ...}}`: what
            `history` holds as lists, with a name logged on some epochs only (`val_*` with
            `validation_freq`, `WeightMonitor(every=2)`) kept with its epoch. The run state
            saves it; the TensorBoard logs are written from it on resume.

    Args:
        history: initial `{"name": [values]}`. Defaults to `None` (empty).
        epoch: initial epoch indices; `None` means `0..n-1`. Defaults to `None`.

    Example:

    >>> import kerasx
    >>> history = kerasx.History({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]})
    >>> history.best()
    (1, 0.7)
    """

    def __init__(
        self,
        history: dict[str, Sequence[float]] | None = None,
        epoch: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        values = {key: [float(v) for v in vals] for key, vals in (history or {}).items()}
        self.history: dict[str, list[float]] = values
        length = max((len(v) for v in values.values()), default=0)
        self.epoch: list[int] = list(epoch) if epoch is not None else list(range(length))
        self.epoch_logs: dict[int, dict[str, float]] = aligned_logs(values, self.epoch)
        self.resumed_from_epoch = 0
        self.trained_epochs = 0
        self.finished = False
        self.stopped_early = False
        self.interrupted = False
        self.run_dir: Path | None = None
        self.run: RunContext | None = None

    def __repr__(self) -> str:
        return (
            f"<kerasx.History epochs={len(self.epoch)} metrics={sorted(self.history)} "
            f"resumed_from_epoch={self.resumed_from_epoch} finished={self.finished}>"
        )

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # Unlike Keras's History, keep the epochs of earlier (resumed) runs.
        return

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None and self.run.epoch_partial:
            return
        row = {key: float(v) for key, v in (logs or {}).items()}
        self.epoch_logs[epoch] = row
        super().on_epoch_end(epoch, dict(row))

    def restore(
        self,
        history: dict[str, Sequence[float]],
        epoch: Sequence[int],
        rows: Sequence[dict[str, float]] | None = None,
    ) -> None:
        """Set the epochs of a saved run: `history` lists, `epoch` indices and, when saved,
        each epoch's logs (`rows`, in the order of `epoch`; else rebuilt with
        `aligned_logs`)."""
        self.history = {key: [float(v) for v in vals] for key, vals in history.items()}
        self.epoch = [int(e) for e in epoch]
        if rows is not None and len(rows) == len(self.epoch):
            self.epoch_logs = {
                e: {key: float(v) for key, v in row.items()} for e, row in zip(self.epoch, rows)
            }
        else:
            self.epoch_logs = aligned_logs(self.history, self.epoch)

    def to_dict(self) -> dict[str, list[float]]:
        """A plain copy: `{"loss": [...], "val_loss": [...], ...}` of Python floats."""
        return {key: [float(v) for v in values] for key, values in self.history.items()}

    def best(self, metric: str | None = None) -> tuple[int, float]:
        """The best epoch and value of `metric` (min for losses, max for accuracy-like names).

        Args:
            metric: a logged name; `None` means `"val_loss"` if logged, else `"loss"`.
                Defaults to `None`.

        Returns:
            `(epoch, value)`, the epoch counted from 0 as in `history.epoch`.

        Raises:
            ConfigurationError: if `metric` was not logged or has no finite value.
        """
        if metric is None:
            metric = "val_loss" if "val_loss" in self.history else "loss"
        if metric not in self.history:
            raise ConfigurationError(
                f"History has no metric {metric!r}. Available: {sorted(self.history)}. "
                f"Received: metric={metric!r}."
            )
        values = self.history[metric]
        candidates = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not candidates:
            raise ConfigurationError(
                f"History has no finite value for {metric!r}. Received: metric={metric!r} "
                f"with values {values!r}. Train for at least one epoch first."
            )
        if infer_mode(metric) == "max":
            value, index = max(candidates, key=lambda c: (c[0], -c[1]))
        else:
            value, index = min(candidates, key=lambda c: (c[0], c[1]))
        epoch = self.epoch[index] if index < len(self.epoch) else index
        return int(epoch), float(value)

    def plot(self, **kwargs: Any) -> Any:
        """Plot the curves with `kerasx.viz.plot_history(self, **kwargs)`; returns the Figure."""
        from kerasx.viz import plot_history

        return plot_history(self, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the history atomically with `kerasx.io.save_history`: `.json` or `.csv`.

        Args:
            path: the target file; its suffix picks the format.

        Returns:
            The path written.

        Raises:
            ConfigurationError: if `path` ends in neither `.json` nor `.csv`.
        """
        from kerasx.io import save_history

        return save_history(self, path)
