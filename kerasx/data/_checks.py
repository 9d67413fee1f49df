"""The checks `DataGenerator` runs on its arguments and on every batch.

Each check raises a `DataError` that states the rule, what was received and how to fix it.
Imports NumPy and no TensorFlow, so it is cheap to test on its own.
"""

from __future__ import annotations

import functools
import numbers
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasx.data._structure import (
    BatchSpec,
    batch_spec,
    fast_key,
    first_difference,
    leading_sizes,
    unpicklable_attributes,
)
from kerasx.errors import DataError

__all__ = [
    "BatchChecker",
    "check_fraction",
    "check_initialised",
    "check_picklable",
    "check_positive_int",
    "check_random_access",
    "check_seed",
    "check_split_sizes",
    "check_state",
    "checked_init",
    "load_error",
    "preview",
]


# ---------------------------------------------------------------------- arguments


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """`value` as an `int`, if it is a whole number of at least `minimum`.

    Args:
        name: the argument's name, for the message.
        value: the value received.
        minimum: the smallest value allowed. Defaults to `1`.

    Returns:
        `int(value)`.

    Raises:
        DataError: if `value` is a `bool`, not an integer, or below `minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}. "
            f"Pass a whole number of at least {minimum}."
        )
    return int(value)


def check_seed(seed: Any) -> int:
    """`seed` as an `int`, if it is a non-negative integer.

    Raises:
        DataError: if `seed` is a `bool`, not an integer, or negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"`seed` must be a non-negative integer or None. Received: seed={seed!r}.")
    return int(seed)


def check_state(state: Any) -> tuple[int, int]:
    """The `(seed, epoch)` of a state that `DataGenerator.get_state()` returned.

    Raises:
        DataError: if `state` is not a dict with non-negative integers `seed` and `epoch`.
    """
    if not isinstance(state, dict) or "seed" not in state or "epoch" not in state:
        raise DataError(
            "`state` must be a dict with integer keys 'seed' and 'epoch', as returned by "
            f"get_state(). Received: state={state!r}."
        )
    for key in ("seed", "epoch"):
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise DataError(
                f"state[{key!r}] must be a non-negative integer. Received: {key}={value!r}."
            )
    return int(state["seed"]), int(state["epoch"])


def check_fraction(validation_fraction: Any) -> float:
    """`validation_fraction` as a `float`, if it is a number strictly between 0 and 1.

    Raises:
        DataError: if it is a `bool`, not a real number, or not in `(0, 1)`.
    """
    if isinstance(validation_fraction, bool) or not isinstance(
        validation_fraction, numbers.Real
    ) or not 0.0 < float(validation_fraction) < 1.0:
        raise DataError(
            "`validation_fraction` must be a number strictly between 0 and 1. "
            f"Received: validation_fraction={validation_fraction!r}."
        )
    return float(validation_fraction)


def check_random_access(generator: Any) -> None:
    """Check that a generator can load any sample by index, as `split()` needs.

    Raises:
        DataError: if it cannot (a generator built by `DataGenerator.from_generator`).
    """
    if not generator._random_access:
        raise DataError(
            f"split() needs random access to samples, which {type(generator).__name__} (a "
            "Python generator) does not have. Received: a generator built by "
            "from_generator. Split the data before writing the generator function."
        )


def check_split_sizes(
    validation_fraction: float, num_samples: int, n_train: int, n_val: int
) -> None:
    """Check that a split leaves at least one sample on each side.

    Raises:
        DataError: if `n_train` or `n_val` is below 1.
    """
    if n_val < 1 or n_train < 1:
        raise DataError(
            f"split({validation_fraction}) of {num_samples} samples leaves "
            f"{n_train} for training and {n_val} for validation; both need at least one. "
            "Use a fraction closer to 0.5 or more samples."
        )


# ---------------------------------------------------------------------- construction


