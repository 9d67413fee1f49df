"""`compile` (exposed as `kerasx.models.compile`): loss and metrics inferred, fast defaults.

`compile` reads the task of each output from its layer (see `kerasx.models._tasks`), checks
the choices against the output layers, picks the loss and metrics of each task, resolves the
`"auto"` speed settings (see `kerasx.models._defaults`) and calls `keras.Model.compile`.
Explicit arguments always win; choices that contradict the output layer (a softmax output
with a regression loss, one unit with "multiclass") raise a `ConfigurationError` unless
`force=True`.

Labels for multiclass outputs: `labels="auto"` compiles for integer (sparse) targets and lets
`resolve_labels(model, y)` switch to one-hot targets (or class probabilities) when it sees
them; `kerasx.fit` calls it before it trains. With plain `model.fit` and one-hot targets, pass
`labels="onehot"`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kerasx.errors import ConfigurationError
from kerasx.models._defaults import (
    check_mixed_precision,
    choose_jit_compile,
    choose_steps_per_execution,
    execution_settings,
)
from kerasx.models._labels import (
    check_labels,
    labels_of_loss,
    labels_of_targets,
    loss_labels,
    targets_per_output,
)
from kerasx.models._tasks import (
    BUILDER_TASKS,
    PROBABILITY,
    TASKS,
    OutputInfo,
    check_output,
    default_loss,
    default_metrics,
    output_info,
    output_names,
    per_output,
)

__all__ = [
    "compile",
    "fit_jit_compile",
    "fit_steps_per_execution",
    "labels_pending",
    "resolve_labels",
]

# Settings `compile` used, per model, so `resolve_labels` can recompile with one-hot labels.
_COMPILED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


@dataclass
class _JitChoice:
    """XLA as `compile` chose it for a `jit_compile="auto"` model and as kerasx set it last
    (`fit_jit_compile` may turn it on for one `kerasx.fit` call's data)."""

    compiled: bool
    current: bool
    user_objects: list[Any] = field(default_factory=list)


_JIT: weakref.WeakKeyDictionary[Any, _JitChoice] = weakref.WeakKeyDictionary()


def compile(
    model: Any,
    task: str | Mapping[str, str] = "auto",
    *,
    optimizer: Any = "adam",
    learning_rate: float | None = None,
    loss: Any = None,
    metrics: Any = "auto",
    labels: str = "auto",
    steps_per_execution: int | str = "auto",
    jit_compile: bool | str = "auto",
    mixed_precision: str = "auto",
    force: bool = False,
    **compile_kwargs: Any,
) -> Any:
    """Compile `model` with loss and metrics inferred from its outputs and fast defaults.

    Args:
        model: a `keras.Model` whose outputs are defined.
        task: `"auto"` (read each output layer's activation and units), one of `"binary"`,
            `"multiclass"`, `"multilabel"`, `"regression"`, or a dict `{output name: task}`
            (or a list in output order). Defaults to `"auto"`.
        optimizer: optimizer name or instance. Defaults to `"adam"`.
        learning_rate: learning rate for an optimizer given by name; None keeps Keras's
            default. Defaults to `None`.
        loss: explicit loss (one for all outputs, a dict per output, or a list in output
            order); None picks crossentropy for classification (from logits for linear
            outputs) and mean squared error for regression. Defaults to `None`.
        metrics: `"auto"` (accuracy for classification, MAE for regression), None, or what
            Keras's `compile` accepts. Defaults to `"auto"`.
        labels: for multiclass outputs: `"sparse"` (integer class ids), `"onehot"`, or
            `"auto"` (sparse until `resolve_labels` sees one-hot targets). An explicit
            categorical or sparse categorical crossentropy `loss` sets the labels of its
            output (and its accuracy metric); an explicit `labels` that contradicts it is
            refused unless `force=True`. Defaults to `"auto"`.
        steps_per_execution: an int, or `"auto"`: 512 training steps per call into
            TensorFlow for models up to 1 million parameters, 64 up to 10 million, 1 above
            and under a strategy with several replicas (`kerasx.fit` caps it at the batches
            of an epoch). Defaults to `"auto"`.
        jit_compile: a bool, or `"auto"`: XLA when a GPU is present and, on CPU-only
            machines, for recurrent models with fixed-length inputs (about 3x faster
            epochs); off for other models on CPU, under a distribution strategy and with op
            determinism enabled. Defaults to `"auto"`.
        mixed_precision: `"auto"` or a policy name the model must have been built in.
            Defaults to `"auto"`.
        force: compile even when the choices contradict the output layers. Defaults to
            `False`.
        **compile_kwargs: passed on to `keras.Model.compile` (`loss_weights`,
            `run_eagerly`, ...).

    Returns:
        The same model, compiled (so calls can be chained).

    Raises:
        ConfigurationError: for an unknown task or labels value, a task or loss that
            contradicts an output layer (unless `force=True`), a task that cannot be inferred,
            `learning_rate` with an optimizer instance, a mixed-precision mismatch, or more
            than one step per execution under a strategy with several replicas.

    Example:

    >>> from kerasx import models
    >>> model = models.compile(models.mlp((4,), outputs=3))
    >>> model.loss.name
    'sparse_categorical_crossentropy'
    """
    check_labels(labels)
    infos = output_info(model)
    names = [info.name for info in infos]
    tasks = per_output(task, names, "task", missing="auto")
    losses = per_output(loss, names, "loss")
    chosen_tasks = _choose_tasks(model, infos, tasks, losses, force)
    # An explicit categorical loss says which targets it takes: its metrics follow it.
    labels_of_losses = loss_labels(chosen_tasks, losses, labels, force)
    _check_learning_rate(optimizer, learning_rate)
    check_mixed_precision(model, mixed_precision, force)
    user_objects = _user_objects(loss, metrics, compile_kwargs)
    steps, jit = execution_settings(model, steps_per_execution, jit_compile, force, user_objects)
    # Optimizers and metrics create variables: make them under the model's strategy.
    with model.distribute_strategy.scope():
        final_losses, final_metrics = _losses_and_metrics(
            infos, chosen_tasks, losses, labels, labels_of_losses
        )
        model.compile(
            optimizer=_optimizer(optimizer, learning_rate),
            loss=_for_keras(final_losses, names),
            metrics=_for_keras(final_metrics, names) if metrics == "auto" else metrics,
            steps_per_execution=steps,
            jit_compile=jit,
            **compile_kwargs,
        )
    _COMPILED[model] = {
        "task": dict(chosen_tasks),
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "loss": loss,
        "metrics": metrics,
        "labels": labels,
        "current_labels": "sparse" if labels == "auto" else labels,
        "steps_per_execution": steps_per_execution,
        "jit_compile": jit_compile,
        "mixed_precision": mixed_precision,
        "force": force,
        **compile_kwargs,
    }
    _JIT[model] = _JitChoice(compiled=bool(jit), current=bool(jit), user_objects=user_objects)
    return model


def _user_objects(loss: Any, metrics: Any, compile_kwargs: dict[str, Any]) -> list[Any]:
    """The losses and metrics the caller gave `compile` (names included)."""
    given = [loss, metrics, compile_kwargs.get("weighted_metrics")]
    return [value for value in given if value not in (None, "auto")]


def _choose_tasks(
    model: Any,
    infos: list[OutputInfo],
    tasks: Mapping[str, Any],
    losses: Mapping[str, Any],
    force: bool,
) -> dict[str, str]:
    """The task of each output, checked against its layer and its loss."""
    chosen: dict[str, str] = {}
    for info in infos:
        wanted = tasks[info.name]
        if wanted == "auto":
            wanted = _auto_task(model, info, losses[info.name], force)
        elif wanted not in TASKS:
            raise ConfigurationError(
                f"`task` must be 'auto' or one of {list(TASKS)}. Received: task={wanted!r}."
            )
        problem = check_output(info, wanted, losses[info.name])
        if problem and not force:
            raise ConfigurationError(f"{problem}, or pass force=True. Received: task={wanted!r}.")
        chosen[info.name] = wanted
    return chosen


def _auto_task(model: Any, info: OutputInfo, loss: Any, force: bool) -> str:
    """What `task="auto"` means for one output: the builder's task, else the layer's."""
    wanted = BUILDER_TASKS.get(model, {}).get(info.name) or info.task
    if wanted is None and info.activation == "softmax":
        wanted = "multiclass"  # one softmax unit: refused by check_output
    if wanted is None and loss is None and not force:
        raise ConfigurationError(
            f"Cannot infer the task of output {info.name!r} ({info.units} unit(s), "
            f"activation {info.activation!r}). Received: task='auto'. Pass task= one "
            f"of {list(TASKS)}, or a loss."
        )
    return wanted or "regression"


def _check_learning_rate(optimizer: Any, learning_rate: float | None) -> None:
    if not isinstance(optimizer, str) and learning_rate is not None:
        raise ConfigurationError(
            "`learning_rate` applies to an optimizer given by name. Received: "
            f"learning_rate={learning_rate!r} with optimizer={optimizer!r}. Set the "
            "learning rate on the optimizer instance instead."
        )


def _losses_and_metrics(
    infos: list[OutputInfo],
    tasks: Mapping[str, str],
    losses: Mapping[str, Any],
    labels: str,
    labels_of_losses: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`({output name: loss}, {output name: metrics})`: the explicit loss, else the task's."""
    resolved_labels = "sparse" if labels == "auto" else labels
    final_losses: dict[str, Any] = {}
    final_metrics: dict[str, Any] = {}
    for info in infos:
        logits = info.activation not in PROBABILITY
        task = tasks[info.name]
        these_labels = labels_of_losses.get(info.name, resolved_labels)
        final_losses[info.name] = losses[info.name] or default_loss(task, these_labels, logits)
        final_metrics[info.name] = default_metrics(task, these_labels, logits)
    return final_losses, final_metrics


def _optimizer(optimizer: Any, learning_rate: float | None) -> Any:
    """An optimizer given by name as an instance, with `learning_rate` when given."""
    if not isinstance(optimizer, str):
        return optimizer
    import keras

    instance = keras.optimizers.get(optimizer)
    if learning_rate is not None:
        instance.learning_rate = learning_rate
    return instance


def _for_keras(per_name: dict[str, Any], names: list[str]) -> Any:
    """A single output's value as is, several outputs' as the dict Keras takes."""
    return per_name[names[0]] if len(names) == 1 else per_name


def labels_pending(model: Any) -> bool:
    """Whether `resolve_labels` still has to look at `model`'s targets.

    Args:
        model: a model.

    Returns:
        True for a model compiled by `compile` with `labels="auto"`.
    """
    settings = _COMPILED.get(model)
    return settings is not None and settings["labels"] == "auto"


def fit_steps_per_execution(model: Any, steps_per_epoch: int | None) -> None:
    """Cap an automatic `steps_per_execution` at the batches `fit` will see per epoch.

    Only for models compiled by `compile` with `steps_per_execution="auto"`; `kerasx.fit`
    calls it once it knows its data. Changing the value makes Keras trace its train, test
    and predict functions again.

    Args:
        model: a compiled model.
        steps_per_epoch: batches per epoch, or None when unknown (nothing changes).
    """
    settings = _COMPILED.get(model)
    if settings is None or settings["steps_per_execution"] != "auto" or not steps_per_epoch:
        return
    wanted = choose_steps_per_execution(model, steps_per_epoch)
    if wanted != model.steps_per_execution:
        model.steps_per_execution = wanted
        model.train_function = model.test_function = model.predict_function = None


def fit_jit_compile(model: Any, fixed_shapes: bool) -> None:
    """Turn XLA on for a recurrent model whose data have one sequence length, and off again
    for data that do not.

    Only for models compiled by `compile` with `jit_compile="auto"` that it left off because
    their inputs do not declare a length (`Input((None, 1))`, as Keras 2 style code has it);
    see `choose_jit_compile`. `kerasx.fit` calls it once it knows its data: with NumPy arrays
    or a `DataGenerator.from_arrays` (training and validation), every batch has the shape of
    the arrays, so XLA compiles the training step once. A later call with other data goes
    back to what `compile` chose. Nothing changes once the user has set `model.jit_compile`
    themselves. Keras traces its train, test and predict functions again after a change.

    Args:
        model: a compiled model.
        fixed_shapes: whether every batch of the training and validation data has the same
            shape apart from the batch dimension.
    """
    settings, choice = _COMPILED.get(model), _JIT.get(model)
    if settings is None or choice is None or settings["jit_compile"] != "auto":
        return
    if bool(model.jit_compile) != choice.current:  # the user's own choice since
        return
    wanted = choice.compiled or (
        fixed_shapes
        and choose_jit_compile(model, fixed_length=True, user_objects=choice.user_objects)
    )
    if wanted != choice.current:
        model.jit_compile = choice.current = wanted
        model.train_function = model.test_function = model.predict_function = None


def resolve_labels(model: Any, y: Any) -> str | None:
    """Switch a model compiled with `labels="auto"` to one-hot targets if `y` is one-hot.

    Call it before `fit` (`kerasx.fit` does, at every call). Only models compiled by
    `kerasx.models.compile` with `labels="auto"` and a multiclass output are affected; they
    are recompiled with categorical crossentropy and categorical accuracy when the targets
    of every multiclass output have the output's shape, a class axis of `units` last (one-hot
    rows or class probabilities), and back to the sparse versions when they are class ids.
    Recompiling keeps the model's optimizer object, so a model that has trained keeps its
    optimizer's state; Keras traces its training step again.

    Args:
        model: a model compiled by `compile`.
        y: the targets: an array, or a dict `{output name: array}` / list in output order.
            Anything without a `shape` (a dataset, a generator) is left alone.

    Returns:
        `"onehot"` if the model now expects one-hot targets, `"sparse"` if it still expects
        class ids, None if it has no multiclass output, was not compiled by kerasx with
        `labels="auto"`, has an explicit categorical loss (which chose the labels), or `y`
        could not be read.

    Example:

    >>> import numpy as np
    >>> from kerasx import models
    >>> model = models.compile(models.mlp((4,), outputs=3))
    >>> resolve_labels(model, np.eye(3)[[0, 2, 1]])
    'onehot'
    """
    settings = _COMPILED.get(model)
    if settings is None or settings["labels"] != "auto":
        return None
    infos = output_info(model)
    multiclass = [info for info in infos if settings["task"].get(info.name) == "multiclass"]
    explicit = per_output(settings["loss"], [info.name for info in infos], "loss")
    if not multiclass or any(labels_of_loss(explicit[info.name]) for info in multiclass):
        return None  # an explicit categorical loss has already chosen the labels
    wanted = labels_of_targets(multiclass, targets_per_output(y, output_names(model)))
    if wanted is not None and wanted != settings["current_labels"]:
        _recompile(model, settings, wanted)
    return wanted


def _recompile(model: Any, settings: dict[str, Any], labels: str) -> None:
    """Compile `model` again with the same settings but `labels`, keeping its optimizer."""
    options = dict(settings)
    options.pop("labels")
    options.pop("current_labels")
    if getattr(model, "optimizer", None) is not None:
        # The same optimizer object, so a model that has trained keeps its optimizer's
        # state (the step count, Adam's moments): both losses give the same values.
        options["optimizer"], options["learning_rate"] = model.optimizer, None
    # As `fit_steps_per_execution` and `fit_jit_compile` may have set them.
    steps, jit, choice = model.steps_per_execution, model.jit_compile, _JIT.get(model)
    compile(model, options.pop("task"), labels=labels, **options)
    model.steps_per_execution, model.jit_compile = steps, jit
    if choice is not None:
        _JIT[model] = choice
    _COMPILED[model].update(
        labels="auto", optimizer=settings["optimizer"], learning_rate=settings["learning_rate"]
    )
