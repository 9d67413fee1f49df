"""One-call training: `fit` with a run directory, exact resume and default callbacks.

- `fit(model, x, y, epochs=..., run_dir=...)`: trains with checkpoints, logs and a progress bar;
  called again after a crash (SIGKILL at any moment included) it continues from the last
  completed epoch, with the same weights, optimizer state, data order and history.
- `History`: a `keras.callbacks.History` whose epochs are continuous across resumed runs, with
  `plot`, `to_dict`, `save` and `best`.
- `seed_everything(seed, deterministic=...)`: Python, NumPy, TensorFlow and Keras seeds.

This module imports Keras; `import kerasx` loads it only on first use of `kerasx.fit`.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras

from kerasx._atomic import atomic_write_text
from kerasx._callbacks.checkpoint import Checkpoint, infer_mode
from kerasx._callbacks.defaults import PROGRESS_VALUES, defaults
from kerasx._callbacks.history_logger import HistoryLogger
from kerasx._callbacks.live_plot import LivePlot
from kerasx._compile import resolve_labels
from kerasx._run_state import (
    LoadedState,
    RunContext,
    architecture,
    assign_variables,
    fingerprint,
)
from kerasx._version import __version__
from kerasx.errors import ConfigurationError, TrainingError

__all__ = ["History", "fit", "last_seed", "seed_everything"]

_log = logging.getLogger(__name__)

_SEED: int | None = None
_EXIT_SIGTERM = 128 + 15


def last_seed() -> int | None:
    """The seed last given to `seed_everything` in this process, or None."""
    return _SEED


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
    global _SEED
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigurationError(
            f"The seed must be an integer in [0, 2**32). Received: seed={seed!r}."
        )
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    _SEED = seed
    return seed


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

    Args:
        history: initial `{"name": [values]}`. Defaults to `None` (empty).
        epoch: initial epoch indices; `None` means `0..n-1`. Defaults to `None`.
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
        super().on_epoch_end(epoch, {key: float(v) for key, v in (logs or {}).items()})

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


class _RunGuard(keras.callbacks.Callback):
    """First in the list: decides whether the epoch ending now counts (not cut short by
    SIGTERM, no NaN loss) before any recording callback sees it. Per epoch only."""

    def __init__(self, run: RunContext) -> None:
        super().__init__()
        self.run = run
        self._begin_iterations = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.run.terminate_requested:
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._begin_iterations = int(self.model.optimizer.iterations.numpy())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        run.epoch_partial = False
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            run.failed = f"the loss became {float(loss)} in epoch {epoch + 1}"
            run.epoch_partial = True
            self.model.stop_training = True
            return
        if run.terminate_requested:
            steps = self.params.get("steps")
            done = int(self.model.optimizer.iterations.numpy()) - self._begin_iterations
            run.epoch_partial = steps is None or done < steps

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.run.stopped_early = any(cb.stopped_epoch > 0 for cb in self.run.early_stopping)


class _GeneratorEpochs(keras.callbacks.Callback):
    """Advance an array `DataGenerator`'s epoch when `fit` feeds it as a `tf.data` pipeline.

    Keras calls a `PyDataset`'s `on_epoch_end` before the callbacks' `on_epoch_end`; this
    callback goes first in the list, so checkpoints see the same generator state either way.
    """

    def __init__(self, generator: Any) -> None:
        super().__init__()
        self.generator = generator

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.generator.set_state({**self.generator.get_state(), "epoch": self.generator.epoch + 1})


def _gathers_in_tensorflow(x: Any) -> bool:
    """Whether `x` is a `DataGenerator.from_arrays` generator `fit` can feed through tf.data.

    Only plain in-memory arrays without a Python `transform` qualify: TensorFlow then gathers
    each batch from the permutation `order()` gives, the exact batches `x[i]` would return,
    without Keras's Python-generator bridge (about 2.5 ms per batch on 2 CPU cores).
    """
    from kerasx._data_sources import ArrayGenerator

    return type(x) is ArrayGenerator and x.transform is None


def _check_epochs(epochs: Any) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigurationError(
            f"`epochs` must be an integer of at least 1. Received: epochs={epochs!r}."
        )


def _resolve_callbacks(
    callbacks: Any,
    run_dir: Path | None,
    monitor: str,
    patience: int | None,
    progress: Any,
) -> list[Any]:
    if isinstance(callbacks, str):
        if callbacks != "default":
            raise ConfigurationError(
                '`callbacks` must be "default", or a list of callbacks that may contain the '
                f'string "default". Received: callbacks={callbacks!r}.'
            )
        return defaults(run_dir, monitor=monitor, patience=patience, progress=progress)
    if callbacks is None:
        return []
    if not isinstance(callbacks, list | tuple):
        raise ConfigurationError(
            '`callbacks` must be "default", or a list of callbacks that may contain the string '
            f'"default". Received: callbacks={callbacks!r}.'
        )
    resolved: list[Any] = []
    for item in callbacks:
        if isinstance(item, str) and item == "default":
            resolved.extend(
                defaults(run_dir, monitor=monitor, patience=patience, progress=progress)
            )
        elif isinstance(item, keras.callbacks.Callback):
            resolved.append(item)
        else:
            raise ConfigurationError(
                "Every item of `callbacks` must be a `keras.callbacks.Callback` or the string "
                f'"default". Received: {item!r}.'
            )
    return resolved


def _check_strategy(model: Any, strategy: Any) -> Any:
    if isinstance(strategy, str):
        runtime = importlib.import_module("kerasx.runtime")
        strategy = runtime.strategy(strategy)
    extended = getattr(strategy, "extended", None)
    if extended is None or not hasattr(extended, "variable_created_in_scope"):
        raise ConfigurationError(
            "`strategy` must be a `tf.distribute.Strategy` or a name accepted by "
            f"`kerasx.runtime.strategy`. Received: strategy={strategy!r}."
        )
    outside = [
        v.path for v in model.variables if not extended.variable_created_in_scope(v.value)
    ]
    if outside:
        raise ConfigurationError(
            f"The model's variables were not created under the strategy "
            f"{type(strategy).__name__}, so it cannot train with it. Received: "
            f"{len(outside)} variables outside its scope, e.g. {outside[0]!r}. Build and "
            "compile the model inside `with strategy.scope():` (or pass `strategy=` to the "
            "kerasx builders)."
        )
    return strategy


def _check_resumable(model: Any, loaded: LoadedState, run_dir: Path, current: str) -> None:
    saved = loaded.meta.get("fingerprint")
    if saved == current:
        return
    theirs = loaded.meta.get("architecture", {})
    ours = architecture(model)
    detail = (
        f"saved: {theirs.get('model')} with layers {theirs.get('layers')} and "
        f"{len(theirs.get('variables', []))} variables; this model: {ours['model']} with layers "
        f"{ours['layers']} and {len(ours['variables'])} variables"
    )
    raise ConfigurationError(
        "The run directory was written by a model with a different architecture, so kerasx "
        f"will not load its weights into this one. Received: run_dir={str(run_dir)!r} ({detail}). "
        "Use a new `run_dir`, or pass `resume=False` to start this run over in it."
    )


def _restore_model(model: Any, loaded: LoadedState) -> None:
    assign_variables(model.variables, loaded.groups.get("model", []), "model")
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    assign_variables(optimizer.variables, loaded.groups.get("optimizer", []), "optimizer")


def _is_finished(loaded: LoadedState, epochs: int) -> bool:
    meta = loaded.meta
    stopped = any(state.get("stopped_epoch", 0) > 0 for state in meta.get("early_stopping", []))
    return bool(meta.get("stopped_early") or stopped or int(meta["epoch"]) >= epochs)


def _finish_restored(model: Any, loaded: LoadedState, run: RunContext) -> None:
    """Bring a run killed after its last epoch but before its end to its final weights."""
    if loaded.meta.get("finished"):
        return  # the final state already holds the final weights
    for index, callback in enumerate(run.early_stopping):
        weights = loaded.groups.get(f"early_stopping_{index}", [])
        if callback.restore_best_weights and weights:
            model.set_weights(list(weights))


@contextmanager
def _sigterm_stops(model: Any, run: RunContext, enabled: bool) -> Iterator[list[Any]]:
    """While active, SIGTERM asks Keras to stop at the next batch boundary (no per-step cost)."""
    previous: list[Any] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield previous
        return

    def handler(signum: int, frame: Any) -> None:
        run.terminate_requested = True
        model.stop_training = True

    previous.append(signal.signal(signal.SIGTERM, handler))
    try:
        yield previous
    finally:
        signal.signal(signal.SIGTERM, previous[0])


def _write_run_info(run_dir: Path, run: RunContext, monitor: str) -> None:
    import json

    info = {
        "kerasx_version": __version__,
        "fingerprint": run.fingerprint,
        "architecture": run.architecture,
        "monitor": monitor,
        "seed": run.seed,
        "epochs": run.epochs,
    }
    atomic_write_text(run_dir / "run.json", json.dumps(info, indent=2) + "\n")


def fit(
    model: Any,
    x: Any = None,
    y: Any = None,
    *,
    epochs: int,
    batch_size: int | None = None,
    validation_data: Any = None,
    validation_split: float = 0.0,
    run_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    callbacks: Any = "default",
    monitor: str = "val_loss",
    patience: int | None = None,
    progress: str | bool = "auto",
    seed: int | None = None,
    strategy: Any = None,
    **fit_kwargs: Any,
) -> History:
    """Train `model` with checkpoints, logs, a progress bar and exact resume.

    Calls `model.fit` once (everything in `fit_kwargs` passes through, e.g. `shuffle`,
    `class_weight`, `sample_weight`, `steps_per_epoch`, `validation_freq`). With a `run_dir`,
    after every epoch it writes one atomic state file (weights, optimizer state, dropout RNG
    states, early-stopping counters, history, DataGenerator position), `best.keras` when the
    monitored value improves, and `history.csv`/`history.json`.

    Calling `fit` again with the same `run_dir` (after a crash, a kill or SIGTERM) continues
    from the last completed epoch. With `seed_everything(seed, deterministic=True)` the final
    weights equal those of an uninterrupted run. A finished run (all `epochs` done, or stopped
    early) returns its history without training; a larger `epochs` trains on from where it
    ended. SIGTERM stops training at the next batch boundary: the cut-short epoch is dropped so
    that resume stays exact, the last completed epoch is on disk, and `fit` raises
    `SystemExit(143)` (or, if another handler was installed, calls it after restoring it).

    Args:
        model: a compiled `keras.Model` (built, when resuming: give it an `Input`).
        x: training inputs, as for `model.fit`. Defaults to `None`.
        y: targets, as for `model.fit`. Defaults to `None`.
        epochs: the total number of epochs of the run (not "more epochs").
        batch_size: as for `model.fit`. Defaults to `None`.
        validation_data: as for `model.fit`. Defaults to `None`.
        validation_split: as for `model.fit`. Defaults to `0.0`.
        run_dir: folder for checkpoints, logs and the resume state; `None` writes nothing and
            never resumes. Defaults to `None`.
        resume: continue from the state in `run_dir`; `False` starts over (the old state files
            are removed). Defaults to `True`.
        callbacks: `"default"` for `kerasx.callbacks.defaults(...)`; a list for exactly those
            callbacks (`[]` for none), where the string `"default"` may stand for the defaults
            (`["default", MyCallback()]`). Resume needs a `Checkpoint` in the list.
            Defaults to `"default"`.
        monitor: the quantity for the best checkpoint and early stopping. The default
            `"val_loss"` becomes `"loss"` when there is no validation data.
            Defaults to `"val_loss"`.
        patience: early-stopping patience in epochs (with `restore_best_weights=True`); `None`
            for no early stopping. Defaults to `None`.
        progress: `"auto"` or `True` for `kerasx.callbacks.ProgressBar`, `False` for none.
            With `"auto"`, passing Keras's `verbose=` uses Keras's own progress output
            instead. Defaults to `"auto"`.
        seed: seeds Python, NumPy, TensorFlow and Keras (`keras.utils.set_random_seed`) just
            before training, so the data order is a function of the seed; `None` uses the seed
            of the run being resumed, else the one last given to `seed_everything`, else none.
            Defaults to `None`.
        strategy: a `tf.distribute.Strategy` or a name for `kerasx.runtime.strategy`; the
            model's variables must have been created in its scope. Defaults to `None`.
        **fit_kwargs: passed to `model.fit`.

    Returns:
        A `kerasx.History` holding every epoch of the run (earlier calls included), with
        `resumed_from_epoch`, `trained_epochs`, `finished`, `stopped_early`, `interrupted`.

    Raises:
        ConfigurationError: for a bad argument, an uncompiled model, an unbuilt model resumed
            from a state, a `run_dir` written by a different architecture, or a model not
            created under `strategy`.
        CorruptFileError: if the newest state file in `run_dir` cannot be read.
        TrainingError: if the loss became NaN or infinite (the last good state is kept).

    Example:

    ```python
    history = kerasx.fit(model, x, y, epochs=10, validation_split=0.1, run_dir="runs/a")
    print(history.best())           # (epoch, val_loss)
    ```
    """
    _check_epochs(epochs)
    for name in ("initial_epoch", "callbacks"):
        if name in fit_kwargs:  # pragma: no cover - `callbacks` is a named argument
            raise ConfigurationError(
                f"kerasx.fit sets `{name}` itself (it resumes from the run directory). "
                f"Received: {name}={fit_kwargs[name]!r}. Remove it."
            )
    if not any(progress is value or progress == value for value in PROGRESS_VALUES) or (
        isinstance(progress, int) and not isinstance(progress, bool)
    ):
        raise ConfigurationError(
            f'`progress` must be "auto", True or False. Received: progress={progress!r}.'
        )
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ConfigurationError(
            "kerasx.fit needs a compiled model. Received: a model that was not compiled. "
            "Call `model.compile(...)` or `kerasx.models.compile(model)` first."
        )
    if y is not None:
        # A model compiled by kerasx.models.compile(labels="auto") learns here whether its
        # targets are class ids or one-hot rows. It recompiles, so it must come before any
        # optimizer state is restored.
        resolve_labels(model, y)
    verbose = fit_kwargs.pop("verbose", None)
    if verbose is not None and progress == "auto" and progress is not True:
        progress = False  # the caller chose Keras's own progress output
    has_validation = validation_data is not None or bool(validation_split)
    if monitor == "val_loss" and not has_validation:
        monitor = "loss"
    if strategy is not None:
        _check_strategy(model, strategy)
    folder = Path(run_dir) if run_dir is not None else None
    callback_list = _resolve_callbacks(callbacks, folder, monitor, patience, progress)

    history = History()
    run = RunContext(run_dir=folder, history=history, epochs=epochs)
    history.run = run
    history.run_dir = folder
    run.early_stopping = [
        cb for cb in callback_list if isinstance(cb, keras.callbacks.EarlyStopping)
    ]
    extra_callbacks: list[Any] = []
    if hasattr(x, "get_state") and hasattr(x, "set_state"):
        run.generator = x
        # A DataGenerator shuffles its samples itself, from (seed, epoch). Keras's own batch
        # shuffle would draw from Python's global RNG, which resume cannot replay.
        fit_kwargs.setdefault("shuffle", False)
        if _gathers_in_tensorflow(x) and "steps_per_epoch" not in fit_kwargs:
            # Same batches, same order, without a Python call per batch (see _GeneratorEpochs).
            extra_callbacks.append(_GeneratorEpochs(x))
            x = x.tensor_dataset()
    checkpoints = [cb for cb in callback_list if isinstance(cb, Checkpoint)]
    for callback in callback_list:
        if isinstance(callback, Checkpoint | HistoryLogger | LivePlot):
            callback.run = run

    loaded: LoadedState | None = None
    if folder is not None and checkpoints:
        if resume:
            loaded = checkpoints[0].latest_state()
        else:
            for checkpoint in checkpoints:
                checkpoint.clear_states()
            for logger in callback_list:
                if isinstance(logger, HistoryLogger):
                    logger.json_path.unlink(missing_ok=True)
                    logger.csv_path.unlink(missing_ok=True)
    if loaded is not None and (not model.built or not model.variables):
        raise ConfigurationError(
            "A model must be built before kerasx.fit can resume its run. Received: an unbuilt "
            f"{type(model).__name__} and the state {str(loaded.path)!r}. Start the model with "
            "`keras.Input(shape)` or call `model.build(input_shape)` before `kerasx.fit`."
        )
    if model.built and model.variables:
        run.fingerprint, run.architecture = fingerprint(model), architecture(model)

    initial_epoch = 0
    if loaded is not None:
        assert folder is not None
        _check_resumable(model, loaded, folder, run.fingerprint)
        _restore_model(model, loaded)
        saved_history = loaded.meta["history"]
        history.history = {k: [float(v) for v in vals] for k, vals in saved_history.items()}
        history.epoch = [int(e) for e in loaded.meta.get("history_epochs", [])]
        initial_epoch = int(loaded.meta["epoch"])
        history.resumed_from_epoch = initial_epoch
        run.loaded = loaded
        if seed is None:
            seed = loaded.meta.get("seed")
        if _is_finished(loaded, epochs):
            _finish_restored(model, loaded, run)
            history.finished = True
            history.stopped_early = bool(loaded.meta.get("stopped_early")) or any(
                s.get("stopped_epoch", 0) > 0 for s in loaded.meta.get("early_stopping", [])
            )
            history.run = None
            _log.info("Run in %s is finished; returning its history.", folder)
            return history
        _log.info("Resuming the run in %s after epoch %d.", folder, initial_epoch)
    if seed is None:
        seed = _SEED
    run.seed = seed
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        if run.fingerprint:
            _write_run_info(folder, run, monitor)
    if seed is not None:
        keras.utils.set_random_seed(seed)

    ordered = [
        *extra_callbacks,
        _RunGuard(run),
        *(cb for cb in callback_list if not isinstance(cb, Checkpoint)),
        history,
        *checkpoints,
    ]
    with _sigterm_stops(model, run, enabled=folder is not None) as previous:
        model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            validation_split=validation_split,
            initial_epoch=initial_epoch,
            callbacks=ordered,
            verbose=0 if verbose is None else verbose,
            **fit_kwargs,
        )
    history.run = None
    history.trained_epochs = len(history.epoch) - initial_epoch
    history.stopped_early = any(cb.stopped_epoch > 0 for cb in run.early_stopping)
    history.interrupted = run.terminate_requested
    history.finished = not run.terminate_requested and run.failed is None
    if run.failed is not None:
        where = f" The last good state is in {str(folder)!r}." if folder is not None else ""
        raise TrainingError(
            f"Training stopped because {run.failed}.{where} Received: a diverging run. Lower "
            "the learning rate, check the data for NaN/Inf, or clip gradients "
            "(`clipnorm=` on the optimizer)."
        )
    if run.terminate_requested:
        _log.warning(
            "SIGTERM: training stopped after epoch %d; resume with the same run_dir.",
            len(history.epoch),
        )
        handler = previous[0] if previous else signal.SIG_DFL
        if callable(handler):
            handler(signal.SIGTERM, None)
        elif handler != signal.SIG_IGN:
            raise SystemExit(_EXIT_SIGTERM)
    return history
