"""`compile` (exposed as `kerasx.models.compile`): loss and metrics inferred, fast defaults.

The task of each output is read from its layer: softmax with 2+ units is "multiclass",
sigmoid with one unit "binary", sigmoid with several "multilabel", anything else (linear,
relu, ...) "regression". Explicit arguments always win; choices that contradict the output
layer (a softmax output with a regression loss, one unit with "multiclass") raise a
`ConfigurationError` unless `force=True`.

Fast defaults, measured in `benchmarks/bench_models.py` (2 CPU cores, TensorFlow 2.21):

- `steps_per_execution="auto"`: `choose_steps_per_execution(model)`, several training steps
  per call into TensorFlow for small models, where the per-step overhead dominates.
- `jit_compile="auto"`: XLA on GPUs (as Keras's own "auto"), off on CPU-only machines, where
  it measured slower for convnets and, counting its compile time, for small MLP runs (see
  `choose_jit_compile`). Off under a distribution strategy and with op determinism enabled.
- `mixed_precision="auto"`: nothing to change after the model is built; the check is that a
  mixed-precision model keeps float32 outputs. Mixed precision is chosen at build time
  (kerasx builders, `kerasx.runtime.enable_mixed_precision`).

Labels for multiclass outputs: `labels="auto"` compiles for integer (sparse) targets and lets
`resolve_labels(model, y)` switch to one-hot targets (or class probabilities) when it sees
them; `kerasx.fit` calls it before it trains. With plain `model.fit` and one-hot targets, pass
`labels="onehot"`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kerasx.errors import ConfigurationError

__all__ = [
    "TASKS",
    "OutputInfo",
    "choose_jit_compile",
    "choose_steps_per_execution",
    "compile",
    "fit_steps_per_execution",
    "infer_task",
    "labels_pending",
    "output_info",
    "per_output",
    "resolve_labels",
]

TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel", "regression")
"""The tasks `compile` knows."""

_LABELS = ("auto", "sparse", "onehot")
_PROBABILITY = ("softmax", "sigmoid")
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
# Settings `compile` used, per model, so `resolve_labels` can recompile with one-hot labels.
_COMPILED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
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


def _output_names(model: Any) -> list[str]:
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    return [tensor._keras_history.operation.name for tensor in model.outputs]


def output_info(model: Any) -> list[OutputInfo]:
    """Name, units, activation and inferred task of each output of a built model.

    Args:
        model: a `keras.Model` with known inputs (functional, or Sequential with an Input).

    Returns:
        One `OutputInfo` per output, in `model.output_names` order.

    Raises:
        ConfigurationError: if the model's outputs are not defined yet.
    """
    _require_built(model)
    infos = []
    for name, tensor in zip(_output_names(model), model.outputs):
        layer = tensor._keras_history.operation
        units = int(tensor.shape[-1]) if tensor.shape and tensor.shape[-1] else 1
        activation = _activation_name(layer)
        task = infer_task(activation, units)
        infos.append(OutputInfo(name, units, activation, task, rank=len(tensor.shape)))
    return infos


def _loss_name(loss: Any) -> str | None:
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return str(name).lower() if name else None


def _from_logits(loss: Any) -> bool:
    return bool(getattr(loss, "from_logits", False))


def _check_output(info: OutputInfo, task: str, loss: Any) -> str | None:
    """A message when `task` and `loss` contradict the output layer, else None."""
    act, units = info.activation, info.units
    where = f"Output {info.name!r} has {units} unit(s) and activation {act!r}"
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
    if task == "regression" and act in _PROBABILITY:
        return (
            f"{where}: a {act} output gives probabilities, not values for regression. Use a "
            "classification task, or a linear output for regression"
        )
    if task != "regression" and act not in (*_PROBABILITY, "linear", None):
        return (
            f"{where}: a {act} output is not a probability or a logit, so task={task!r} "
            "cannot use it. Use softmax/sigmoid (or linear logits)"
        )
    name = _loss_name(loss) if loss is not None else None
    if name in _REGRESSION_LOSSES and (task != "regression" or act in _PROBABILITY):
        return (
            f"{where}, but loss={name!r} is a regression loss, which trains a "
            f"{task} output badly. Let compile choose (loss=None), or use a crossentropy loss"
        )
    if name in _CLASSIFICATION_LOSSES:
        if task == "regression":
            return (
                f"{where}: loss={name!r} is for classification, but the task is regression. "
                "Use a regression loss such as 'mse', or a classification task"
            )
        if act not in _PROBABILITY and not _from_logits(loss):
            return (
                f"{where}: loss={name!r} expects probabilities, but the output is {act!r}. "
                "Pass a loss object with from_logits=True, or use a softmax/sigmoid output"
            )
        if name.startswith("binary") and act == "softmax":
            return f"{where}: loss={name!r} needs sigmoid outputs. Use categorical crossentropy"
        if "categorical" in name and act == "sigmoid":
            return f"{where}: loss={name!r} needs softmax outputs. Use binary crossentropy"
    return None


def _default_loss(task: str, labels: str, logits: bool) -> Any:
    import keras

    if task in ("binary", "multilabel"):
        return keras.losses.BinaryCrossentropy(from_logits=logits)
    if task == "multiclass":
        if labels == "onehot":
            return keras.losses.CategoricalCrossentropy(from_logits=logits)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    return keras.losses.MeanSquaredError()


def _default_metrics(task: str, labels: str, logits: bool) -> list[Any]:
    import keras

    if task in ("binary", "multilabel"):
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5)]
    if task == "multiclass":
        if labels == "onehot":
            return [keras.metrics.CategoricalAccuracy(name="accuracy")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return [keras.metrics.MeanAbsoluteError(name="mae")]


_LOSS_LABELS = {
    "categoricalcrossentropy": "onehot",
    "categoricalfocalcrossentropy": "onehot",
    "sparsecategoricalcrossentropy": "sparse",
}


def _labels_of_loss(loss: Any) -> str | None:
    """`"onehot"` or `"sparse"` if `loss` is a categorical crossentropy that implies it."""
    name = _loss_name(loss) if loss is not None else None
    return _LOSS_LABELS.get(name.replace("_", "")) if name else None


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


def _all_layers(model: Any) -> list[Any]:
    found = []
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
    return found


def _distributed(model: Any) -> bool:
    return getattr(model, "_distribute_strategy", None) is not None


def _replicated(model: Any) -> bool:
    """Whether `model` trains under a strategy with several replicas (devices or workers)."""
    active = getattr(model, "_distribute_strategy", None)
    return active is not None and int(active.num_replicas_in_sync) > 1


def choose_jit_compile(model: Any, *, gpu: bool | None = None) -> bool:
    """What `jit_compile="auto"` means for `model` on this machine.

    XLA when a GPU is present (as Keras's own "auto"), never on CPU-only machines: measured
    there (`benchmarks/bench_models.py`, 2 cores), compiling made the first epoch of a small
    MLP and of a small convnet 1.4x-2.7x slower, while steady-state epochs gained 0-23% for
    the convnet and 20-43% for the MLP: more lost than saved on short runs. Pass
    `jit_compile=True` for long runs on CPU. Never under a distribution strategy, with op
    determinism enabled, or when a layer does not support XLA.

    Args:
        model: a built `keras.Model`.
        gpu: whether a GPU is present; None asks TensorFlow. Defaults to `None`.

    Returns:
        True to compile with XLA.
    """
    import tensorflow as tf

    layers = _all_layers(model)
    if _distributed(model) or not all(getattr(layer, "supports_jit", True) for layer in layers):
        return False
    try:
        from tensorflow.python.framework.config import is_op_determinism_enabled

        if is_op_determinism_enabled():
            return False
    except ImportError:  # pragma: no cover - TensorFlow moved it
        return False
    return bool(tf.config.list_physical_devices("GPU")) if gpu is None else bool(gpu)


def choose_steps_per_execution(model_or_params: Any, steps_per_epoch: int | None = None) -> int:
    """What `steps_per_execution="auto"` means: training steps per call into TensorFlow.

    Per-step overhead (milliseconds on CPU) dominates small models, so many steps run in one
    call: 512 for models up to 1 million parameters, 64 up to 10 million, 1 above. The 512 is
    measured (`benchmarks/bench_models.py`, 2 CPU cores, batch 32, epochs through
    `kerasx.fit`, two runs): for the MLP 784-128-10, 32 and 1 step per call made an epoch
    1.10x-1.28x and 3.3x-3.8x slower than 512, and 128 was within the machine's noise of it
    (0.94x and 1.10x); for the small CNN, 128 and 32 were as fast as 512 and 1 was 1.22x
    slower. The thresholds for bigger models are a guess, not measured here: their steps
    cost more, so the per-step overhead matters less. Capped at
    `steps_per_epoch` when it is known (`kerasx.fit` caps it at the number of batches of its
    data). Batch-level callbacks (and the progress bar) then see one batch every
    `steps_per_execution` steps; pass `steps_per_execution=1` to see them all. Always 1 for a
    model under a strategy with several replicas: in Keras 3.15 a `MirroredStrategy` or
    `MultiWorkerMirroredStrategy` step fails with more than one step per execution ("You must
    feed a value for placeholder tensor").

    Args:
        model_or_params: a `keras.Model` or its parameter count.
        steps_per_epoch: batches per epoch, when known. Defaults to `None`.

    Returns:
        A positive integer.
    """
    if not isinstance(model_or_params, int) and _replicated(model_or_params):
        return 1
    params = (
        model_or_params if isinstance(model_or_params, int) else int(model_or_params.count_params())
    )
    if params <= 1_000_000:
        steps = 512
    elif params <= 10_000_000:
        steps = 64
    else:
        steps = 1
    if steps_per_epoch:
        steps = max(1, min(steps, int(steps_per_epoch)))
    return steps


def _check_mixed_precision(model: Any, mixed_precision: str, force: bool) -> None:
    from kerasx import runtime

    model_policy = model.dtype_policy.name
    if mixed_precision != "auto":
        wanted = runtime.mixed_precision_policy(mixed_precision)
        if wanted != model_policy and not force:
            raise ConfigurationError(
                "Mixed precision is chosen when a model is built, not when it is compiled. "
                f"Received: mixed_precision={mixed_precision!r} for a model built in "
                f"{model_policy!r}. Build it with `mixed_precision={wanted!r}` (kerasx "
                "builders) or after kerasx.runtime.enable_mixed_precision(), or pass "
                "force=True."
            )
    if model_policy.startswith("mixed") and not force:
        for tensor in model.outputs:
            layer = tensor._keras_history.operation
            if layer.compute_dtype != "float32":
                raise ConfigurationError(
                    "A mixed-precision model needs float32 outputs so the loss stays stable. "
                    f"Received: output layer {layer.name!r} computing in "
                    f"{layer.compute_dtype!r}. Create it with dtype='float32' (kerasx builders "
                    "do), or pass force=True."
                )


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
        task: `"auto"` (read each output layer's activation and units), one of `TASKS`, or a
            dict `{output name: task}`. Defaults to `"auto"`.
        optimizer: optimizer name or instance. Defaults to `"adam"`.
        learning_rate: learning rate for an optimizer given by name; None keeps Keras's
            default. Defaults to `None`.
        loss: explicit loss (one for all outputs, or a dict per output); None picks
            crossentropy for classification (from logits for linear outputs) and mean
            squared error for regression. Defaults to `None`.
        metrics: `"auto"` (accuracy for classification, MAE for regression), None, or what
            Keras's `compile` accepts. Defaults to `"auto"`.
        labels: for multiclass outputs: `"sparse"` (integer class ids), `"onehot"`, or
            `"auto"` (sparse until `resolve_labels` sees one-hot targets). An explicit
            categorical or sparse categorical crossentropy `loss` sets the labels of its
            output (and its accuracy metric); an explicit `labels` that contradicts it is
            refused unless `force=True`. Defaults to `"auto"`.
        steps_per_execution: an int, or `"auto"` (see `choose_steps_per_execution`).
            Defaults to `"auto"`.
        jit_compile: a bool, or `"auto"` (see `choose_jit_compile`). Defaults to `"auto"`.
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
            `learning_rate` with an optimizer instance, or a mixed-precision mismatch.

    Example:

    >>> from kerasx import models
    >>> model = models.compile(models.mlp((4,), outputs=3))
    >>> model.loss.name
    'sparse_categorical_crossentropy'
    """
    import keras

    if labels not in _LABELS:
        raise ConfigurationError(
            f"`labels` must be one of {list(_LABELS)}. Received: labels={labels!r}."
        )
    infos = output_info(model)
    names = [info.name for info in infos]
    tasks = per_output(task, names, "task", missing="auto")
    losses = per_output(loss, names, "loss")
    chosen_tasks: dict[str, str] = {}
    for info in infos:
        wanted = tasks[info.name]
        if wanted == "auto":
            wanted = BUILDER_TASKS.get(model, {}).get(info.name) or info.task
            if wanted is None and info.activation == "softmax":
                wanted = "multiclass"  # one softmax unit: refused by _check_output below
            if wanted is None and losses[info.name] is None and not force:
                raise ConfigurationError(
                    f"Cannot infer the task of output {info.name!r} ({info.units} unit(s), "
                    f"activation {info.activation!r}). Received: task='auto'. Pass task= one "
                    f"of {list(TASKS)}, or a loss."
                )
            wanted = wanted or "regression"
        elif wanted not in TASKS:
            raise ConfigurationError(
                f"`task` must be 'auto' or one of {list(TASKS)}. Received: task={wanted!r}."
            )
        problem = _check_output(info, wanted, losses[info.name])
        if problem and not force:
            raise ConfigurationError(f"{problem}, or pass force=True. Received: task={wanted!r}.")
        chosen_tasks[info.name] = wanted
    # An explicit categorical loss says which targets it takes: its metrics follow it.
    loss_labels: dict[str, str] = {}
    for name, this_task in chosen_tasks.items():
        implied = _labels_of_loss(losses[name]) if this_task == "multiclass" else None
        if implied is None:
            continue
        if labels != "auto" and implied != labels and not force:
            kinds = {"onehot": "one-hot rows", "sparse": "integer class ids"}
            raise ConfigurationError(
                f"The loss of output {name!r} takes {kinds[implied]} as targets, but "
                f"labels={labels!r} says they are {kinds[labels]}. Received: "
                f"loss={losses[name]!r}, labels={labels!r}. Drop one of the two (an explicit "
                "loss sets the labels), or pass force=True."
            )
        loss_labels[name] = implied

    if not isinstance(optimizer, str) and learning_rate is not None:
        raise ConfigurationError(
            "`learning_rate` applies to an optimizer given by name. Received: "
            f"learning_rate={learning_rate!r} with optimizer={optimizer!r}. Set the "
            "learning rate on the optimizer instance instead."
        )
    _check_mixed_precision(model, mixed_precision, force)
    requested_steps = steps_per_execution
    if steps_per_execution == "auto":
        steps_per_execution = choose_steps_per_execution(model)
    elif _replicated(model) and not force and _int_above_one(steps_per_execution):
        raise ConfigurationError(
            "Keras 3.15 cannot run more than one step per execution under a strategy with "
            f"several replicas ({type(model.distribute_strategy).__name__} with "
            f"{model.distribute_strategy.num_replicas_in_sync} replicas): training fails with "
            "'You must feed a value for placeholder tensor'. Received: steps_per_execution="
            f"{steps_per_execution!r}. Leave it 'auto' (1 under such a strategy), pass 1, or "
            "pass force=True."
        )
    if jit_compile == "auto":
        jit_compile = choose_jit_compile(model)

    # Optimizers and metrics create variables: make them under the model's strategy.
    with model.distribute_strategy.scope():
        resolved_labels = "sparse" if labels == "auto" else labels
        final_losses: dict[str, Any] = {}
        final_metrics: dict[str, Any] = {}
        for info in infos:
            logits = info.activation not in _PROBABILITY
            this_task = chosen_tasks[info.name]
            these_labels = loss_labels.get(info.name, resolved_labels)
            final_losses[info.name] = losses[info.name] or _default_loss(
                this_task, these_labels, logits
            )
            final_metrics[info.name] = _default_metrics(this_task, these_labels, logits)
        optimizer_obj = optimizer
        if isinstance(optimizer, str):
            optimizer_obj = keras.optimizers.get(optimizer)
            if learning_rate is not None:
                optimizer_obj.learning_rate = learning_rate
        single = len(names) == 1
        keras_loss: Any = final_losses[names[0]] if single else final_losses
        keras_metrics: Any = metrics
        if metrics == "auto":
            keras_metrics = final_metrics[names[0]] if single else final_metrics
        model.compile(
            optimizer=optimizer_obj,
            loss=keras_loss,
            metrics=keras_metrics,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
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
        "steps_per_execution": requested_steps,
        "jit_compile": jit_compile,
        "mixed_precision": mixed_precision,
        "force": force,
        **compile_kwargs,
    }
    return model


def labels_pending(model: Any) -> bool:
    """Whether `resolve_labels` still has to look at `model`'s targets (`labels="auto"`)."""
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


def _int_above_one(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 1


def _has_class_axis(y: Any, info: OutputInfo) -> bool:
    """Whether targets `y` have the output's own shape, a class axis of `units` last (one-hot
    rows or class probabilities, which only a categorical loss takes), rather than class ids
    (one axis fewer, or a last axis of 1)."""
    shape = getattr(y, "shape", None)
    if shape is None or getattr(shape, "rank", 0) is None or info.units < 2:
        return False
    return len(shape) == info.rank and shape[-1] == info.units


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
    """
    settings = _COMPILED.get(model)
    if settings is None or settings["labels"] != "auto":
        return None
    infos = [info for info in output_info(model) if settings["task"].get(info.name) == "multiclass"]
    explicit = per_output(settings["loss"], [info.name for info in output_info(model)], "loss")
    if not infos or any(_labels_of_loss(explicit[info.name]) for info in infos):
        return None  # an explicit categorical loss has already chosen the labels
    names = _output_names(model)
    targets: dict[str, Any] = {}
    if isinstance(y, Mapping):
        targets = dict(y)
    elif isinstance(y, list | tuple) and len(names) > 1:
        targets = dict(zip(names, y))
    else:
        targets = {names[0]: y}
    answers = set()
    for info in infos:
        target = targets.get(info.name)
        if target is None or not hasattr(target, "shape"):
            return None
        answers.add(_has_class_axis(target, info))
    wanted = "onehot" if answers == {True} else "sparse"
    if wanted != settings["current_labels"]:
        options = dict(settings)
        options.pop("labels")
        options.pop("current_labels")
        if getattr(model, "optimizer", None) is not None:
            # The same optimizer object, so a model that has trained keeps its optimizer's
            # state (the step count, Adam's moments): both losses give the same values.
            options["optimizer"], options["learning_rate"] = model.optimizer, None
        steps = model.steps_per_execution  # as `fit_steps_per_execution` may have capped it
        compile(model, options.pop("task"), labels=wanted, **options)
        model.steps_per_execution = steps
        _COMPILED[model].update(
            labels="auto", optimizer=settings["optimizer"], learning_rate=settings["learning_rate"]
        )
    return wanted
