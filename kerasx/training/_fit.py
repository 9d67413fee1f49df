"""`fit`: one-call training with a run directory, exact resume and default callbacks.

`fit(model, x, y, epochs=..., run_dir=...)` trains with checkpoints, logs and a progress bar;
called again after a crash (SIGKILL at any moment included) it continues from the last
completed epoch, with the same weights, optimizer state, data order and history. It reads as
its steps: check the arguments, prepare the input (`_feeds`), open and restore the run
(`_resume`), order the callbacks, train (`_signals` for SIGTERM, `_distribute` for
multi-worker strategies), finish.

This module imports Keras; `import kerasx` loads it only on first use of `kerasx.fit`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import keras

from kerasx.callbacks._checkpoint import Checkpoint
from kerasx.callbacks._defaults import PROGRESS_VALUES, defaults
from kerasx.callbacks._history_logger import HistoryLogger
from kerasx.callbacks._live_plot import LivePlot
from kerasx.callbacks._run_state import LoadedState, saved_stop
from kerasx.callbacks._tensorboard import TensorBoardLogger
from kerasx.errors import ConfigurationError, TrainingError
from kerasx.models._compile import fit_steps_per_execution, labels_pending, resolve_labels
from kerasx.training._distribute import (
    check_strategy,
    first_batch,
    is_multi_worker,
    multi_worker_fit,
)
from kerasx.training._feeds import (
    Feed,
    batches_per_epoch,
    data_error_in,
    is_dataset,
    pipeline_steps,
    prepare_input,
    targets_of,
    train_input,
)
from kerasx.training._history import History, last_seed
from kerasx.training._lr_schedules import (
    LearningRateLog,
    apply_schedule,
    changing_rate,
    check_resumed_schedule,
    check_schedule_arguments,
    schedule_description,
)
from kerasx.training._resume import (
    build_metrics,
    finish_restored,
    is_finished,
    open_run,
    restore_run,
    start_run,
)
from kerasx.training._run import FitRun
from kerasx.training._signals import RunGuard, pass_on_sigterm, sigterm_stops

__all__ = ["fit"]

_log = logging.getLogger(__name__)


def _check_arguments(
    model: Any, epochs: Any, progress: Any, tensorboard: Any, fit_kwargs: dict[str, Any]
) -> None:
    """Refuse what `fit` cannot train with, before anything is changed."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigurationError(
            f"`epochs` must be an integer of at least 1. Received: epochs={epochs!r}."
        )
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
    if not isinstance(tensorboard, bool):
        raise ConfigurationError(
            f"`tensorboard` must be True or False. Received: tensorboard={tensorboard!r}."
        )
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ConfigurationError(
            "kerasx.fit needs a compiled model. Received: a model that was not compiled. "
            "Call `model.compile(...)` or `kerasx.models.compile(model)` first."
        )


def _learn_labels(model: Any, x: Any, y: Any) -> None:
    """Let a model compiled by `kerasx.models.compile(labels="auto")` learn whether its
    targets are class ids or one-hot rows. It recompiles, so it must come before any
    optimizer state is restored."""
    targets = y if y is not None or not labels_pending(model) else targets_of(x)
    if targets is not None:
        resolve_labels(model, targets)


def _resolve_callbacks(
    callbacks: Any,
    run_dir: Path | None,
    monitor: str,
    patience: int | None,
    progress: Any,
    tensorboard: bool,
) -> list[Any]:
    """The callback list: `"default"` expanded to `kerasx.callbacks.defaults(...)`."""
    options = dict(monitor=monitor, patience=patience, progress=progress, tensorboard=tensorboard)
    if isinstance(callbacks, str):
        if callbacks != "default":
            raise ConfigurationError(
                '`callbacks` must be "default", or a list of callbacks that may contain the '
                f'string "default". Received: callbacks={callbacks!r}.'
            )
        return defaults(run_dir, **options)
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
            resolved.extend(defaults(run_dir, **options))
        elif isinstance(item, keras.callbacks.Callback):
            resolved.append(item)
        else:
            raise ConfigurationError(
                "Every item of `callbacks` must be a `keras.callbacks.Callback` or the string "
                f'"default". Received: {item!r}.'
            )
    return resolved


