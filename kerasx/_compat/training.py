"""Keras's training internals that `kerasx.fit` reaches, and the patches it scopes to one call.

Checked on Keras 3.12.0 and 3.15.1 with TensorFlow 2.21. Two kinds live here:

- the *required* internals of the multi-worker workaround (keras-team/keras#20585: plain
  `model.fit` fails under a `MultiWorkerMirroredStrategy` spanning several workers, on both
  versions). `keras_builds_from(model, batch)` and `scalar_means_across_workers()` are context
  managers: what they change lasts only while they are active, is guarded by a lock and a
  nesting count (so nested and concurrent `kerasx.fit` calls restore correctly), and is undone
  in `finally`, also when training raises. On a Keras without the internals they need, they
  raise `MissingDependencyError`, naming the installed Keras and the fix;
- the fast path `symbolic_build` (`symbolic_build(model, batch)`), whose public path the
  caller takes when `fast_path_enabled(SYMBOLIC_BUILD)` says no.

`multi_worker_mode(strategy)` answers what Keras's private `_collective_all_reduce_multi_worker`
answers, from public attributes only.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kerasx._compat import internal_module, register_fast_path

__all__ = [
    "SYMBOLIC_BUILD",
    "keras_builds_from",
    "multi_worker_mode",
    "scalar_means_across_workers",
    "symbolic_build",
]

_TRAINER = "keras.src.backend.tensorflow.trainer"
_BASE_TRAINER = "keras.src.trainers.trainer"
_NEEDED_FOR = "kerasx.fit under a multi-worker MultiWorkerMirroredStrategy (keras-team/keras#20585)"


def _has_symbolic_build() -> bool:
    trainer = importlib.import_module(_BASE_TRAINER)
    return callable(getattr(trainer.Trainer, "_symbolic_build", None))


SYMBOLIC_BUILD = register_fast_path(
    "symbolic_build",
    "kerasx creates a model's metric, loss and optimizer variables from the shapes of one batch "
    "(Keras's own `_symbolic_build`), without running it, before resuming a mid-epoch state; "
    "the public path runs the model, its loss and its metrics once on that batch, then resets "
    "the metrics.",
    _has_symbolic_build,
).name


def _required_member(owner: Any, owner_name: str, member: str) -> Any:
    """`owner.member`, or the `MissingDependencyError` that `internal_module` gives."""
    found = getattr(owner, member, None)
    if found is None:
        internal_module(f"{owner_name}.{member}", needed_for=_NEEDED_FOR)  # raises
    return found


def multi_worker_mode(strategy: Any) -> bool:
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` spanning several workers.

    What Keras's private `keras.src.backend.tensorflow.trainer._collective_all_reduce_multi_worker`
    answers (Keras 3.12.0 and 3.15.1), and so whether Keras takes its multi-worker code paths,
    computed from public attributes: such a strategy has more replicas in sync than local
    devices. No internals are read, so this works on any Keras.

    Args:
        strategy: a `tf.distribute.Strategy`, or None.

    Returns:
        True for a multi-worker `MultiWorkerMirroredStrategy`.
    """
    if strategy is None:
        return False
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    local_devices = len(strategy.extended.worker_devices)
    return int(strategy.num_replicas_in_sync) > local_devices


def symbolic_build(model: Any, batch: Any) -> None:
    """Create `model`'s variables and those of its compiled loss, metrics and optimizer.

    The fast path `symbolic_build`: calls `model._symbolic_build(data_batch=batch)` (Keras
    3.12.0 and 3.15.1), which Keras runs before `fit` under a distribution strategy; it reads
    only the shapes and dtypes of `batch` and runs nothing. Callers check
    `fast_path_enabled(SYMBOLIC_BUILD)` first; the public path runs the model, `compute_loss`
    and `compute_metrics` once on `batch` and then `reset_metrics()`.

    Args:
        model: a compiled `keras.Model`.
        batch: one batch of training data, `(x, y)` or `(x, y, sample_weight)`.
    """
    model._symbolic_build(data_batch=batch)


@dataclass
class _Pinned:
    """One instance attribute set by `keras_builds_from`, while any call needs it."""

    model: Any  # holds the model so that its id is not reused while pinned
    depth: int
    had_own: bool
    own: Any


