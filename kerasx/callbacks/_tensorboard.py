"""`TensorBoardLogger`: each epoch's logs as TensorBoard scalars, exactly once across resumes.

Writing TensorBoard event files needs the `tensorboard` package (TensorFlow 2.21 no longer
brings it; without it `tf.summary.scalar` raises `TBNotInstalledError`). It is the optional
extra `kerasx[tensorboard]`: without it `kerasx.fit` says once that the logs are off and how
to turn them on (`tensorboard_missing_warning`).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import keras

from kerasx.callbacks._run_state import RunContext
from kerasx.errors import MissingDependencyError

__all__ = [
    "EVENT_SUFFIX",
    "INSTALL_HINT",
    "SUBDIRECTORIES",
    "TensorBoardLogger",
    "read_scalars",
    "tensorboard_available",
    "tensorboard_missing_warning",
]

_log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "kerasx[tensorboard]"'
"""How to install what TensorBoard logs need."""

EVENT_SUFFIX = ".kerasx"
"""The end of the event files kerasx writes (`events.out.tfevents.<time>.<host>.<pid>.<n>.kerasx`):
kerasx reads back and replaces only its own files."""

SUBDIRECTORIES = ("train", "validation")
"""Where the scalars go, as with Keras's `TensorBoard` callback: `val_*` logs in `validation/`."""

_MAX_QUEUE = 10_000  # events held until the explicit flush at the end of each epoch
_warned = False
_warn_lock = threading.Lock()

Key = tuple[str, str, int]
"""`(subdirectory, tag, step)` of one scalar."""


def tensorboard_available() -> bool:
    """Whether the `tensorboard` package can be imported (what writing event files needs)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def tensorboard_missing_warning(stacklevel: int = 2) -> None:
    """Say once per process that TensorBoard logs are off because `tensorboard` is missing.

    Args:
        stacklevel: as for `warnings.warn`, counted from the caller. Defaults to `2`.
    """
    global _warned
    with _warn_lock:
        first, _warned = not _warned, True
    if first:
        warnings.warn(
            "kerasx.fit writes no TensorBoard logs to the run directory: the `tensorboard` "
            f"package is not installed. Install it with `{INSTALL_HINT}` to get them, or pass "
            "`tensorboard=False` to kerasx.fit to silence this message.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def _scalar_key(name: str, epoch: int) -> Key:
    """Keras's `TensorBoard` layout: `val_loss` -> `validation/epoch_loss`."""
    if name.startswith("val_"):
        return ("validation", "epoch_" + name[len("val_") :], epoch)
    return ("train", "epoch_" + name, epoch)


def read_scalars(directory: str | os.PathLike[str]) -> tuple[dict[Key, list[float]], bool]:
    """Every scalar in the kerasx event files under `directory`, as TensorBoard stores them.

    Args:
        directory: the folder a `TensorBoardLogger` writes (with `train/` and `validation/`).

    Returns:
        `(scalars, readable)`: `{(subdirectory, tag, step): [value, ...]}` (one value per
        event; more than one is a duplicate), and whether every file was read to its end (a
        process killed while writing can leave a cut-short last record).
    """
    import tensorflow as tf

    found: dict[Key, list[float]] = {}
    readable = True
    for sub in SUBDIRECTORIES:
        folder = Path(directory) / sub
        for path in _event_files(folder):
            try:
                for record in tf.data.TFRecordDataset(str(path)):
                    event = tf.compat.v1.Event.FromString(record.numpy())
                    for value in event.summary.value:
                        number = (
                            value.simple_value
                            if value.HasField("simple_value")
                            else float(tf.make_ndarray(value.tensor))
                        )
                        found.setdefault((sub, value.tag, int(event.step)), []).append(number)
            except Exception as error:  # a truncated record, a disk error
                _log.debug("TensorBoard event file %s is not readable to its end: %s", path, error)
                readable = False
    return found, readable