def _new_run(run_dir: Path | None, epochs: int, callbacks: list[Any], feed: Feed) -> FitRun:
    """The run of this call, with its `History`, wired to kerasx's callbacks.

    Each `Checkpoint` tracks the callbacks of the list and the training data, whose states
    it saves and restores.
    """
    history = History()
    run = FitRun(run_dir=run_dir, history=history, epochs=epochs, mid_epoch=feed.mid_epoch)
    history.run, history.run_dir = run, run_dir
    run.early_stopping = [
        cb for cb in callbacks if isinstance(cb, keras.callbacks.EarlyStopping)
    ]
    run.checkpoints = [cb for cb in callbacks if isinstance(cb, Checkpoint)]
    for callback in callbacks:
        if isinstance(callback, Checkpoint | HistoryLogger | LivePlot | TensorBoardLogger):
            callback.run = run
    for checkpoint in run.checkpoints:
        checkpoint.track(callbacks, data=feed.generator)
    return run


def _finished_run(model: Any, run: FitRun, loaded: LoadedState, callbacks: list[Any]) -> History:
    """The history of a run that has nothing left to train, with the model at its end (and
    its TensorBoard logs complete: a kill may have come between the last state and them)."""
    finish_restored(model, loaded, callbacks)
    for logger in callbacks:
        if isinstance(logger, TensorBoardLogger):
            logger.set_model(model)
            logger.sync()
            logger.close()
    history = run.history
    history.finished = True
    history.stopped_early = saved_stop(loaded.meta)
    history.run = None
    _log.info("Run in %s is finished; returning its history.", run.run_dir)
    return history


def _order_callbacks(model: Any, feed: Feed, run: FitRun, callbacks: list[Any]) -> list[Any]:
    """The list `model.fit` gets: the generators' epoch hooks and the guard first (they
    decide what the epoch ending now is), the learning rate's log when it follows a schedule,
    then the callbacks, the history, the checkpoints (they save what all the others recorded,
    and restore the callbacks' states after their `on_train_begin`), and the TensorBoard
    loggers last (an epoch is written once its state is saved)."""
    last = (Checkpoint, TensorBoardLogger)
    return [
        *feed.callbacks,
        RunGuard(run),
        *([LearningRateLog()] if changing_rate(model.optimizer) else []),
        *(cb for cb in callbacks if not isinstance(cb, last)),
        run.history,
        *run.checkpoints,
        *(cb for cb in callbacks if isinstance(cb, TensorBoardLogger)),
    ]


def _fit_once(model: Any, run: FitRun, feed: Feed, ordered: list[Any], verbose: Any) -> list[Any]:
    """One `model.fit` call: the rest of an epoch SIGTERM cut short, or the epochs left.

    Returns:
        The SIGTERM handler that was installed before, if `sigterm_stops` replaced one.
    """
    x = train_input(feed, run.step_offset)
    run.call_epochs = run.start_epoch + 1 if run.step_offset else run.epochs
    if run.step_offset:
        build_metrics(model, feed.generator[run.step_offset])
    fit_steps_per_execution(model, batches_per_epoch(feed, x))
    call_kwargs = dict(feed.fit_kwargs)
    multi_worker: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if is_multi_worker(model):
        multi_worker = multi_worker_fit(model, first_batch(x, feed.y, feed.batch_size))
    elif feed.generator is not None and is_dataset(x):
        call_kwargs.setdefault("steps_per_epoch", pipeline_steps(x))
    with sigterm_stops(model, run, enabled=run.run_dir is not None) as previous, multi_worker:
        try:
            model.fit(
                x,
                feed.y,
                epochs=run.call_epochs,
                batch_size=feed.batch_size,
                validation_data=feed.validation_data,
                validation_split=feed.validation_split,
                initial_epoch=run.start_epoch,
                callbacks=ordered,
                verbose=0 if verbose is None else verbose,
                **call_kwargs,
            )
        except Exception as error:
            data_error = data_error_in(error)
            if data_error is None:
                raise
            raise data_error from error
    return previous


def _next_part(model: Any, run: FitRun, monitor: str) -> None:
    """After the rest of a cut-short epoch: go on from the state of that epoch's end, as a
    new `kerasx.fit` call would (callbacks' `on_train_end` may have changed the model)."""
    loaded = run.checkpoints[0].latest_state(mid_epoch=False)
    if loaded is not None:
        restore_run(model, run, loaded)
    else:  # pragma: no cover - a checkpoint with save_last=False: carry on in memory
        run.start_epoch, run.step_offset, run.loaded = int(run.call_epochs or 0), 0, None
    start_run(run, monitor)


def _train(
    model: Any, run: FitRun, feed: Feed, ordered: list[Any], verbose: Any, monitor: str
) -> list[Any]:
    """Train until the run ends or stops: first the rest of an epoch SIGTERM cut short (when
    resuming a mid-epoch state), then the remaining epochs.

    Returns:
        What `sigterm_stops` yielded in the last `model.fit` call.
    """
    previous = _fit_once(model, run, feed, ordered, verbose)
    while run.continues:
        _next_part(model, run, monitor)
        previous = _fit_once(model, run, feed, ordered, verbose)
    return previous


