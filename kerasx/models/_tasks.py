"""What each output of a model predicts, and the loss and metrics that go with it.

The task of each output is read from its layer: softmax with 2+ units is "multiclass",
sigmoid with one unit "binary", sigmoid with several "multilabel", anything else (linear,
relu, ...) "regression". A task or loss that contradicts the output layer (a softmax output
with a regression loss, one unit with "multiclass") is explained by `check_output`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kerasx.errors import ConfigurationError

__all__ = [
    "BUILDER_TASKS",
    "PROBABILITY",
    "TASKS",
    "OutputInfo",
    "check_output",
    "default_loss",
    "default_metrics",
    "infer_task",
    "loss_name",
    "output_info",
    "output_layers",
    "output_names",
    "per_output",
]

TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel", "regression")
"""The tasks `compile` knows."""

PROBABILITY: tuple[str, ...] = ("softmax", "sigmoid")
"""Output activations that give probabilities (anything else counts as logits or values)."""

_REGRESSION_LOSSES = {
    "mse",
    "mae",
    "mape",
    "msle",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "huber_loss",
    "log_cosh",
    "logcosh",
    "cosine_similarity",
}
_CLASSIFICATION_LOSSES = {
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_focal_crossentropy",
}

BUILDER_TASKS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
"""The `task=` a kerasx builder was given per output: what `compile`'s `"auto"` then means."""


@dataclass(frozen=True)
class OutputInfo:
    """What `compile` reads from one output layer.

    Attributes:
        name: the output's name (`model.output_names`).
        units: size of the last axis.
        activation: activation name (`"softmax"`, `"sigmoid"`, `"linear"`, ...), or None when
            it cannot be read from the layer.
        task: the inferred task, or None when the activation is unknown.
        rank: number of axes of the output, batch axis included (2 for `(batch, units)`, 3
            for a sequence output `(batch, time, units)`).
    """

    name: str
    units: int
    activation: str | None
    task: str | None
    rank: int = 2


def infer_task(activation: str | None, units: int) -> str | None:
    """The task an output layer implies.

    Args:
        activation: the output activation's name, or None if unknown.
        units: size of the output's last axis.

    Returns:
        `"multiclass"` (softmax, 2+ units), `"binary"` (sigmoid, 1 unit), `"multilabel"`
        (sigmoid, 2+ units), `"regression"` (any other known activation), or None when the
        activation is unknown or softmax has a single unit (which is always 1).

    Example:

    >>> infer_task("sigmoid", 1)
    'binary'
    """
    if activation is None:
        return None
    if activation == "softmax":
        return "multiclass" if units > 1 else None
    if activation == "sigmoid":
        return "binary" if units == 1 else "multilabel"
    return "regression"


def _activation_name(layer: Any) -> str | None:
    if type(layer).__name__ == "Softmax":
        return "softmax"
    function = getattr(layer, "activation", None)
    if function is None:
        return None
    if hasattr(function, "activation"):  # an Activation layer held as attribute
        function = function.activation
    name = getattr(function, "__name__", None)
    return str(name) if name else None


def _require_built(model: Any) -> None:
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if not outputs:
        raise ConfigurationError(
            "compile needs a model whose inputs are known, to read its output layers. "
            f"Received: model {getattr(model, 'name', model)!r} without defined outputs. Start "
            "a Sequential with keras.Input(shape) or use a functional model."
        )


def output_names(model: Any) -> list[str]:
    """The names of `model`'s outputs, in output order.

    Args:
        model: a `keras.Model` whose outputs are defined.

    Returns:
        `model.output_names`, or the output layers' names when Keras gives none.
    """
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    return [
        getattr(layer, "name", f"output_{index}")
        for index, layer in enumerate(output_layers(model))
    ]