def checked_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a subclass's `__init__` so that a forgotten `super().__init__` is reported at once.

    The wrapped `__init__` also checks, when the generator uses process workers, that it can
    be pickled.

    Args:
        init: the `__init__` a `DataGenerator` subclass defines.

    Returns:
        The wrapped `__init__`.
    """

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if "_kx_num_samples" not in self.__dict__:
            cls = type(self).__name__
            raise DataError(
                f"{cls}.__init__ must call `super().__init__(num_samples, batch_size, **kwargs)`"
                f" so that DataGenerator knows the number of samples, the batch size, the seed "
                f"and the worker options. Received: a {cls} whose __init__ did not call it. "
                f"Add `super().__init__(num_samples, batch_size=batch_size, **kwargs)` to "
                f"{cls}.__init__."
            )
        if self.__dict__.get("_kx_use_multiprocessing"):
            check_picklable(self)

    return __init__


def check_initialised(generator: Any) -> None:
    """Check that `DataGenerator.__init__` ran before the generator is used.

    Raises:
        DataError: if it did not.
    """
    if "_kx_num_samples" not in generator.__dict__:
        raise DataError(
            f"{type(generator).__name__} was used before DataGenerator.__init__ ran. Call "
            "`super().__init__(num_samples, batch_size=batch_size, **kwargs)` first in "
            f"{type(generator).__name__}.__init__."
        )


def check_picklable(generator: Any) -> None:
    """Check that a generator using process workers can be pickled, naming what cannot.

    Raises:
        DataError: if `generator` or one of its attributes cannot be pickled; the pickling
            error is its cause.
    """
    bad, whole = unpicklable_attributes(generator)
    if whole is None:
        return
    cls = type(generator).__name__
    if bad:
        names = ", ".join(f"`{name}` ({type(err).__name__}: {err})" for name, err in bad)
        what = f"these attributes cannot be pickled: {names}"
    else:
        what = f"it cannot be pickled ({type(whole).__name__}: {whole})"
    raise DataError(
        f"{cls} has use_multiprocessing=True, so each worker process receives a pickled "
        f"copy of it, but {what}. Received: use_multiprocessing=True. "
        "Create such objects (open files, locks, lambdas, connections) lazily inside "
        "load_batch, replace lambdas with module-level functions, or use threads "
        "(use_multiprocessing=False)."
    ) from whole


# ---------------------------------------------------------------------- batches


def preview(indices: np.ndarray, limit: int = 6) -> str:
    """The first `limit` indices and their count, for messages: `[3, 8, ...] (32 samples)`."""
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    return f"[{shown}{', ...' if len(indices) > limit else ''}] ({len(indices)} samples)"


def load_error(
    origin: tuple[str, np.ndarray, bool], index: int, epoch: int, error: Exception
) -> DataError:
    """The error raised when `load_batch` fails: it names the batch, the epoch, the indices
    and the line that failed.

    Args:
        origin: `(class, indices, view)`: the class whose `load_batch` failed, the indices it
            received, and whether the generator is a `split()` view of it.
        index: the batch position.
        epoch: the generator's epoch.
        error: what `load_batch` raised.

    Returns:
        The `DataError` to raise from `error`.
    """
    cls, source, view = origin
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"
    of_view = " of a split() view" if view else ""
    return DataError(
        f"{cls}.load_batch failed on batch {index}{of_view} (epoch {epoch}, "
        f"indices {preview(source)}) with {type(error).__name__}: {error}{where}. The "
        "original traceback is chained above this error; fix load_batch for these indices."
    )


class BatchChecker:
    """Checks every batch against the first one loaded: same structure, dtypes and shapes
    except the batch dimension, and one batch dimension for all arrays of a batch.

    Args:
        batch_size: the batch dimension `rows` reports before a batch is loaded.

    Attributes:
        spec: the first batch's spec, or `None` before a batch is loaded.
        spec_batch: the position of that batch (`-1` before one is loaded).
        rows: that batch's batch dimension.
    """

    def __init__(self, batch_size: int) -> None:
        self.spec: BatchSpec | None = None
        self.spec_batch = -1
        self.rows = batch_size
        self._fast_key: Any = None

    def check(self, index: int, batch: Any, owner: Callable[[], str]) -> None:
        """Check batch `index`; the first batch checked becomes the reference.

        Args:
            index: the batch position.
            batch: what `load_batch` returned.
            owner: names who loads the batches, for messages (called only on an error).

        Raises:
            DataError: if the arrays of the batch have different batch dimensions, or the
                batch differs from the first one in more than the batch dimension.
        """
        key = fast_key(batch)
        if key is not None and key == self._fast_key:
            return
        spec, full_shapes = batch_spec(batch)
        sizes = set(leading_sizes(full_shapes).values())
        if len(sizes) > 1:
            raise DataError(
                f"Batch {index} of {owner()}: all arrays of a batch must have the "
                f"same first (batch) dimension. Received shapes: {full_shapes}. Make load_batch "
                "return one row per index for x, y and sample_weight."
            )
        if self.spec is None:
            self.spec = spec
            self.spec_batch = index
            self.rows = min(sizes) if sizes else self.rows
            self._fast_key = key
            return
        difference = first_difference(spec, self.spec, full_shapes)
        if difference is not None:
            raise DataError(
                f"Batch {index} of {owner()} does not match the first batch loaded "
                f"(batch {self.spec_batch}): {difference}. Every batch must have the same "
                "structure, dtypes and shapes except the batch dimension; make load_batch "
                "return the same kind of arrays for every batch."
            )
