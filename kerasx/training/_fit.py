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

import contextlib
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
from kerasx._version import __version__
from kerasx.callbacks._checkpoint import Checkpoint, infer_mode
from kerasx.callbacks._defaults import PROGRESS_VALUES, defaults
from kerasx.callbacks._history_logger import HistoryLogger
from kerasx.callbacks._live_plot import LivePlot
from kerasx.callbacks._run_state import (
    LoadedState,
    RunContext,
    architecture,
    assign_variables,
    fingerprint,
)
from kerasx.errors import ConfigurationError, DataError, TrainingError
from kerasx.models._compile import fit_steps_per_execution, labels_pending, resolve_labels

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
    SIGTERM, no NaN loss) before any recording callback sees it, and saves the mid-epoch
    state after SIGTERM.

    Its only batch hook is `on_train_batch_begin`, a flag test per step.
    """

    def __init__(self, run: RunContext) -> None:
        super().__init__()
        self.run = run
        self._begin_iterations = 0
        self._offset = 0
        self._stopping = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._offset = self.run.step_offset
        if self.run.terminate_requested:
            self._stopping = True
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._begin_iterations = int(self.model.optimizer.iterations.numpy())
        loaded = self.run.loaded
        if self._offset and loaded is not None:
            # Keras has just reset the metrics; carry on from the steps before the stop.
            saved = loaded.groups.get("metrics", [])
            variables = self.model.metrics_variables
            if [tuple(v.shape) for v in variables] == [tuple(a.shape) for a in saved]:
                for variable, value in zip(variables, saved):
                    variable.assign(value)
            else:
                _log.warning(
                    "The metrics of the resumed epoch %d cover only its last %d steps: the "
                    "saved metric state does not fit this model's metrics.",
                    epoch + 1,
                    int(self.params.get("steps") or 0),
                )

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        if not run.terminate_requested or self._stopping:
            return
        # The first batch boundary after SIGTERM: `batch` steps of this call's epoch are done.
        self._stopping = True
        self.model.stop_training = True
        steps = self._offset + batch
        if run.mid_epoch and steps > 0:
            for checkpoint in run.checkpoints:
                checkpoint.save_mid_epoch(steps)
            run.saved_mid_epoch = steps

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        self._offset = 0
        run.epoch_partial = False
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            run.failed = f"the loss became {float(loss)} in epoch {epoch + 1}"
            run.epoch_partial = True
            self.model.stop_training = True
            return
        if run.terminate_requested:
            self.model.stop_training = True
            steps = self.params.get("steps")
            done = int(self.model.optimizer.iterations.numpy()) - self._begin_iterations
            run.epoch_partial = steps is None or done < steps

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.run.stopped_early = any(cb.stopped_epoch > 0 for cb in self.run.early_stopping)


class _RemainingBatches(keras.utils.PyDataset):
    """The batches of a `DataGenerator` from `skip` on: the rest of an epoch SIGTERM cut short.

    Keras calls it exactly as it would call the generator, so the generator's epoch advances
    as usual when the epoch ends.
    """

    def __init__(self, generator: Any, skip: int) -> None:
        super().__init__(
            workers=generator.workers,
            use_multiprocessing=generator.use_multiprocessing,
            max_queue_size=generator.max_queue_size,
        )
        self.generator = generator
        self.skip = skip

    def __len__(self) -> int:
        return len(self.generator) - self.skip

    def __getitem__(self, index: int) -> Any:
        return self.generator[index + self.skip]

    def on_epoch_begin(self) -> None:
        self.generator.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.generator.on_epoch_end()


class _GeneratorEpochs(keras.callbacks.Callback):
    """Call a `DataGenerator`'s epoch hooks when `fit` feeds it as a `tf.data` pipeline.

    Keras calls a `PyDataset`'s `on_epoch_begin` and `on_epoch_end` itself, but not those of
    a pipeline made from one (`tensor_dataset()`, `_threaded_dataset()`). A training generator
    gets them at each epoch's start and end, a validation generator around each evaluation.
    Keras ends a `PyDataset`'s epoch before the callbacks' `on_epoch_end`; this callback goes
    first in the list, so checkpoints see the same generator state either way.
    """

    def __init__(self, generator: Any, *, validation: bool = False) -> None:
        super().__init__()
        self.generator = generator
        self.validation = validation

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.validation:
            self.generator.on_epoch_begin()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.validation:
            self.generator.on_epoch_end()

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.validation:
            self.generator.on_epoch_begin()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.validation:
            self.generator.on_epoch_end()


def _gathers_in_tensorflow(x: Any) -> bool:
    """Whether `x` is a `DataGenerator.from_arrays` generator `fit` can feed through tf.data.

    Only plain in-memory arrays without a Python `transform` qualify: TensorFlow then gathers
    each batch from the permutation `order()` gives, the exact batches `x[i]` would return,
    without Keras's Python-generator bridge (about 2.5 ms per batch on 2 CPU cores).
    """
    from kerasx.data._sources import ArrayGenerator

    return type(x) is ArrayGenerator and x.transform is None


def _numpy_leaves(value: Any) -> list[Any] | None:
    """The arrays of `value` (an array, or a flat list/tuple/dict of arrays), else None."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return [value]
    items = list(value.values()) if isinstance(value, dict) else value
    if isinstance(items, list | tuple) and items and all(
        isinstance(item, np.ndarray) for item in items
    ):
        return list(items)
    return None


