"""Resuming a run: read its newest state, check it fits the model, restore it.

- `open_run(model, run, callbacks, resume=...)`: the state to resume from (or None), after
  removing the old states when the run starts over.
- `restore_run(model, run, state)`: the model's and optimizer's variables, the history and
  the epoch count; the checkpoints hand the callbacks and the data their states when
  training starts.
- `is_finished(state, epochs)`, `finish_restored(...)`: a run that has nothing left to train.
- `start_run(run, monitor)`: `run.json` and the seed, just before training.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import keras

from kerasx._atomic import atomic_write_text
from kerasx._compat import fast_path_enabled
from kerasx._compat.training import SYMBOLIC_BUILD, symbolic_build
from kerasx._version import __version__
from kerasx.callbacks._history_logger import HistoryLogger
from kerasx.callbacks._run_state import (
    LoadedState,
    architecture,
    assign_variables,
    fingerprint,
    paired_states,
    saved_stop,
)
from kerasx.callbacks._tensorboard import TensorBoardLogger
from kerasx.errors import ConfigurationError
from kerasx.runtime import model_strategy
from kerasx.training._run import FitRun

__all__ = [
    "build_metrics",
    "finish_restored",
    "is_finished",
    "open_run",
    "restore_run",
    "start_run",
]

_log = logging.getLogger(__name__)


def _start_over(run: FitRun, callbacks: Sequence[Any]) -> None:
    """Remove the states and logs of an earlier run in the same directory (`resume=False`)."""
    for checkpoint in run.checkpoints:
        checkpoint.clear_states()
    for logger in callbacks:
        if isinstance(logger, HistoryLogger):
            logger.json_path.unlink(missing_ok=True)
            logger.csv_path.unlink(missing_ok=True)
        elif isinstance(logger, TensorBoardLogger):
            logger.clear()


def open_run(
    model: Any, run: FitRun, callbacks: Sequence[Any], *, resume: bool
) -> LoadedState | None:
    """The state `kerasx.fit` resumes from, or None for a fresh run.

    Also records the model's fingerprint in `run` (for the state files and `run.json`).

    Args:
        model: the model to train.
        run: the run, with its directory and checkpoints.
        callbacks: the callbacks of the run (history and TensorBoard logs are removed with
            `resume=False`).
        resume: whether to continue from the newest state; `False` removes the old states.

    Returns:
        The newest readable state, or None.

    Raises:
        ConfigurationError: if there is a state to resume but the model is not built.
        CorruptFileError: if state files exist but none of them can be read.
    """
    loaded: LoadedState | None = None
    if run.run_dir is not None and run.checkpoints:
        if resume:
            loaded = run.checkpoints[0].latest_state(mid_epoch=run.mid_epoch)
        else:
            _start_over(run, callbacks)
    if loaded is not None and (not model.built or not model.variables):
        raise ConfigurationError(
            "A model must be built before kerasx.fit can resume its run. Received: an unbuilt "
            f"{type(model).__name__} and the state {str(loaded.path)!r}. Start the model with "
            "`keras.Input(shape)` or call `model.build(input_shape)` before `kerasx.fit`."
        )
    if model.built and model.variables:
        run.fingerprint, run.architecture = fingerprint(model), architecture(model)
    return loaded


def _check_resumable(model: Any, loaded: LoadedState, run: FitRun) -> None:
    if loaded.meta.get("fingerprint") == run.fingerprint:
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
        f"will not load its weights into this one. Received: run_dir={str(run.run_dir)!r} "
        f"({detail}). Use a new `run_dir`, or pass `resume=False` to start this run over in it."
    )


def _restore_model(model: Any, loaded: LoadedState) -> None:
    assign_variables(model.variables, loaded.groups.get("model", []), "model")
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    assign_variables(optimizer.variables, loaded.groups.get("optimizer", []), "optimizer")


def restore_run(model: Any, run: FitRun, loaded: LoadedState) -> None:
    """Bring `model` and `run` to the state `loaded`.

    Assigns the model's and optimizer's variables, sets the history and the epoch (and step)
    count, and asks each checkpoint to restore the callbacks and the data when training
    starts (`Checkpoint.resume_from`).

    Args:
        model: the model to train, built.
        run: the run of this call.
        loaded: the state to resume from.

    Raises:
        ConfigurationError: if the state was written by a model of another architecture.
    """
    _check_resumable(model, loaded, run)
    _restore_model(model, loaded)
    meta = loaded.meta
    history = run.history
    history.restore(meta["history"], meta.get("history_epochs", []), meta.get("history_logs"))
    run.start_epoch = int(meta["epoch"])
    run.step_offset = int(meta.get("step", 0))
    run.loaded = loaded
    for checkpoint in run.checkpoints:
        checkpoint.resume_from(loaded)


def is_finished(loaded: LoadedState, epochs: int) -> bool:
    """Whether the run of `loaded` has nothing left to train for `epochs` epochs: it trained
    them all, or early stopping ended it."""
    return saved_stop(loaded.meta) or int(loaded.meta["epoch"]) >= epochs


def finish_restored(model: Any, loaded: LoadedState, callbacks: Sequence[Any]) -> None:
    """Bring a run killed after its last epoch but before its end to its final weights: the
    best weights of an `EarlyStopping(restore_best_weights=True)`, as its `on_train_end`
    would have restored them."""
    if loaded.meta.get("finished"):
        return  # the final state already holds the final weights
    for callback, _state, arrays in paired_states(loaded, callbacks):
        restores = isinstance(callback, keras.callbacks.EarlyStopping) and bool(
            callback.restore_best_weights
        )
        if restores and arrays:
            model.set_weights(list(arrays))


def start_run(run: FitRun, monitor: str) -> None:
    """Just before training: create the run directory, write `run.json`, seed everything."""
    if run.run_dir is not None:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        if run.fingerprint:
            info = {
                "kerasx_version": __version__,
                "fingerprint": run.fingerprint,
                "architecture": run.architecture,
                "monitor": monitor,
                "seed": run.seed,
                "epochs": run.epochs,
            }
            atomic_write_text(run.run_dir / "run.json", json.dumps(info, indent=2) + "\n")
    if run.seed is not None:
        keras.utils.set_random_seed(run.seed)


def build_metrics(model: Any, batch: Any) -> None:
    """Create the compiled metrics' variables before `fit`, as Keras does under a strategy.

    Without a strategy Keras builds them while tracing the first step, too late to restore
    the accumulators of an epoch SIGTERM cut short. kerasx builds them from the shapes of
    `batch` (the fast path `symbolic_build`), or else runs the model, its loss and metrics
    once on `batch` and resets the metrics. If neither works, the resumed epoch's metrics
    cover only its remaining steps (`RunGuard` says so).

    Args:
        model: the compiled model.
        batch: one batch of the training input.
    """
    if model_strategy(model) is not None:
        return  # Keras builds them before training (`_maybe_symbolic_build`)
    try:
        if fast_path_enabled(SYMBOLIC_BUILD):
            symbolic_build(model, batch)
        else:
            _build_by_running(model, batch)
    except Exception as error:  # pragma: no cover - the metrics restart (warned)
        _log.debug("Could not build the metrics before resuming: %s", error)


def _build_by_running(model: Any, batch: Any) -> None:
    """The public path of `build_metrics`: one forward pass, loss and metrics, then reset."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    y_pred = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
    model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
    model.reset_metrics()