def output_layers(model: Any) -> list[Any]:
    """The layer (or `keras.Operation`) that computes each output of `model`, in output order.

    Reads public attributes only: the last layer of a `Sequential`; for a functional model,
    the operation named by each of `model.output_names` among `model.operations`.

    Args:
        model: a `keras.Model` whose outputs are defined.

    Returns:
        One layer or operation per output; None where the model does not say (a model that
        is neither `Sequential` nor functional).
    """
    import keras

    outputs = list(model.outputs)
    if isinstance(model, keras.Sequential):
        return [model.layers[-1] if model.layers else None] * len(outputs)
    by_name = {op.name: op for op in getattr(model, "operations", None) or []}
    names = list(getattr(model, "output_names", None) or [])
    return [by_name.get(names[i]) if i < len(names) else None for i in range(len(outputs))]


def output_info(model: Any) -> list[OutputInfo]:
    """Name, units, activation and inferred task of each output of a built model.

    Args:
        model: a `keras.Model` with known inputs (functional, or Sequential with an Input).

    Returns:
        One `OutputInfo` per output, in `model.output_names` order.

    Raises:
        ConfigurationError: if the model's outputs are not defined yet.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, "softmax")])
    >>> output_info(model)[0].task
    'multiclass'
    """
    _require_built(model)
    infos = []
    for name, tensor, layer in zip(output_names(model), model.outputs, output_layers(model)):
        units = int(tensor.shape[-1]) if tensor.shape and tensor.shape[-1] else 1
        activation = _activation_name(layer)
        task = infer_task(activation, units)
        infos.append(OutputInfo(name, units, activation, task, rank=len(tensor.shape)))
    return infos


def loss_name(loss: Any) -> str | None:
    """A loss's name in lower case (`"mse"`, `"categorical_crossentropy"`), or None.

    Args:
        loss: a loss name, a loss object or a loss function.

    Returns:
        The string itself for a name, else the object's `name` or `__name__`; None when it
        has neither.
    """
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return str(name).lower() if name else None


def _from_logits(loss: Any) -> bool:
    return bool(getattr(loss, "from_logits", False))


def _where(info: OutputInfo) -> str:
    return f"Output {info.name!r} has {info.units} unit(s) and activation {info.activation!r}"


def _check_activation(info: OutputInfo, task: str) -> str | None:
    """A message when `task` cannot use the output's units and activation, else None."""
    act, units, where = info.activation, info.units, _where(info)
    if act == "softmax" and units == 1:
        return (
            f"{where}: softmax over one unit is always 1, so the model cannot learn. Use "
            "sigmoid for a binary output, or one unit per class with softmax"
        )
    if task == "multiclass" and units == 1:
        return (
            f"{where}, but task='multiclass' needs one unit per class. Use task='binary' "
            "for two classes with one sigmoid unit, or build the output with N units"
        )
    if task == "multiclass" and act == "sigmoid":
        return (
            f"{where}, but task='multiclass' needs softmax (or linear logits). "
            "Use task='multilabel'"
        )
    if task == "binary" and units > 1:
        return (
            f"{where}, but task='binary' needs one unit. Use task='multiclass' (softmax) or "
            "task='multilabel' (sigmoid)"
        )
    if task in ("binary", "multilabel") and act == "softmax":
        return f"{where}, but task={task!r} needs sigmoid (or linear logits). Use task='multiclass'"
    if task == "regression" and act in PROBABILITY:
        return (
            f"{where}: a {act} output gives probabilities, not values for regression. Use a "
            "classification task, or a linear output for regression"
        )
    if task != "regression" and act not in (*PROBABILITY, "linear", None):
        return (
            f"{where}: a {act} output is not a probability or a logit, so task={task!r} "
            "cannot use it. Use softmax/sigmoid (or linear logits)"
        )
    return None