def _arrays_as_generator(
    x: Any,
    y: Any,
    batch_size: int | None,
    validation_data: Any,
    validation_split: float,
    seed: int | None,
    fit_kwargs: dict[str, Any],
) -> tuple[Any, Any] | None:
    """In-memory NumPy `x`/`y` as a `DataGenerator.from_arrays`, or None to leave them to Keras.

    `kerasx.fit` feeds plain arrays through its own generator, which TensorFlow then gathers
    in chunks (`tensor_dataset()`): less CPU per epoch than Keras's one gather per batch, and
    the data order is a function of `(seed, epoch)` that a run state records, so SIGTERM can
    save a state in the middle of an epoch and resume can skip the batches already trained.
    `validation_split` is applied as Keras applies it: the last fraction of the samples,
    before any shuffling. Anything unusual (tensors, `class_weight`, `steps_per_epoch`,
    `shuffle="batch"`) stays with Keras.

    Returns:
        `(generator, validation_data)`, or None.
    """
    import numpy as np

    from kerasx.data._sources import ArrayGenerator, take_rows

    x_leaves, y_leaves = _numpy_leaves(x), _numpy_leaves(y) if y is not None else []
    weights = fit_kwargs.get("sample_weight")
    shuffle = fit_kwargs.get("shuffle", True)
    if x_leaves is None or y_leaves is None or not isinstance(shuffle, bool):
        return None
    if weights is not None and not isinstance(weights, np.ndarray):
        return None
    if any(fit_kwargs.get(name) is not None for name in ("class_weight", "steps_per_epoch")):
        return None
    leaves = [*x_leaves, *y_leaves, *([weights] if weights is not None else [])]
    sizes = {leaf.shape[0] if leaf.ndim else -1 for leaf in leaves}
    if len(sizes) != 1 or min(sizes) < 1:
        return None  # Keras reports mismatched or empty arrays itself
    size = sizes.pop()
    split = float(validation_split or 0.0)
    if split and validation_data is None:
        split_at = math.floor(size * (1.0 - split))
        if y is None or not 0 < split_at < size:
            return None

        train, held_out = slice(0, split_at), slice(split_at, None)
        validation: tuple[Any, ...] = (take_rows(x, held_out), take_rows(y, held_out))
        if weights is not None:
            validation = (*validation, weights[held_out])
        x, y = take_rows(x, train), take_rows(y, train)
        weights = None if weights is None else weights[train]
        validation_data = validation
    generator = ArrayGenerator(
        x, y, weights, batch_size=batch_size or 32, shuffle=shuffle, seed=seed
    )
    fit_kwargs.pop("sample_weight", None)
    return generator, validation_data


def _skips_batches(x: Any, fit_kwargs: dict[str, Any]) -> bool:
    """Whether `fit` can start `x` part-way into an epoch (to resume a mid-epoch state)."""
    from kerasx.data import DataGenerator

    if "steps_per_epoch" in fit_kwargs or not isinstance(x, DataGenerator):
        return False
    return _gathers_in_tensorflow(x) or bool(getattr(x, "_random_access", False))


