"""Learning-rate schedules for `kerasx.fit(..., lr_schedule=..., warmup=...)`.

`kerasx.fit` sets the optimizer's learning rate to a Keras `CosineDecay` schedule built from
the optimizer's own learning rate (the peak), `epochs` and the batches per epoch. A schedule
object is a function of the optimizer's iteration count, which the run state saves with the
other optimizer variables, so a resumed run (after SIGKILL or SIGTERM) uses at every step the
learning rate an uninterrupted run uses. Keras's own class serves underneath, so `best.keras`
loads anywhere, without kerasx.

The closed forms, for a peak learning rate `lr` (the optimizer's learning rate when `fit`
starts), `T = epochs * batches_per_epoch` steps and the global step `t` (the optimizer's
`iterations` before the step, from 0):

- `"cosine"`: `W = min(round(warmup * T), T - 1)` warm-up steps, `D = T - W`.
  `t < W`: `lr * t / W` (linear from 0); then `lr * (1 + cos(pi * min(t - W, D) / D)) / 2`,
  from `lr` down towards 0.
- `"onecycle"` (Smith's one-cycle policy, with the div factors of fastai and PyTorch's
  `OneCycleLR`): `W = min(max(round(p * T), 1), T - 1)` rising steps, `p = warmup`, or 0.3
  when `warmup` is 0; `D = T - W`. `t < W`: `lr / 25 + (lr - lr / 25) * t / W` (linear rise
  from `lr / 25`); then `lr * ((1 - a) * (1 + cos(pi * min(t - W, D) / D)) / 2 + a)` with
  `a = 1 / (25 * 1e4)`: a cosine fall from `lr` to `lr / 25 / 1e4`. Momentum is not cycled.

`LearningRateLog` adds the learning rate at the end of each epoch to the logs as
`"learning_rate"` (the rate of the next step, as Keras's `TensorBoard` and `ReduceLROnPlateau`
report it), so `History`, `history.csv` and TensorBoard record it.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any

import keras

from kerasx.errors import ConfigurationError

__all__ = [
    "LR_SCHEDULES",
    "ONECYCLE_DIV",
    "ONECYCLE_FINAL_DIV",
    "ONECYCLE_RISE",
    "LearningRateLog",
    "apply_schedule",
    "changing_rate",
    "check_resumed_schedule",
    "check_schedule_arguments",
    "has_own_schedule",
    "schedule_description",
]

_log = logging.getLogger(__name__)

LR_SCHEDULES: tuple[str, ...] = ("cosine", "onecycle")
"""The names `kerasx.fit` accepts as `lr_schedule`."""

ONECYCLE_DIV = 25.0
"""One-cycle starts at `lr / ONECYCLE_DIV` (fastai's and PyTorch's `div_factor`)."""

ONECYCLE_FINAL_DIV = 1e4
"""One-cycle ends at `lr / ONECYCLE_DIV / ONECYCLE_FINAL_DIV` (`final_div_factor`)."""

ONECYCLE_RISE = 0.3
"""The fraction of the steps one-cycle spends rising when `warmup` is 0 (`pct_start`)."""

_NAME_PREFIX = "kerasx_"
"""kerasx's schedules are Keras `CosineDecay` objects named `kerasx_cosine` / `kerasx_onecycle`,
so `fit` can tell them from a user's schedule (and replace them) from the optimizer's config."""

_LR_CALLBACKS = ("LearningRateScheduler", "ReduceLROnPlateau")


def check_schedule_arguments(
    lr_schedule: Any, warmup: Any, model: Any, callbacks: list[Any]
) -> None:
    """Refuse an `lr_schedule`/`warmup` pair `fit` cannot use, before anything changes.

    Args:
        lr_schedule: None, `"cosine"` or `"onecycle"`.
        warmup: the fraction of the steps spent warming up, in `[0, 1)`.
        model: the compiled model.
        callbacks: the resolved callback list.

    Raises:
        ConfigurationError: for an unknown name, a `warmup` outside `[0, 1)` (or given
            without a schedule), an optimizer whose learning rate is already a schedule, or a
            callback that also sets the learning rate.
    """
    if lr_schedule is not None and lr_schedule not in LR_SCHEDULES:
        raise ConfigurationError(
            f'`lr_schedule` must be None, "cosine" or "onecycle". Received: '
            f"lr_schedule={lr_schedule!r}."
        )
    if (
        isinstance(warmup, bool)
        or not isinstance(warmup, numbers.Real)
        or not (0.0 <= float(warmup) < 1.0)
    ):
        raise ConfigurationError(
            "`warmup` must be a number in [0, 1): the fraction of the run's steps spent "
            f"warming up. Received: warmup={warmup!r}."
        )
    if lr_schedule is None:
        if warmup:
            raise ConfigurationError(
                "`warmup` applies to an `lr_schedule`. Received: warmup="
                f'{warmup!r} with lr_schedule=None. Pass lr_schedule="cosine" (or '
                '"onecycle"), or leave warmup at 0.'
            )
        return
    optimizer = model.optimizer
    if not _has_float_rate(optimizer) and not has_own_schedule(optimizer):
        raise ConfigurationError(
            "`lr_schedule` sets the optimizer's learning rate, but this optimizer's learning "
            f"rate is already a schedule. Received: lr_schedule={lr_schedule!r} with "
            f"{type(optimizer).__name__}(learning_rate={_rate_config(optimizer)!r}). Compile "
            "with a float learning rate (the peak of the schedule), or drop `lr_schedule`."
        )
    setters = [type(cb).__name__ for cb in callbacks if type(cb).__name__ in _LR_CALLBACKS]
    if setters:
        raise ConfigurationError(
            "`lr_schedule` sets the learning rate at every step; a callback that also sets "
            f"it would fight it. Received: lr_schedule={lr_schedule!r} with the callbacks "
            f"{setters}. Remove one of them."
        )


def _inner(optimizer: Any) -> Any:
    """The optimizer that holds the learning rate (inside a `LossScaleOptimizer`)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _rate_config(optimizer: Any) -> Any:
    """The learning rate in the optimizer's config: a float, or a serialized schedule."""
    return _inner(optimizer).get_config().get("learning_rate")


