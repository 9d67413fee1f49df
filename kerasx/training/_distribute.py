"""`tf.distribute` in `kerasx.fit`: the strategy check and the multi-worker workaround.

Keras 3 cannot run `model.fit` under a `MultiWorkerMirroredStrategy` spanning several workers
(keras-team/keras#20585); `multi_worker_fit` is the context `kerasx.fit` trains in then. The
touches of Keras internals here (the module `keras.src.backend.tensorflow.trainer`, loaded
through `kerasx._compat.internal_module`, and the model's `_distribute_strategy`,
`_symbolic_build` and `_maybe_symbolic_build`) were checked on Keras 3.15 with TensorFlow 2.21.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

from kerasx._compat import internal_module
from kerasx.errors import ConfigurationError

__all__ = ["check_strategy", "first_batch", "is_multi_worker", "multi_worker_fit"]

_TRAINER = "keras.src.backend.tensorflow.trainer"
_NEEDED_FOR = "kerasx.fit under a multi-worker MultiWorkerMirroredStrategy"

_reduce_fixed = False


def check_strategy(model: Any, strategy: Any) -> Any:
    """The `tf.distribute.Strategy` that `strategy` names, checked against `model`.

    Args:
        model: the model to train.
        strategy: a `tf.distribute.Strategy` or a name for `kerasx.runtime.strategy`.

    Returns:
        The strategy.

    Raises:
        ConfigurationError: if `strategy` is neither, or if the model's variables were not
            created in its scope.
    """
    if isinstance(strategy, str):
        from kerasx.runtime import strategy as named_strategy

        strategy = named_strategy(strategy)
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


def is_multi_worker(model: Any) -> bool:
    """Whether `model` trains under a `MultiWorkerMirroredStrategy` spanning several workers."""
    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None:
        return False
    trainer = internal_module(_TRAINER, needed_for=_NEEDED_FOR)
    return bool(trainer._collective_all_reduce_multi_worker(strategy))


def first_batch(x: Any, y: Any, batch_size: int | None) -> Any:
    """One local, undistributed batch of the training input (for building the model)."""
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        return next(iter(x))
    if hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end"):
        return x[0]  # a PyDataset / DataGenerator
    size = batch_size or 32
    first = keras.tree.map_structure(lambda a: a[:size], x)
    return first if y is None else (first, keras.tree.map_structure(lambda a: a[:size], y))


def _fix_multi_worker_mean() -> None:
    """Keras 3.15 reduces scalar metrics across workers with `axis=0`, which TensorFlow refuses
    for rank-0 values; reduce those with `axis=None`. Other cases go to Keras unchanged."""
    global _reduce_fixed
    if _reduce_fixed:
        return
    trainer = internal_module(_TRAINER, needed_for=_NEEDED_FOR)
    keras_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            return keras.tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None if v.shape.rank == 0 else 0),
                values,
            )
        return keras_reduce(values, strategy, reduction)

    trainer.reduce_per_replica = reduce_per_replica
    _reduce_fixed = True


@contextmanager
def multi_worker_fit(model: Any, batch: Any) -> Iterator[None]:
    """Let `model.fit` run under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).

    Keras 3 first all-reduces a distributed input batch only to learn its shapes, which fails
    for a multi-worker strategy, then reduces scalar metrics along an axis they lack. kerasx
    builds the model from one local batch instead, skips that reduction for this call, and
    reduces scalars without an axis.

    Args:
        model: the model, compiled under the strategy.
        batch: one local batch of the training input (`first_batch`).
    """
    _fix_multi_worker_mean()
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda *args, **kwargs: None
    try:
        yield
    finally:
        del model._maybe_symbolic_build