def _remaining_input(x: Any, skip: int, *, threads: bool) -> Any:
    """The batches of `x`'s current epoch from `skip` on (see `_skips_batches`)."""
    if _gathers_in_tensorflow(x):
        return x.tensor_dataset(skip_batches=skip)
    if threads:
        return x._threaded_dataset(skip_batches=skip)
    return _RemainingBatches(x, skip)


def _feeds_in_threads(x: Any, model: Any) -> bool:
    """Whether `fit` feeds the `DataGenerator` `x` through its `_threaded_dataset()`.

    That is a generator using threads (or none), outside a multi-worker strategy (which
    keeps Keras's own feeding of a `PyDataset`), with a batch structure tensors can hold.
    Process workers stay with Keras's queue.
    """
    from kerasx.data import DataGenerator

    return (
        isinstance(x, DataGenerator)
        and not x.use_multiprocessing
        and not _gathers_in_tensorflow(x)
        and not _is_multi_worker(model)
        and x._threaded_dataset() is not None
    )


def _own_pipeline_steps(dataset: Any) -> int | None:
    """`steps_per_epoch` for a pipeline `fit` built from a `DataGenerator`: its length.

    Without it, Keras 3 makes two iterators per epoch (one at the start, one at the end that
    the next epoch throws away); with it, the one made at the end serves the next epoch. Each
    costs about 9 ms here for `tensor_dataset()`, as TensorFlow instantiates the pipeline's
    functions anew. The reuse is safe because an iterator starts its pass (and reads the
    generator's epoch) at its first batch, after the next epoch's callbacks have run.
    Multi-worker runs shard the pipeline, so they are left without it.
    """
    count = int(dataset.cardinality())
    return count if count > 0 else None


def _is_dataset(x: Any) -> bool:
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _data_error_in(error: BaseException) -> DataError | None:
    """The `DataError` a generator raised, out of the TensorFlow error that carries it.

    Keras runs a `PyDataset` inside a `tf.data` pipeline, which turns the generator's
    exception into an `InvalidArgumentError` whose message holds the original's text (and,
    from worker processes, its remote traceback). The returned error has that text; the
    TensorFlow error, with the whole traceback, becomes its cause.
    """
    import tensorflow as tf

    if isinstance(error, DataError) or not isinstance(error, tf.errors.OpError):
        return None
    message = str(getattr(error, "message", error))
    marker = "DataError: "
    start = message.find(marker)
    if start < 0:
        return None
    text = message[start + len(marker) :].split("\n", 1)[0].strip()
    return DataError(text) if text else None


def _targets_of(x: Any) -> Any:
    """The targets of a `DataGenerator` or `tf.data.Dataset` of `(x, y, ...)`, for
    `resolve_labels`: a generator's arrays or first batch; for a dataset, a one-row stand-in
    with the shape of its `y` (`resolve_labels` reads only shapes; unknown sizes but the last
    become 1), read from its `element_spec` without running the pipeline. None when there
    are none, or when a target's rank is unknown."""
    import numpy as np
    import tensorflow as tf

    from kerasx.data import DataGenerator
    from kerasx.data._sources import ArrayGenerator

    if isinstance(x, ArrayGenerator):
        return x.y
    if isinstance(x, DataGenerator):
        batch = x[0]
        return batch[1] if isinstance(batch, tuple) and len(batch) > 1 else None
    if _is_dataset(x):
        spec = x.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            return None

        def stand_in(leaf: Any) -> Any:
            shape = leaf.shape
            if shape.rank is None or shape.rank == 0:
                return None
            sizes = [1 if size is None else int(size) for size in shape[1:]]
            if sizes and shape[-1] is None:
                sizes[-1] = 0  # an unknown last axis is no class axis
            return np.zeros((1, *sizes), dtype="float32")

        return tf.nest.map_structure(stand_in, spec[1])
    return None