def _has_float_rate(optimizer: Any) -> bool:
    """Whether the learning rate is a plain value (a variable), not a schedule or callable."""
    return isinstance(optimizer.learning_rate, keras.Variable)


def has_own_schedule(optimizer: Any) -> bool:
    """Whether the optimizer's learning rate is a schedule `kerasx.fit` set (`lr_schedule`)."""
    config = _rate_config(optimizer)
    if not isinstance(config, dict):
        return False
    name = str((config.get("config") or {}).get("name", ""))
    return config.get("class_name") == "CosineDecay" and name.startswith(_NAME_PREFIX)


def _peak(optimizer: Any) -> float:
    """The peak learning rate: the optimizer's rate, or the peak of kerasx's own schedule."""
    if _has_float_rate(optimizer):
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    config = _rate_config(optimizer)["config"]
    target = config.get("warmup_target")
    return float(target if target is not None else config["initial_learning_rate"])


def _schedule(name: str, peak: float, total: int, warmup: float) -> Any:
    """The Keras schedule of the closed form in the module docstring."""
    cosine = keras.optimizers.schedules.CosineDecay
    if name == "cosine":
        warm = min(round(warmup * total), total - 1)
        if warm <= 0:
            return cosine(peak, total, alpha=0.0, name="kerasx_cosine")
        return cosine(
            0.0, total - warm, alpha=0.0, name="kerasx_cosine",
            warmup_target=peak, warmup_steps=warm,
        )
    alpha = 1.0 / (ONECYCLE_DIV * ONECYCLE_FINAL_DIV)
    rise = warmup if warmup > 0 else ONECYCLE_RISE
    warm = min(max(round(rise * total), 1), total - 1)
    if warm <= 0:  # a single step: nothing to rise over
        return cosine(peak, total, alpha=alpha, name="kerasx_onecycle")
    return cosine(
        peak / ONECYCLE_DIV, total - warm, alpha=alpha, name="kerasx_onecycle",
        warmup_target=peak, warmup_steps=warm,
    )


