"""`tf.distribute` in `kerasx.fit`: the strategy check and the multi-worker workaround.

Keras 3 cannot run `model.fit` under a `MultiWorkerMirroredStrategy` spanning several workers
(keras-team/keras#20585; Keras 3.12.0 and 3.15.1 both fail). `multi_worker_fit` is the context
`kerasx.fit` trains in then. The Keras internals it needs are reached through
`kerasx._compat.training`, and what it changes lasts only while the context is active: when
`kerasx.fit` returns or raises, Keras's functions are Keras's again and the model holds nothing
of kerasx's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

from kerasx._compat.training import (
    keras_builds_from,
    multi_worker_mode,
    scalar_means_across_workers,
)
from kerasx.errors import ConfigurationError

__all__ = ["check_strategy", "first_batch", "is_multi_worker", "multi_worker_fit"]


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
    """Whether `model` trains under a `MultiWorkerMirroredStrategy` spanning several workers.

    That is the strategy Keras trains it under (`model.distribute_strategy`: its own, else the
    one in scope).
    """
    return multi_worker_mode(getattr(model, "distribute_strategy", None))


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


@contextmanager
def multi_worker_fit(model: Any, batch: Any) -> Iterator[None]:
    """Let `model.fit` run under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).

    Keras 3 first all-reduces a distributed input batch only to learn its shapes, which fails
    for a multi-worker strategy, then reduces scalar metrics along an axis they lack. While
    this context is active, Keras builds the model from one local batch instead and reduces
    scalars without an axis; on exit, also when training raised, all of it is undone.

    Args:
        model: the model, compiled under the strategy.
        batch: one local batch of the training input (`first_batch`).

    Raises:
        MissingDependencyError: if this Keras lacks the internals the workaround needs.
    """
    with keras_builds_from(model, batch), scalar_means_across_workers():
        yield