def _check_loss(info: OutputInfo, task: str, loss: Any) -> str | None:
    """A message when an explicit `loss` does not fit the task or the output, else None."""
    act, where = info.activation, _where(info)
    name = loss_name(loss) if loss is not None else None
    if name in _REGRESSION_LOSSES and (task != "regression" or act in PROBABILITY):
        return (
            f"{where}, but loss={name!r} is a regression loss, which trains a "
            f"{task} output badly. Let compile choose (loss=None), or use a crossentropy loss"
        )
    if name not in _CLASSIFICATION_LOSSES:
        return None
    if task == "regression":
        return (
            f"{where}: loss={name!r} is for classification, but the task is regression. "
            "Use a regression loss such as 'mse', or a classification task"
        )
    if act not in PROBABILITY and not _from_logits(loss):
        return (
            f"{where}: loss={name!r} expects probabilities, but the output is {act!r}. "
            "Pass a loss object with from_logits=True, or use a softmax/sigmoid output"
        )
    if name.startswith("binary") and act == "softmax":
        return f"{where}: loss={name!r} needs sigmoid outputs. Use categorical crossentropy"
    if "categorical" in name and act == "sigmoid":
        return f"{where}: loss={name!r} needs softmax outputs. Use binary crossentropy"
    return None


def check_output(info: OutputInfo, task: str, loss: Any) -> str | None:
    """Why `task` and `loss` contradict the output layer, or None when they fit it.

    Args:
        info: the output, as `output_info` reads it.
        task: the task chosen for the output, one of `TASKS`.
        loss: the explicit loss of the output, or None when `compile` chooses it.

    Returns:
        A message that states the problem and the fix (without a final period, so the
        caller can add how to override it), or None.
    """
    return _check_activation(info, task) or _check_loss(info, task, loss)


def default_loss(task: str, labels: str, logits: bool) -> Any:
    """The loss `compile` chooses for a task.

    Args:
        task: one of `TASKS`.
        labels: `"onehot"` or `"sparse"`: the targets of a multiclass output.
        logits: whether the output gives logits (any activation but softmax and sigmoid).

    Returns:
        A crossentropy loss object for classification, mean squared error for regression.
    """
    import keras

    if task in ("binary", "multilabel"):
        return keras.losses.BinaryCrossentropy(from_logits=logits)
    if task == "multiclass":
        if labels == "onehot":
            return keras.losses.CategoricalCrossentropy(from_logits=logits)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    return keras.losses.MeanSquaredError()


def default_metrics(task: str, labels: str, logits: bool) -> list[Any]:
    """The metrics `compile` chooses for a task.

    Args:
        task: one of `TASKS`.
        labels: `"onehot"` or `"sparse"`: the targets of a multiclass output.
        logits: whether the output gives logits (any activation but softmax and sigmoid).

    Returns:
        `[accuracy]` (named `"accuracy"`) for classification, `[mae]` for regression.
    """
    import keras

    if task in ("binary", "multilabel"):
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5)]
    if task == "multiclass":
        if labels == "onehot":
            return [keras.metrics.CategoricalAccuracy(name="accuracy")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return [keras.metrics.MeanAbsoluteError(name="mae")]


def per_output(value: Any, names: list[str], arg: str, missing: Any = None) -> dict[str, Any]:
    """`{output name: value}`: a mapping is checked against `names`, a list or tuple is taken
    in output order (one entry per output), anything else is repeated.

    Args:
        value: one value for every output, a mapping `{output name: value}`, or a list with
            one value per output, in the order of `names`.
        names: the model's output names.
        arg: the argument's name, for the error message.
        missing: the value of outputs a mapping leaves out. Defaults to `None`.

    Returns:
        One entry per name in `names`.

    Raises:
        ConfigurationError: if a mapping names an output that is not in `names`, or a list
            does not have one entry per output.

    Example:

    >>> per_output("mse", ["a", "b"], "loss")
    {'a': 'mse', 'b': 'mse'}
    """
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConfigurationError(
                f"`{arg}` names outputs the model does not have: {unknown}. The outputs are "
                f"{names}. Received: {arg}={dict(value)!r}."
            )
        return {name: value.get(name, missing) for name in names}
    if isinstance(value, list | tuple):
        if len(value) != len(names):
            raise ConfigurationError(
                f"A list `{arg}` gives one entry per output, in the model's output order "
                f"(`model.output_names`), and the model has {len(names)} output(s) {names}. "
                f"Received: {len(value)} entries, {arg}={value!r}. Pass one entry per output, "
                "or a dict {output name: value}."
            )
        return dict(zip(names, value, strict=True))
    return dict.fromkeys(names, value)