def schedule_description(lr_schedule: str | None, warmup: float) -> dict[str, Any] | None:
    """What the run state records of the schedule, so that a resume can check it."""
    if lr_schedule is None:
        return None
    return {"name": lr_schedule, "warmup": float(warmup)}


def check_resumed_schedule(
    meta: dict[str, Any], description: dict[str, Any] | None, run_dir: Any
) -> None:
    """Refuse to resume a run state with another `lr_schedule` than the one it trained with.

    Args:
        meta: the `meta` document of the state being resumed.
        description: `schedule_description(...)` of this call.
        run_dir: the run directory, for the message.

    Raises:
        ConfigurationError: if the schedule's name or warm-up differ.
    """
    saved = meta.get("lr_schedule")
    if saved == description:
        return
    def shown(value: dict[str, Any] | None) -> str:
        if value is None:
            return "lr_schedule=None"
        return f"lr_schedule={value['name']!r}, warmup={value['warmup']!r}"

    raise ConfigurationError(
        f"The run in {str(run_dir)!r} trained with {shown(saved)}, so its optimizer state and "
        f"learning rates do not continue with another schedule. Received: {shown(description)}. "
        "Pass the same `lr_schedule` and `warmup` to resume it, or `resume=False` to start over."
    )


def apply_schedule(
    model: Any,
    lr_schedule: str,
    warmup: float,
    epochs: int,
    steps_per_epoch: int | None,
    *,
    fresh: bool,
) -> Any:
    """Set the optimizer's learning rate to the schedule `lr_schedule` over the run.

    Args:
        model: the compiled model, checked by `check_schedule_arguments`.
        lr_schedule: `"cosine"` or `"onecycle"`.
        warmup: the warm-up (or rising) fraction of the steps.
        epochs: the epochs of the run.
        steps_per_epoch: the batches per epoch, or None when unknown.
        fresh: whether the run starts now (no state is resumed): an optimizer that has
            already taken steps then gets a warning, as the schedule starts at its step.

    Returns:
        The Keras schedule now set.

    Raises:
        ConfigurationError: when the batches per epoch are unknown.
    """
    if not steps_per_epoch:
        raise ConfigurationError(
            "`lr_schedule` needs the number of batches per epoch to compute the schedule's "
            f"steps, and this input does not say. Received: lr_schedule={lr_schedule!r} with "
            "an input of unknown length (a generator or an infinite dataset). Pass "
            "`steps_per_epoch=`."
        )
    optimizer = model.optimizer
    peak = _peak(optimizer)
    total = int(epochs) * int(steps_per_epoch)
    schedule = _schedule(lr_schedule, peak, total, float(warmup))
    step = int(keras.ops.convert_to_numpy(optimizer.iterations))
    if fresh and step:
        _log.warning(
            "lr_schedule=%r: the optimizer has already taken %d steps, so the schedule (%d "
            "steps) starts at step %d. Resuming a run is exact; for a new run, compile a "
            "fresh optimizer.", lr_schedule, step, total, step,
        )
    optimizer.learning_rate = schedule
    return schedule


def changing_rate(optimizer: Any) -> bool:
    """Whether the optimizer's learning rate may change from step to step (a schedule)."""
    return not _has_float_rate(optimizer)


class LearningRateLog(keras.callbacks.Callback):
    """Add the learning rate at the end of each epoch to the logs, as `"learning_rate"`.

    `kerasx.fit` puts it first among the callbacks when the learning rate follows a schedule,
    so every callback that records the logs (the history, its files, TensorBoard) has it. The
    value is the optimizer's learning rate once the epoch's last step is done: the rate of
    the next step, as Keras's `TensorBoard` and `ReduceLROnPlateau` report it.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        value = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if math.isfinite(value):
            logs["learning_rate"] = value