_LOCK = threading.Lock()
_PINNED: dict[int, _Pinned] = {}
_REDUCE_DEPTH = 0
_REDUCE_ORIGINAL: Any = None


@contextmanager
def keras_builds_from(model: Any, batch: Any) -> Iterator[None]:
    """While active, Keras builds `model` from the local `batch`, not from a distributed one.

    Before training under a strategy, Keras 3.12.0 and 3.15.1 (`TensorFlowTrainer.fit` and
    `evaluate`) call `model._maybe_symbolic_build(iterator=...)`, which first averages a
    distributed input batch over the replicas to learn its shapes; under a multi-worker
    `MultiWorkerMirroredStrategy` that average fails (keras-team/keras#20585). While this
    context is active, `model._maybe_symbolic_build` is an instance attribute that calls
    Keras's own method with `data_batch=batch` instead, which builds the same variables in
    the strategy's scope. On exit the instance attribute is removed again (or set back to
    what the instance held before); nested and concurrent uses on one model share it, and the
    last one to leave restores.

    Args:
        model: a compiled `keras.Model`.
        batch: one local batch of its training input (`(x, y)` or `(x, y, sample_weight)`).

    Raises:
        MissingDependencyError: this Keras's models have no `_maybe_symbolic_build`.
    """
    key = id(model)
    with _LOCK:
        pinned = _PINNED.get(key)
        if pinned is None:
            keras_build = _required_member(model, "keras.Model", "_maybe_symbolic_build")
            had_own = "_maybe_symbolic_build" in vars(model)
            own = vars(model).get("_maybe_symbolic_build")

            def build_from_local_batch(iterator: Any = None, data_batch: Any = None) -> Any:
                return keras_build(data_batch=batch if data_batch is None else data_batch)

            model._maybe_symbolic_build = build_from_local_batch
            pinned = _PINNED[key] = _Pinned(model, 0, had_own, own)
        pinned.depth += 1
    try:
        yield
    finally:
        with _LOCK:
            pinned.depth -= 1
            if pinned.depth == 0:
                del _PINNED[key]
                if pinned.had_own:
                    model._maybe_symbolic_build = pinned.own
                else:
                    del model._maybe_symbolic_build


def _mean_with_scalars(keras_reduce: Callable[..., Any]) -> Callable[..., Any]:
    """Keras's `reduce_per_replica`, except that means across workers accept scalars."""
    import keras

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and multi_worker_mode(strategy):

            def mean(value: Any) -> Any:
                rank = strategy.experimental_local_results(value)[0].shape.rank
                return strategy.reduce("MEAN", value, axis=None if rank == 0 else 0)

            return keras.tree.map_structure(mean, values)
        return keras_reduce(values, strategy, reduction)

    return reduce_per_replica


@contextmanager
def scalar_means_across_workers() -> Iterator[None]:
    """While active, Keras averages scalar metrics across workers without an axis.

    Keras 3.12.0 and 3.15.1 average the step's logs across the workers of a multi-worker
    `MultiWorkerMirroredStrategy` with `strategy.reduce("MEAN", value, axis=0)`, which
    TensorFlow refuses for the scalars that losses and metrics are (keras-team/keras#20585).
    While this context is active, `keras.src.backend.tensorflow.trainer.reduce_per_replica`
    is a function that reduces rank-0 values with `axis=None` in that case and hands every
    other case to Keras's own function. Keras looks it up when it traces its train and test
    functions, which `fit` does inside this context. On exit Keras's function is put back;
    nested and concurrent uses share one replacement, and the last one to leave restores.

    Raises:
        MissingDependencyError: this Keras has no such module or function.
    """
    global _REDUCE_DEPTH, _REDUCE_ORIGINAL
    trainer = internal_module(_TRAINER, needed_for=_NEEDED_FOR)
    with _LOCK:
        if _REDUCE_DEPTH == 0:
            original = _required_member(trainer, _TRAINER, "reduce_per_replica")
            trainer.reduce_per_replica = _mean_with_scalars(original)
            _REDUCE_ORIGINAL = original
        _REDUCE_DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _REDUCE_DEPTH -= 1
            if _REDUCE_DEPTH == 0:
                trainer.reduce_per_replica = _REDUCE_ORIGINAL
                _REDUCE_ORIGINAL = None