def _batches_per_epoch(
    x: Any, batch_size: int | None, validation_split: float, fit_kwargs: dict[str, Any]
) -> int | None:
    """How many batches one epoch of `fit` on `x` has, or None if that is not known."""

    steps = fit_kwargs.get("steps_per_epoch")
    if steps is not None:
        return int(steps)
    if isinstance(x, keras.utils.PyDataset):
        count = x.num_batches
        return int(count) if count is not None else None
    if _is_dataset(x):
        count = int(x.cardinality())
        return count if count > 0 else None
    leaves = _numpy_leaves(x)
    if leaves and leaves[0].ndim:
        rows = int(leaves[0].shape[0] * (1.0 - float(validation_split or 0.0)))
        return max(1, math.ceil(rows / (batch_size or 32)))
    return None


def _build_metrics(model: Any, batch: Any) -> None:
    """Create the compiled metrics' variables before `fit`, as Keras does under a strategy.

    Without a strategy Keras builds them while tracing the first step, too late to restore
    the accumulators of an epoch SIGTERM cut short.
    """
    build = getattr(model, "_symbolic_build", None)
    if build is None:  # pragma: no cover - a Keras without it: metrics restart (warned)
        return
    try:
        build(data_batch=batch)
    except Exception as error:  # pragma: no cover - the same fallback
        _log.debug("Could not build the metrics before resuming: %s", error)


def _is_multi_worker(model: Any) -> bool:
    """Whether `model` trains under a `MultiWorkerMirroredStrategy` spanning several workers."""
    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None:
        return False
    from keras.src.backend.tensorflow import trainer

    return bool(trainer._collective_all_reduce_multi_worker(strategy))


def _first_batch(x: Any, y: Any, batch_size: int | None) -> Any:
    """One local, undistributed batch of the training input (for building the model)."""
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        return next(iter(x))
    if hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end"):
        return x[0]  # a PyDataset / DataGenerator
    size = batch_size or 32
    first = tf.nest.map_structure(lambda a: a[:size], x)
    return first if y is None else (first, tf.nest.map_structure(lambda a: a[:size], y))


_REDUCE_FIXED = False


def _fix_multi_worker_mean() -> None:
    """Keras 3.15 reduces scalar metrics across workers with `axis=0`, which TensorFlow refuses
    for rank-0 values; reduce those with `axis=None`. Other cases go to Keras unchanged."""
    global _REDUCE_FIXED
    if _REDUCE_FIXED:
        return
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    keras_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None if v.shape.rank == 0 else 0),
                values,
            )
        return keras_reduce(values, strategy, reduction)

    trainer.reduce_per_replica = reduce_per_replica
    _REDUCE_FIXED = True