def _finish(run: FitRun, previous: list[Any]) -> History:
    """Fill in the history; raise if training failed; pass a SIGTERM on."""
    history = run.history
    history.run = None
    history.trained_epochs = len(history.epoch) - run.resumed_from_epoch
    history.stopped_early = any(cb.stopped_epoch > 0 for cb in run.early_stopping)
    history.interrupted = run.terminate_requested
    history.finished = not run.terminate_requested and run.failed is None
    if run.failed is not None:
        where = f" The last good state is in {str(run.run_dir)!r}." if run.run_dir else ""
        raise TrainingError(
            f"Training stopped because {run.failed}.{where} Received: a diverging run. Lower "
            "the learning rate, check the data for NaN/Inf, or clip gradients "
            "(`clipnorm=` on the optimizer)."
        )
    if run.terminate_requested:
        where = f" and {run.saved_mid_epoch} steps" if run.saved_mid_epoch else ""
        _log.warning(
            "SIGTERM: training stopped after epoch %d%s; resume with the same run_dir.",
            len(history.epoch),
            where,
        )
        pass_on_sigterm(previous)
    return history



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
    lr_schedule: str | None = None,
    warmup: float = 0.0,
    tensorboard: bool = True,
    **fit_kwargs: Any,
) -> History:
    """Train `model` with checkpoints, logs, a progress bar and exact resume.

    Calls `model.fit` once (everything in `fit_kwargs` passes through, e.g. `shuffle`,
    `class_weight`, `sample_weight`, `steps_per_epoch`, `validation_freq`); twice when it
    first finishes an epoch that SIGTERM cut short. With a `run_dir`, after every epoch it
    writes one atomic state file (weights, optimizer state, dropout RNG states, history,
    DataGenerator position, and the state of every callback that has `get_state()` and
    `set_state(state)`, early-stopping counters included: see `kerasx.callbacks.Checkpoint`),
    `best.keras` when the monitored value improves, `history.csv`/`history.json`, and
    TensorBoard event files in `run_dir/tensorboard/` (every metric and the learning rate per
    epoch, each epoch exactly once across kills and resumes; see
    `kerasx.callbacks.TensorBoardLogger`).

    Calling `fit` again with the same `run_dir` (after a crash, a kill or SIGTERM) continues
    from the last completed epoch. With `seed_everything(seed, deterministic=True)` the final
    weights equal those of an uninterrupted run. A finished run (all `epochs` done, or stopped
    early) returns its history without training; a larger `epochs` trains on from where it
    ended. SIGTERM stops training at the next batch boundary and saves the state there
    (`state-epoch-E-step-S.npz`, with the epoch's metric accumulators); the next call finishes
    that epoch from the following batch, exactly. This needs an input whose batches kerasx can
    skip: NumPy arrays (which `fit` feeds through `DataGenerator.from_arrays`, keeping Keras's
    `validation_split` rule; faster than Keras's own feeding of arrays), `from_arrays`
    generators and random-access `DataGenerator` subclasses; for other inputs the cut-short
    epoch is dropped and trained again. `fit` then raises `SystemExit(143)` (or, if another
    handler was installed, calls it after restoring it). Under a multi-worker
    `MultiWorkerMirroredStrategy`, `fit` works around keras-team/keras#20585.

    Args:
        model: a compiled `keras.Model` (built, when resuming: give it an `Input`).
        x: training inputs, as for `model.fit`. Defaults to `None`.
        y: targets, as for `model.fit`. Defaults to `None`.
        epochs: the total number of epochs of the run (not "more epochs").
        batch_size: as for `model.fit`; under a `strategy` with several replicas it is the
            global batch, split over the replicas (`kerasx.runtime.global_batch_size(32,
            strategy)` for 32 per replica). Defaults to `None`.
        validation_data: as for `model.fit`. Defaults to `None`.
        validation_split: as for `model.fit`. Defaults to `0.0`.
        run_dir: folder for checkpoints, logs and the resume state; `None` writes nothing and
            never resumes. Defaults to `None`.
        resume: continue from the state in `run_dir`; `False` starts over (the old state files
            are removed). Defaults to `True`.
        callbacks: `"default"` for `kerasx.callbacks.defaults(...)`; a list for exactly those
            callbacks (`[]` for none), where the string `"default"` may stand for the defaults
            (`["default", MyCallback()]`). Resume needs a `Checkpoint` in the list; it saves
            and restores the state of the callbacks that have `get_state()` and
            `set_state(state)`, matched by their order and class. Defaults to `"default"`.
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
        lr_schedule: `None` keeps the optimizer's learning rate; `"cosine"` (cosine decay to 0,
            after an optional linear warm-up) or `"onecycle"` (Smith's one-cycle policy) set
            it at every step from the global step (the optimizer's `iterations`, saved in the
            run state, so a resumed run gets the same rates), over `epochs` x the batches per
            epoch, with the optimizer's learning rate as the peak. The exact formulas are in
            the training guide. The learning rate at the end of each epoch is then logged as
            `"learning_rate"` (history, its files and TensorBoard). Defaults to `None`.
        warmup: for `"cosine"`, the fraction of the steps (in `[0, 1)`) over which the rate
            rises linearly from 0 to the peak; for `"onecycle"`, the fraction spent rising from
            peak / 25 (`0.0` means Smith's 0.3). Defaults to `0.0`.
        tensorboard: with a `run_dir`, write TensorBoard logs to `run_dir/tensorboard/` (part
            of the default callbacks; needs `pip install "kerasx[tensorboard]"`, else a
            warning says so once). Defaults to `True`.
        **fit_kwargs: passed to `model.fit`.

    Returns:
        A `kerasx.History` holding every epoch of the run (earlier calls included), with
        `resumed_from_epoch`, `trained_epochs`, `finished`, `stopped_early`, `interrupted`.

    Raises:
        ConfigurationError: for a bad argument, an uncompiled model, an unbuilt model resumed
            from a state, a `run_dir` written by a different architecture or with another
            `lr_schedule`, a model not created under `strategy`, or an `lr_schedule` with an
            optimizer whose learning rate is already a schedule, with a callback that sets the
            learning rate, or with an input whose batches per epoch are unknown (pass
            `steps_per_epoch`).
        CorruptFileError: if the newest state file in `run_dir` cannot be read.
        TrainingError: if the loss became NaN or infinite (the last good state is kept).

    Example:

    ```python
    history = kerasx.fit(model, x, y, epochs=10, validation_split=0.1, run_dir="runs/a",
                         lr_schedule="cosine", warmup=0.05)
    print(history.best())           # (epoch, val_loss)
    # tensorboard --logdir runs/a/tensorboard
    ```
    """
    _check_arguments(model, epochs, progress, tensorboard, fit_kwargs)
    verbose = fit_kwargs.pop("verbose", None)
    if verbose is not None and progress == "auto" and progress is not True:
        progress = False  # the caller chose Keras's own progress output
    if monitor == "val_loss" and validation_data is None and not validation_split:
        monitor = "loss"
    if strategy is not None:
        check_strategy(model, strategy)
    folder = Path(run_dir) if run_dir is not None else None
    callback_list = _resolve_callbacks(
        callbacks, folder, monitor, patience, progress, tensorboard
    )
    check_schedule_arguments(lr_schedule, warmup, model, callback_list)
    _learn_labels(model, x, y)
    feed = prepare_input(
        model, x, y, batch_size=batch_size, validation_data=validation_data,
        validation_split=validation_split, seed=seed if seed is not None else last_seed(),
        fit_kwargs=fit_kwargs, resumable=folder is not None,
    )
    with feed:  # its worker processes stop however training ends
        run = _new_run(folder, epochs, callback_list, feed)
        run.lr_schedule = schedule_description(lr_schedule, warmup)

        loaded = open_run(model, run, callback_list, resume=resume)
        if loaded is not None:
            check_resumed_schedule(loaded.meta, run.lr_schedule, folder)
        if lr_schedule is not None:
            steps = batches_per_epoch(feed, feed.x)
            apply_schedule(model, lr_schedule, warmup, epochs, steps, fresh=loaded is None)
        if loaded is not None:
            restore_run(model, run, loaded)
            run.resumed_from_epoch = run.history.resumed_from_epoch = run.start_epoch
            if seed is None:
                seed = loaded.meta.get("seed")
            if is_finished(loaded, epochs):
                return _finished_run(model, run, loaded, callback_list)
            _log.info(
                "Resuming the run in %s after epoch %d%s.", folder, run.start_epoch,
                f" and {run.step_offset} steps" if run.step_offset else "",
            )
        run.seed = seed if seed is not None else last_seed()
        start_run(run, monitor)

        ordered = _order_callbacks(model, feed, run, callback_list)
        previous = _train(model, run, feed, ordered, verbose, monitor)
        return _finish(run, previous)