def _event_files(folder: Path) -> list[Path]:
    """kerasx's event files in `folder`, oldest first (their names start with the time)."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"events.out.tfevents.*{EVENT_SUFFIX}"))


def _same(a: float, b: float) -> bool:
    """Equal as TensorBoard stores them (float32), NaN equal to NaN."""
    import numpy as np

    x, y = np.float32(a), np.float32(b)
    return bool(x == y or (math.isnan(x) and math.isnan(y)))


class TensorBoardLogger(keras.callbacks.Callback):
    """Write each epoch's logs as TensorBoard scalars: every metric and the learning rate.

    The layout is that of Keras's `TensorBoard` callback, so TensorBoard draws training and
    validation curves together: `directory/train/` holds `epoch_loss`, `epoch_<metric>` and
    `epoch_learning_rate`, `directory/validation/` holds the `val_*` logs as `epoch_loss`,
    `epoch_<metric>`; the step is the epoch (from 0). Anything else in the logs is written
    too, such as `WeightMonitor`'s `weights/<layer>/<stat>` (as `epoch_weights/...`). Open
    them with `tensorboard --logdir directory`.

    Under `kerasx.fit` (which puts it in its default callbacks with a `run_dir`, as
    `run_dir / "tensorboard"`), every epoch appears exactly once in the event files, after any
    number of kills, SIGTERMs and resumes: an epoch is written only after its resume state is
    committed (the logger comes after the checkpoints), and when a run resumes, the logger reads
    its event files back and writes the committed epochs they miss, from the history in the
    run state. Files that hold something the run state does not (epochs of a run started over,
    a cut-short record) are replaced by a new file written from that history. Each process
    writes a new event file (ending in `.kerasx`), as TensorBoard expects; kerasx reads and
    replaces only those, so keep other writers out of `directory`.

    Used on its own with `model.fit`, it writes every epoch when it ends.

    Needs the `tensorboard` package: `pip install "kerasx[tensorboard]"`.

    Args:
        directory: the folder for the event files; created when the first epoch is written.

    Raises:
        MissingDependencyError: if the `tensorboard` package is not installed.

    Example:

    ```python
    logger = kerasx.callbacks.TensorBoardLogger("runs/a/tensorboard")
    model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[logger])
    # tensorboard --logdir runs/a/tensorboard
    ```
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        if not tensorboard_available():
            raise MissingDependencyError(
                "TensorBoardLogger writes TensorBoard event files, which needs the `tensorboard` "
                f"package. Received: directory={str(directory)!r} without it. Install it: "
                f"`{INSTALL_HINT}`."
            )
        self.directory = Path(directory)
        self.run: RunContext | None = None
        self._synced_run: RunContext | None = None
        self._writers: dict[str, Any] = {}

    # -- Keras hooks -------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None and self._synced_run is not self.run:
            self.sync()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None and self.run.epoch_partial:
            return
        scalars, _ = self._scalars(epoch, logs or {}, live=True)
        self._write(scalars)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.close()

    # -- the run's files ---------------------------------------------------------------------

    def sync(self) -> None:
        """Make the event files hold exactly the epochs of the run's history, each once.

        `kerasx.fit` calls it when training begins (after the run state is restored) and for
        a finished run it returns without training (then `close()`). Writes the committed
        epochs the files miss; replaces the files if they hold anything else.
        """
        self._synced_run = self.run
        expected: dict[Key, float] = {}
        loose: set[Key] = set()  # learning rates read from the optimizer, not the history
        for epoch, row in self._history_rows():
            scalars, derived = self._scalars(epoch, row, live=False)
            expected.update(scalars)
            loose |= derived
        found, readable = read_scalars(self.directory)
        stale = not readable or any(
            len(values) != 1
            or key not in expected
            or (key not in loose and not _same(values[0], expected[key]))
            for key, values in found.items()
        )
        if stale:
            if found or not readable:
                _log.info(
                    "Rewriting the TensorBoard logs in %s from the run state: they held "
                    "epochs the run state does not.", self.directory,
                )
            self.clear()
            found = {}
        self._write({key: value for key, value in expected.items() if key not in found})

    def clear(self) -> None:
        """Remove the event files kerasx wrote in `directory` (a run started over)."""
        self.close()
        for sub in SUBDIRECTORIES:
            for path in _event_files(self.directory / sub):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Flush and close the event files of this process (the next write opens new ones)."""
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()

    # -- helpers -----------------------------------------------------------------------------

    def _history_rows(self) -> Iterable[tuple[int, Mapping[str, float]]]:
        history = self.run.history if self.run is not None else None
        rows = getattr(history, "epoch_logs", None) or {}
        return [(epoch, rows[epoch]) for epoch in sorted(rows)]

    def _learning_rate(self, *, live: bool) -> float | None:
        """The optimizer's learning rate now: any when `live` (the epoch just ended), else only
        a plain value (then it is the same for every epoch), not a schedule's."""
        optimizer = getattr(self.model, "optimizer", None) if self.model is not None else None
        rate = getattr(optimizer, "learning_rate", None)
        if rate is None or not (live or isinstance(rate, keras.Variable)):
            return None
        try:
            return float(keras.ops.convert_to_numpy(rate))
        except (TypeError, ValueError):
            return None

    def _scalars(
        self, epoch: int, row: Mapping[str, Any], *, live: bool
    ) -> tuple[dict[Key, float], set[Key]]:
        """The scalars of one epoch's logs, and those read from the optimizer (a learning
        rate the logs do not hold: `kerasx.fit` logs it when it follows a schedule)."""
        scalars = {_scalar_key(name, epoch): float(value) for name, value in row.items()}
        derived: set[Key] = set()
        key = _scalar_key("learning_rate", epoch)
        if key not in scalars:
            rate = self._learning_rate(live=live)
            if rate is not None:
                scalars[key] = rate
                derived.add(key)
        return scalars, derived

    def _writer(self, sub: str) -> Any:
        import tensorflow as tf

        writer = self._writers.get(sub)
        if writer is None:
            writer = tf.summary.create_file_writer(
                str(self.directory / sub), max_queue=_MAX_QUEUE, filename_suffix=EVENT_SUFFIX
            )
            self._writers[sub] = writer
        return writer

    def _write(self, scalars: Mapping[Key, float]) -> None:
        """Write `scalars` in step order and flush, one file per subdirectory."""
        import tensorflow as tf

        for sub in SUBDIRECTORIES:
            items = sorted(
                ((step, tag), value)
                for (where, tag, step), value in scalars.items()
                if where == sub
            )
            if not items:
                continue
            writer = self._writer(sub)
            with writer.as_default():
                for (step, tag), value in items:
                    tf.summary.scalar(tag, value, step=step)
            writer.flush()
