"""Where Keras 3 optimizers keep their per-variable slots, for a Keras 2 file's optimizer state.

A Keras 2 / tf-keras HDF5 file names each optimizer slot (`Adam/m/dense/kernel:0`). Keras 3
has no public way to find the slot variable of a model variable: each optimizer keeps its slots
in private lists (`Adam._momentums`, `Adam._velocities`, ...), one entry per trained variable,
in the order of the variables it was built with. The table and the functions below read those
lists; they were checked on Keras 3.12.0 and 3.15.1.

On another Keras, a list the table names may be missing. The function then answers None, the
caller finds that the file's state does not fit, and the optimizer starts fresh with a logged
warning naming what did not fit, as for any state that does not fit; the model and its
weights load as usual.

`learning_rate_source` reads where an optimizer keeps its learning-rate schedule object, so
that `kerasx.lr_find` can put the same object back after its search.
"""

from __future__ import annotations

from typing import Any

__all__ = ["knows_slots", "learning_rate_source", "nadam_product_variable", "slot_variable"]

_SLOTS_BY_OPTIMIZER: dict[str, dict[str, str]] = {
    "Adam": {"m": "_momentums", "v": "_velocities", "vhat": "_velocity_hats"},
    "Adamax": {"m": "_m", "u": "_u", "v": "_u"},
    "Nadam": {"m": "_momentums", "v": "_velocities"},
    "RMSprop": {
        "velocity": "_velocities",
        "rms": "_velocities",
        "momentum": "_momentums",
        "average_gradient": "_average_gradients",
        "mg": "_average_gradients",
    },
    "SGD": {"m": "momentums", "momentum": "momentums"},
    "Adagrad": {"accumulator": "_accumulators"},
    "Adadelta": {
        "accumulated_grad": "_accumulated_grads",
        "accum_grad": "_accumulated_grads",
        "accumulated_delta_var": "_accumulated_delta_vars",
        "accum_var": "_accumulated_delta_vars",
    },
    "Ftrl": {"accumulator": "_accumulators", "linear": "_linears"},
    "Lion": {"m": "_momentums"},
}
"""Keras 2 slot name -> the Keras 3 optimizer attribute holding that slot, one list entry per
trainable variable. Keys cover both Keras 2.11+ names (`m`, `velocity`) and the older
optimizers' names (`rms`, `accum_grad`). A subclass (`AdamW`) uses its base class's table."""

_EMA_SLOTS = {"average": "_model_variables_moving_average"}
"""Every optimizer's exponential moving average of the model variables (`use_ema=True`)."""


def _slot_table(optimizer: Any) -> dict[str, str] | None:
    """The slot table of the optimizer's class or its nearest Keras base class, or None."""
    import keras

    for cls in type(optimizer).__mro__:
        table = _SLOTS_BY_OPTIMIZER.get(cls.__name__)
        if table is not None and cls is getattr(keras.optimizers, cls.__name__, None):
            return {**table, **_EMA_SLOTS}
    return None


def knows_slots(optimizer: Any) -> frozenset[str] | None:
    """The Keras 2 slot names kerasx can place in `optimizer`, or None for an unknown class.

    Args:
        optimizer: a Keras 3 optimizer.

    Returns:
        The names (such as `m`, `v`, `average`), or None when kerasx does not know where the
        optimizer's class keeps its slots.
    """
    table = _slot_table(optimizer)
    return None if table is None else frozenset(table)


def slot_variable(optimizer: Any, slot: str, index: int) -> Any:
    """The variable holding slot `slot` of the optimizer's `index`-th trained variable.

    Reads the private list the table names for the optimizer's class (for example
    `Adam._momentums` for `m`); Keras 3.12.0 and 3.15.1 order it like the variables the
    optimizer was built with.

    Args:
        optimizer: a built Keras 3 optimizer.
        slot: a Keras 2 slot name from `knows_slots(optimizer)`.
        index: the position of the model variable in the list the optimizer was built with.

    Returns:
        The slot variable, or None when this optimizer has no such slot (for example `vhat`
        without `amsgrad`, or a Keras that keeps its slots elsewhere).
    """
    table = _slot_table(optimizer) or {}
    attribute = table.get(slot)
    if attribute is None:
        return None
    slots = getattr(optimizer, attribute, None) or []
    return slots[index] if 0 <= index < len(slots) else None


def nadam_product_variable(optimizer: Any) -> Any:
    """Nadam's running product of momentum factors (private `_u_product`), or None.

    Checked on Keras 3.12.0 and 3.15.1; None for other optimizers, or on a Keras that keeps it
    elsewhere (the caller then finds a variable without a saved value and starts fresh).
    """
    return getattr(optimizer, "_u_product", None)


def learning_rate_source(optimizer: Any) -> Any:
    """What `optimizer` computes its learning rate from: a variable, a schedule or a callable.

    Keras's public `optimizer.learning_rate` answers the current value: the variable itself for
    a float learning rate, but only the schedule's value for a `LearningRateSchedule` (or a
    callable's result), not the object. Keras 3.12.0 and 3.15.1 keep the object in the private
    `_learning_rate` (on `inner_optimizer` for a `LossScaleOptimizer`); this reads it, so that
    `kerasx.lr_find` can put the very same schedule back through the public setter.

    Args:
        optimizer: a Keras 3 optimizer.

    Returns:
        The `keras.Variable`, `LearningRateSchedule` or callable, or None on a Keras that keeps
        it elsewhere.
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return getattr(inner, "_learning_rate", None)