@contextmanager
def _multi_worker_fit(model: Any, batch: Any) -> Iterator[None]:
    """Let `model.fit` run under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).

    Keras 3 first all-reduces a distributed input batch only to learn its shapes, which fails
    for a multi-worker strategy, then reduces scalar metrics along an axis they lack. kerasx
    builds the model from one local batch instead, skips that reduction for this call, and
    reduces scalars without an axis.
    """
    _fix_multi_worker_mean()
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda *args, **kwargs: None
    try:
        yield
    finally:
        del model._maybe_symbolic_build


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
    """While active, SIGTERM asks Keras to stop at the next batch boundary.

    When the input can resume mid-epoch, `_RunGuard` saves the state at that boundary and
    stops Keras; otherwise the handler stops Keras at once and the cut-short epoch is dropped.
    """
    previous: list[Any] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield previous
        return

    def handler(signum: int, frame: Any) -> None:
        run.terminate_requested = True
        if not run.mid_epoch:
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
    arguments = dict(
        x=x, y=y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
        validation_split=validation_split, run_dir=run_dir, resume=resume, callbacks=callbacks,
        monitor=monitor, patience=patience, progress=progress, seed=seed, strategy=strategy,
        **fit_kwargs,
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
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ConfigurationError(
            "kerasx.fit needs a compiled model. Received: a model that was not compiled. "
            "Call `model.compile(...)` or `kerasx.models.compile(model)` first."
        )
    targets = y if y is not None or not labels_pending(model) else _targets_of(x)
    if targets is not None:
        # A model compiled by kerasx.models.compile(labels="auto") learns here whether its
        # targets are class ids or one-hot rows. It recompiles, so it must come before any
        # optimizer state is restored.
        resolve_labels(model, targets)
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
    converted = _arrays_as_generator(
        x, y, batch_size, validation_data, validation_split,
        seed if seed is not None else _SEED, fit_kwargs,
    )
    if converted is not None:
        (x, validation_data), y, batch_size, validation_split = converted, None, None, 0.0
        fit_kwargs["shuffle"] = False  # the generator shuffles, from (seed, epoch)
    elif _is_dataset(x):
        # Keras ignores `shuffle` for a tf.data.Dataset, but warns about its own default.
        fit_kwargs.setdefault("shuffle", False)
    if hasattr(x, "get_state") and hasattr(x, "set_state"):
        run.generator = x
        # A DataGenerator shuffles its samples itself, from (seed, epoch). Keras's own batch
        # shuffle would draw from Python's global RNG, which resume cannot replay.
        fit_kwargs.setdefault("shuffle", False)
        run.mid_epoch = folder is not None and _skips_batches(x, fit_kwargs)
        if "steps_per_epoch" not in fit_kwargs:
            if _gathers_in_tensorflow(x):
                # Same batches, same order, without a Python call per batch.
                extra_callbacks.append(_GeneratorEpochs(x))
                x = x.tensor_dataset()
            elif _feeds_in_threads(x, model):
                # Same batches, same order, loaded by `workers` tf.data threads.
                run.threads = True
                extra_callbacks.append(_GeneratorEpochs(x))
                x = x._threaded_dataset()
    if _feeds_in_threads(validation_data, model):
        extra_callbacks.append(_GeneratorEpochs(validation_data, validation=True))
        validation_data = validation_data._threaded_dataset()
    checkpoints = [cb for cb in callback_list if isinstance(cb, Checkpoint)]
    run.checkpoints = checkpoints
    for callback in callback_list:
        if isinstance(callback, Checkpoint | HistoryLogger | LivePlot):
            callback.run = run

    loaded: LoadedState | None = None
    if folder is not None and checkpoints:
        if resume:
            loaded = checkpoints[0].latest_state(mid_epoch=run.mid_epoch)
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
        run.step_offset = int(loaded.meta.get("step", 0))
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
        _log.info(
            "Resuming the run in %s after epoch %d%s.", folder, initial_epoch,
            f" and {run.step_offset} steps" if run.step_offset else "",
        )
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
    train_input, last_epoch = x, epochs
    if run.step_offset:
        # Finish the epoch SIGTERM cut short (its first steps are in the state), then go on
        # from that epoch's end state like any resumed run.
        train_input = _remaining_input(run.generator, run.step_offset, threads=run.threads)
        last_epoch = initial_epoch + 1
        _build_metrics(model, run.generator[run.step_offset])
    fit_steps_per_execution(
        model, _batches_per_epoch(train_input, batch_size, validation_split, fit_kwargs)
    )
    call_kwargs = dict(fit_kwargs)
    multi_worker: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if _is_multi_worker(model):
        multi_worker = _multi_worker_fit(model, _first_batch(train_input, y, batch_size))
    elif run.generator is not None and _is_dataset(train_input):
        call_kwargs.setdefault("steps_per_epoch", _own_pipeline_steps(train_input))
    with _sigterm_stops(model, run, enabled=folder is not None) as previous, multi_worker:
        try:
            model.fit(
                train_input,
                y,
                epochs=last_epoch,
                batch_size=batch_size,
                validation_data=validation_data,
                validation_split=validation_split,
                initial_epoch=initial_epoch,
                callbacks=ordered,
                verbose=0 if verbose is None else verbose,
                **call_kwargs,
            )
        except Exception as error:
            data_error = _data_error_in(error)
            if data_error is None:
                raise
            raise data_error from error
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
        where = f" and {run.saved_mid_epoch} steps" if run.saved_mid_epoch else ""
        _log.warning(
            "SIGTERM: training stopped after epoch %d%s; resume with the same run_dir.",
            len(history.epoch),
            where,
        )
        handler = previous[0] if previous else signal.SIG_DFL
        if callable(handler):
            handler(signal.SIGTERM, None)
        elif handler != signal.SIG_IGN:
            raise SystemExit(_EXIT_SIGTERM)
    if run.step_offset and last_epoch < epochs:
        rest = fit(model, **arguments)  # resumes from the end of the epoch just finished
        rest.resumed_from_epoch = history.resumed_from_epoch
        rest.trained_epochs += 1
        return rest
    return history
