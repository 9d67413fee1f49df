"""`lr_find`: the learning-rate range test, which leaves the model as it found it.

Trains `steps` mini-batches with a learning rate that grows exponentially from `min_lr` to
`max_lr`, records the loss of each batch, and stops early when the loss diverges. Then the
model's variables, the optimizer's variables and its learning rate (a schedule included) are
put back exactly as they were. It reads as its steps: check the arguments, prepare the
batches, build the model and its optimizer, save their state, make the learning rate settable,
run, restore, summarise.

This module imports Keras; `import kerasx` loads it only on first use of `kerasx.lr_find`.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

from kerasx._compat.optimizers import learning_rate_source
from kerasx.errors import ConfigurationError
from kerasx.models._compile import labels_pending, resolve_labels
from kerasx.runtime import model_strategy
from kerasx.training._feeds import targets_of
from kerasx.training._lr_batches import lr_find_batches
from kerasx.training._lr_result import (
    LRFinderResult,
    Smoother,
    smooth_losses,
    smoothing_for,
    steepest_descent,
    warm_up_for,
)
from kerasx.training._resume import build_metrics

__all__ = ["MIN_STEPS", "lr_find"]

_log = logging.getLogger(__name__)

MIN_STEPS = 10
"""The fewest steps `lr_find` runs: fewer cannot show where the loss falls fastest."""


def _check_model(model: Any) -> None:
    """Refuse a model `lr_find` cannot train: uncompiled, or replicated over devices."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ConfigurationError(
            "kerasx.lr_find needs a compiled model: it trains with the model's optimizer and "
            "loss. Received: a model that was not compiled. Call `model.compile(...)` or "
            "`kerasx.models.compile(model)` first."
        )
    strategy = model_strategy(model)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        raise ConfigurationError(
            "kerasx.lr_find trains on one device. Received: a model created under "
            f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas. Find "
            "the learning rate with a copy built outside the strategy's scope (for a global "
            "batch of B, pass batch_size=B)."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _check_numbers(min_lr: Any, max_lr: Any, steps: Any, stop_factor: Any, seed: Any) -> None:
    """Refuse learning rates, step counts, stop factors and seeds `lr_find` cannot use."""
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise ConfigurationError(
                f"`{name}` must be a finite number above 0. Received: {name}={value!r}."
            )
    if min_lr >= max_lr:
        raise ConfigurationError(
            "`min_lr` must be below `max_lr`: the learning rate grows from one to the other. "
            f"Received: min_lr={min_lr!r}, max_lr={max_lr!r}."
        )
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < MIN_STEPS:
        raise ConfigurationError(
            f"`steps` must be an integer of at least {MIN_STEPS}: fewer steps cannot show "
            f"where the loss falls fastest. Received: steps={steps!r}. The default, 100, "
            "suits most models."
        )
    if not _is_number(stop_factor) or math.isnan(stop_factor) or stop_factor <= 1:
        raise ConfigurationError(
            "`stop_factor` must be a number above 1: the run stops when the smoothed loss "
            f"exceeds stop_factor times its best. Received: stop_factor={stop_factor!r}. "
            "Pass math.inf to never stop early."
        )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise ConfigurationError(
            f"`seed` must be a non-negative integer or None. Received: seed={seed!r}."
        )


def _learn_labels(model: Any, x: Any, y: Any) -> None:
    """Let a model compiled by `kerasx.models.compile(labels="auto")` learn whether its
    targets are class ids or one-hot rows, as `kerasx.fit` does."""
    targets = y if y is not None or not labels_pending(model) else targets_of(x)
    if targets is not None:
        resolve_labels(model, targets)


def _build(model: Any, batch: Any) -> None:
    """Create the model's, its metrics' and its optimizer's variables from `batch`, as
    `fit` would, so that all of them exist before their values are saved."""
    build_metrics(model, batch)
    if not model.built or not model.trainable_variables:
        raise ConfigurationError(
            "kerasx.lr_find needs a model with trainable weights. Received: "
            f"{'a model without trainable weights' if model.built else 'an unbuilt model'} "
            "(build it first: give it a `keras.Input`, or call it on a batch)."
        )
    optimizer = model.optimizer
    if not optimizer.built:
        with model.distribute_strategy.scope():
            optimizer.build(model.trainable_variables)


def _save_values(model: Any, saved: dict[int, tuple[Any, Any]]) -> None:
    """Add the value of every variable of the model, its optimizer and its metrics that is
    not in `saved` yet."""
    for variable in [*model.variables, *model.optimizer.variables, *model.metrics_variables]:
        if id(variable) not in saved:
            saved[id(variable)] = (variable, variable.numpy())


@contextmanager
def _state_restored(model: Any, batch: Any) -> Iterator[None]:
    """Build the model from `batch` (see `_build`), and put back on exit, also when training
    raised, the values its variables, its optimizer's and its metrics' had: the values from
    before the build, and for the variables the build created, their first values."""
    saved: dict[int, tuple[Any, Any]] = {}
    _save_values(model, saved)
    try:
        _build(model, batch)
        _save_values(model, saved)
        yield
    finally:
        for variable, value in saved.values():
            variable.assign(value)


def _is_own_variable(optimizer: Any, value: Any) -> bool:
    """Whether `value` is a variable of the optimizer itself (whose value `_state_restored`
    saves), rather than, say, a variable a learning-rate callable returns."""
    if not isinstance(value, keras.Variable):
        return False
    return any(variable is value for variable in optimizer.variables)


@contextmanager
def _settable_learning_rate(optimizer: Any) -> Iterator[tuple[Any, bool]]:
    """A variable the optimizer reads its learning rate from while the context lasts, and
    whether it is a new one.

    For a float learning rate that is the optimizer's own variable, one of
    `optimizer.variables` (`_state_restored` puts its value back). For a
    `LearningRateSchedule` or a callable, the optimizer gets a callable returning a new
    variable, and on exit the very same schedule object back, both through Keras's public
    `learning_rate` setter. A variable a callable returns is never written to, not even when
    it is a `keras.Variable`: it belongs to the user, and `_state_restored` does not know it.
    """
    current = optimizer.learning_rate
    if _is_own_variable(optimizer, current):
        yield current, False
        return
    original = learning_rate_source(optimizer)
    if original is None:  # pragma: no cover - a Keras that keeps it elsewhere
        raise ConfigurationError(
            "kerasx.lr_find cannot find this optimizer's learning-rate schedule to put it back "
            f"afterwards (Keras {keras.__version__}). Received: {type(optimizer).__name__} "
            "with a schedule. Compile with a float learning rate for the search."
        )
    variable = keras.Variable(0.0, dtype=keras.config.floatx(), trainable=False, name="lr_find")
    optimizer.learning_rate = lambda: variable
    try:
        yield variable, True
    finally:
        optimizer.learning_rate = original


@contextmanager
def _training_step(model: Any, learning_rate: Any, *, fresh: bool) -> Iterator[Callable]:
    """`step(batch, lr)`: set the learning rate, train on one batch, return its loss.

    Trains through Keras's own training function (`model.make_train_function()`, called with
    one batch as `train_on_batch` calls it), so `train_step`, the model's strategy, XLA and
    `run_eagerly` act as in `fit`, and a function Keras has traced already is reused. The
    metrics are reset before each step, so the loss returned is the batch's own. With
    `fresh`, Keras makes a new function (the one it has may have been traced with the
    learning-rate schedule the search replaced), and the model gets its old one back on exit.
    """
    previous = model.train_function
    model.make_train_function(force=fresh)
    train = model.train_function

    def step(batch: Any, lr: float) -> Any:
        learning_rate.assign(lr)
        model.reset_metrics()
        logs = train(iter([batch]))
        if not isinstance(logs, dict) or "loss" not in logs:
            raise ConfigurationError(
                "kerasx.lr_find reads the loss from the logs `train_step` returns. Received: "
                f"logs {logs!r} without a 'loss' entry. Return `self.compute_metrics(...)` (or a "
                "dict with 'loss') from your `train_step`."
            )
        return logs["loss"]

    try:
        yield step
    finally:
        if fresh:
            model.train_function = previous


def _run(
    step: Callable[[Any, Any], Any],
    batches: Iterator[Any],
    lrs: list[float],
    stop_factor: float,
    smoothing: float,
) -> tuple[list[float], str | None]:
    """Train one step per learning rate; stop when the loss diverges or is not finite.

    The loss of each step is read back into Python and checked there (not in TensorFlow):
    a NaN or infinite loss stops the run and is not recorded; a smoothed loss above
    `stop_factor` times its best is recorded, then stops the run.

    Returns:
        The recorded losses, and the reason the run stopped early (None if it did not).
    """
    losses: list[float] = []
    smoother = Smoother(smoothing)
    best = math.inf
    for lr in lrs:
        loss = float(step(next(batches), lr))
        if not math.isfinite(loss):
            return losses, "not finite"
        losses.append(loss)
        smoothed = smoother.add(loss)
        if smoothed > stop_factor * best:
            return losses, "diverged"
        best = min(best, smoothed)
    return losses, None


def lr_find(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    steps: int = 100,
    batch_size: int | None = None,
    stop_factor: float = 4.0,
    seed: int | None = None,
) -> LRFinderResult:
    """Find a learning rate: train briefly with a growing one and see where the loss falls.

    The learning-rate range test (L. Smith, 2015; fastai's `lr_find`): trains `steps`
    mini-batches with a learning rate that grows exponentially from `min_lr` to `max_lr` (one
    step per rate, both ends included), records each batch's loss, and suggests the rate at
    which the smoothed loss falls fastest. The run stops early when the smoothed loss exceeds
    `stop_factor` times its best, or when a loss is NaN or infinite.

    Afterwards, also when the search raised, the model is exactly as it was: the values of its
    variables (weights, batch statistics, dropout seed states), of its optimizer's variables
    (iteration count, moments, learning rate) and of its metrics' variables, and the
    optimizer's learning-rate schedule object, if it has one. An optimizer or model that was
    not built yet is built first, as `fit` would. A model compiled by
    `kerasx.models.compile(labels="auto")` learns whether its targets are class ids or one-hot
    rows from `y`, as in `kerasx.fit`. Each step runs Keras's own training function
    (`model.make_train_function()`, which stays cached on the model as after
    `train_on_batch`), so a custom `train_step`, XLA and `run_eagerly` act as they do in `fit`.

    How to read the result: the suggestion is a starting point for a constant learning rate
    (or the peak of a one-cycle schedule); `result.plot()` shows the whole curve. The rule
    behind it: the raw losses are smoothed by an exponential moving average over about the last
    tenth of the steps (weight `1 - 10 / steps`, bias-corrected as in Adam); the suggestion is
    the learning rate where the slope of the smoothed loss with respect to `log10(lr)` is most
    negative, among the steps after the first tenth (where the average is still warming up)
    and before the smoothed loss reaches its minimum.

    Args:
        model: a compiled `keras.Model`, on one device.
        x: NumPy arrays (an array, or a list or dict of arrays) with `y`; a kerasx
            `DataGenerator` (or any `keras.utils.PyDataset`) or a `tf.data.Dataset` of
            `(x, y)` batches. Data with fewer batches than `steps` is cycled through.
        y: the targets of array inputs. Defaults to `None`.
        min_lr: the first learning rate. Defaults to `1e-7`.
        max_lr: the last learning rate. Defaults to `10.0`.
        steps: the number of mini-batches, at least 10. Defaults to `100`.
        batch_size: samples per batch drawn from arrays (a partial last batch of each pass
            is dropped); must be None for a generator or a dataset. Defaults to `None`, 32.
        stop_factor: stop when the smoothed loss exceeds this many times its best (above 1;
            `math.inf` never stops early: use it for losses that can be negative).
            Defaults to `4.0`.
        seed: the order in which the samples of arrays are drawn; a generator or a dataset
            keeps its own order. `None` draws one from NumPy's global generator, so
            `kerasx.seed_everything` makes the search reproducible. Defaults to `None`.

    Returns:
        An `LRFinderResult` with `lrs`, `losses`, `smoothed_losses`, `suggestion`,
        `stop_reason` and `.plot()`.

    Raises:
        ConfigurationError: for an uncompiled model, a model without trainable weights or
            with several replicas, `steps` below 10, `min_lr` not below `max_lr`, a
            learning rate, `stop_factor` or `seed` out of range, or an input `lr_find` does
            not take.
        DataError: for arrays of different lengths, or a generator or dataset that yields
            no batch.

    Example:

    ```python
    model = kerasx.models.compile(kerasx.models.mlp((64,), outputs=10))
    result = kerasx.lr_find(model, x, y, seed=0)
    result.plot()                                   # the loss against the learning rate
    model.optimizer.learning_rate = result.suggestion
    kerasx.fit(model, x, y, epochs=10)
    ```
    """
    _check_model(model)
    _check_numbers(min_lr, max_lr, steps, stop_factor, seed)
    batches = lr_find_batches(x, y, batch_size=batch_size, seed=seed)
    _learn_labels(model, x, y)
    first = next(batches)
    lrs = min_lr * (max_lr / min_lr) ** (np.arange(steps, dtype=np.float64) / (steps - 1))
    smoothing = smoothing_for(steps)
    with (
        _state_restored(model, first),
        _settable_learning_rate(model.optimizer) as (learning_rate, swapped),
        _training_step(model, learning_rate, fresh=swapped) as step,
    ):
        losses, stop_reason = _run(
            step, itertools.chain([first], batches), lrs.tolist(), stop_factor, smoothing
        )
    lrs = lrs[: len(losses)]
    smoothed = smooth_losses(losses, smoothing)
    suggestion = steepest_descent(lrs, smoothed, skip=warm_up_for(steps))
    if suggestion is None:
        _log.warning(
            "lr_find found no learning rate at which the loss falls (%d steps, lr %.3g to "
            "%.3g). Lower min_lr, or check the model and its data.",
            len(losses),
            min_lr,
            lrs[-1] if len(lrs) else min_lr,
        )
    return LRFinderResult(
        np.asarray(lrs), np.asarray(losses, dtype=np.float64), smoothed, suggestion, stop_reason
    )
