"""Model builders: `mlp`, `cnn`, `rnn` (exposed as `kerasx.models.mlp`, ...).

Each builder returns a functional `keras.Model` with predictable layer names:

- inputs: `"input"` for one input; the keys of `input_shape` for a dict of inputs;
- outputs: `"output"` for an int `outputs`; the keys of `outputs` for a dict;
- hidden layers: `hidden_1`, `hidden_2`, ... (mlp), `conv_1`/`pool_1`, ..., `dense_1`, ...
  (cnn), `lstm_1`, ... (rnn); with several inputs, per-input layers are prefixed by the input
  name (`"left_conv_1"`) and the branches meet in a `"concatenate"` layer.

The output layers always compute in float32, so a mixed-precision model keeps a stable loss.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kerasx.errors import ConfigurationError
from kerasx.models._tasks import BUILDER_TASKS, TASKS, per_output

__all__ = ["cnn", "mlp", "rnn"]

_CELLS = ("lstm", "gru", "simple")
_Pool = tuple[int, int] | None


# --------------------------------------------------------------------------- validation


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _int_tuple(value: Any, arg: str, *, allow_empty: bool) -> tuple[int, ...]:
    if _positive_int(value):
        value = (value,)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(
            f"`{arg}` must be a tuple of positive integers. Received: {arg}={value!r}."
        )
    items = tuple(value)
    if not all(_positive_int(item) for item in items):
        raise ConfigurationError(
            f"`{arg}` must contain positive integers only. Received: {arg}={value!r}."
        )
    if not items and not allow_empty:
        raise ConfigurationError(
            f"`{arg}` must not be empty: give at least one layer size, e.g. {arg}=(32,). "
            f"Received: {arg}={value!r}."
        )
    return items


def _shape(value: Any, arg: str, *, ranks: tuple[int, ...], none_ok: bool) -> tuple[Any, ...]:
    if _positive_int(value):
        value = (value,)
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        raise ConfigurationError(
            f"`{arg}` must be a tuple of {wanted} dimension(s), without the batch dimension. "
            f"Received: {arg}={value!r}."
        )
    for index, dim in enumerate(value):
        if dim is None and (none_ok if index == 0 else False):
            continue
        if not _positive_int(dim):
            hint = " Only the time dimension (the first) may be None." if none_ok else ""
            raise ConfigurationError(
                f"`{arg}` must contain positive integers.{hint} Received: {arg}={value!r}."
            )
    return tuple(value)


def _shapes(input_shape: Any, *, ranks: tuple[int, ...], none_ok: bool) -> dict[str, Any]:
    """`{input name: shape}`; a single shape is named `"input"`."""
    if isinstance(input_shape, Mapping):
        if not input_shape:
            raise ConfigurationError(
                "`input_shape` as a dict must name at least one input. Received: input_shape={}."
            )
        shapes = {}
        for key, shape in input_shape.items():
            if not isinstance(key, str) or not key:
                raise ConfigurationError(
                    f"Input names must be non-empty strings. Received: input name {key!r}."
                )
            shapes[key] = _shape(shape, f"input_shape[{key!r}]", ranks=ranks, none_ok=none_ok)
        return shapes
    return {"input": _shape(input_shape, "input_shape", ranks=ranks, none_ok=none_ok)}


def _heads(outputs: Any) -> dict[str, int]:
    """`{output name: units}`; an int is one head named `"output"`."""
    if _positive_int(outputs):
        return {"output": outputs}
    if isinstance(outputs, Mapping) and outputs:
        heads = {}
        for key, units in outputs.items():
            if not isinstance(key, str) or not key or not _positive_int(units):
                raise ConfigurationError(
                    "`outputs` as a dict must map output names to positive unit counts. "
                    f"Received: outputs={outputs!r}."
                )
            heads[key] = units
        return heads
    raise ConfigurationError(
        "`outputs` must be a positive integer (classes or units) or a dict {name: units}. "
        f"Received: outputs={outputs!r}."
    )


def _rate(value: Any, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigurationError(f"`{arg}` must be a rate in [0, 1). Received: {arg}={value!r}.")
    return float(value)


def _model_name(name: Any, default: str) -> str:
    if name is None:
        return default
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"`name` must be a non-empty string. Received: name={name!r}.")
    return name


_TASK_ACTIVATIONS = {
    "binary": "sigmoid",
    "multiclass": "softmax",
    "multilabel": "sigmoid",
    "regression": "linear",
}


def _output_order(heads: Mapping[str, int]) -> list[str]:
    """The heads in the built model's output order: Keras sorts the names of a dict of
    outputs, so a list of values per output follows `model.output_names`."""
    return sorted(heads)


def _head_tasks(task: Any, heads: Mapping[str, int]) -> dict[str, str]:
    """The task of each head (`"auto"` where none was given), checked against its units."""
    chosen = per_output(task, _output_order(heads), "task", missing="auto")
    for key, value in chosen.items():
        if value != "auto" and value not in TASKS:
            raise ConfigurationError(
                f"`task` must be 'auto' or one of {list(TASKS)}. Received: task={value!r} "
                f"for output {key!r}."
            )
        if value == "multiclass" and heads[key] < 2:
            raise ConfigurationError(
                f"A multiclass output needs one unit per class (at least 2). Received: "
                f"task='multiclass' with {heads[key]} unit(s) for output {key!r}. Use "
                "task='binary' for two classes in one unit, or give `outputs` the class count."
            )
    return chosen


def _output_activations(
    output_activation: Any, heads: Mapping[str, int], tasks: Mapping[str, str]
) -> dict[str, Any]:
    """The activation of each head; `"auto"` follows the head's task, else its units
    (softmax for 2+ units, sigmoid for one)."""
    chosen = per_output(
        output_activation, _output_order(heads), "output_activation", missing="auto"
    )
    result = {}
    for key, units in heads.items():
        activation = chosen[key]
        if activation == "auto":
            task = tasks[key]
            activation = _TASK_ACTIVATIONS.get(task, "softmax" if units > 1 else "sigmoid")
        result[key] = activation
    return result


# --------------------------------------------------------------------------- building


@contextlib.contextmanager
def _build_scope(mixed_precision: str, strategy: Any) -> Iterator[None]:
    """Build under the chosen dtype policy and, if given, the strategy's scope."""
    import keras

    from kerasx import runtime

    previous = keras.config.dtype_policy()
    if mixed_precision == "auto" and previous.name != "float32":
        policy = previous.name  # the user chose one globally: respect it
    else:
        policy = runtime.mixed_precision_policy(mixed_precision)
    with contextlib.ExitStack() as stack:
        if strategy is not None:
            stack.enter_context(runtime.strategy(strategy).scope())
        keras.config.set_dtype_policy(policy)
        try:
            yield
        finally:
            keras.config.set_dtype_policy(previous)


def _inputs(shapes: Mapping[str, Any]) -> dict[str, Any]:
    import keras

    return {key: keras.Input(shape=shape, name=key) for key, shape in shapes.items()}


def _prefix(key: str, many: bool) -> str:
    return f"{key}_" if many else ""


def _merge(branches: list[Any]) -> Any:
    import keras

    if len(branches) == 1:
        return branches[0]
    return keras.layers.Concatenate(name="concatenate")(branches)


def _finish(
    inputs: dict[str, Any],
    x: Any,
    heads: dict[str, int],
    output_activation: Any,
    name: str,
    tasks: dict[str, str],
) -> Any:
    import keras

    activations = _output_activations(output_activation, heads, tasks)
    outputs = {
        key: keras.layers.Dense(units, activation=activations[key], dtype="float32", name=key)(x)
        for key, units in heads.items()
    }
    model_inputs: Any = inputs if len(inputs) > 1 else next(iter(inputs.values()))
    model_outputs: Any = outputs if len(outputs) > 1 else next(iter(outputs.values()))
    model = keras.Model(model_inputs, model_outputs, name=name)
    given = {key: task for key, task in tasks.items() if task != "auto"}
    if given:
        BUILDER_TASKS[model] = given
    return model


def _dense_stack(
    x: Any, units: Sequence[int], prefix: str, *, activation: Any, dropout: float, batch_norm: bool
) -> Any:
    import keras

    for index, size in enumerate(units, start=1):
        base = f"{prefix}{index}"
        if batch_norm:
            x = keras.layers.Dense(size, use_bias=False, name=base)(x)
            x = keras.layers.BatchNormalization(name=f"{base}_bn")(x)
            x = keras.layers.Activation(activation, name=f"{base}_act")(x)
        else:
            x = keras.layers.Dense(size, activation=activation, name=base)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{base}_dropout")(x)
    return x


def mlp(
    input_shape: Any,
    hidden: Sequence[int] = (64,),
    outputs: int | Mapping[str, int] = 10,
    *,
    activation: Any = "relu",
    output_activation: Any = "auto",
    task: Any = "auto",
    dropout: float = 0.0,
    batch_norm: bool = False,
    name: str | None = None,
    branch: Sequence[int] = (),
    mixed_precision: str = "auto",
    strategy: Any = None,
) -> Any:
    """A multi-layer perceptron: Dense layers, optionally with batch norm and dropout.

    Inputs of rank > 1 are flattened first. With several inputs (a dict `input_shape`), each
    input may first pass through its own Dense layers (`branch`), then all are concatenated
    and go through `hidden`. The Keras 2 style two-input model (two `Input((784,))`, a
    `Dense(10)` on each, concatenated, one output unit) is
    `mlp({"x1": (784,), "x2": (784,)}, hidden=(), outputs=1, branch=(10,))`.

    Args:
        input_shape: shape of one sample, e.g. `(784,)`, or a dict `{input name: shape}`.
        hidden: units of each hidden Dense layer (named `hidden_1`, ...). Defaults to `(64,)`.
        outputs: units of the output layer, or a dict `{output name: units}` for several
            outputs. Defaults to `10`.
        activation: activation of hidden and branch layers. Defaults to `"relu"`.
        output_activation: activation of the output layer(s): `"auto"` (from `task`; with
            `task="auto"`, softmax for 2+ units and sigmoid for one unit), any Keras
            activation, or a dict per output. Defaults to `"auto"`.
        task: what each output predicts: `"auto"`, `"binary"`, `"multiclass"`,
            `"multilabel"` or `"regression"` (a linear output), or a dict per output.
            `kerasx.models.compile(model)` then compiles for that task. Defaults to `"auto"`.
        dropout: dropout rate after each hidden layer; 0 adds no Dropout layer. Defaults to
            `0.0`.
        batch_norm: Dense (without bias) -> BatchNormalization -> activation, instead of
            Dense with activation. Defaults to `False`.
        name: model name. Defaults to `None` (`"mlp"`).
        branch: with several inputs, units of Dense layers applied to each input before the
            concatenation (named `<input>_branch_1`, ...). Defaults to `()`.
        mixed_precision: dtype policy to build in: `"auto"` (the global Keras policy if the
            user set one, else `kerasx.runtime.mixed_precision_policy("auto")`, which is
            float32 on CPU) or a policy name. The output layer is float32 regardless.
            Defaults to `"auto"`.
        strategy: build under `kerasx.runtime.strategy(strategy).scope()` (a name or a
            `tf.distribute.Strategy`); compile and fit the model under the same strategy.
            Defaults to `None` (the current strategy).

    Returns:
        An uncompiled functional `keras.Model`.

    Raises:
        ConfigurationError: if a shape, size, rate or name is invalid.

    Example:

    >>> from kerasx import models
    >>> model = models.mlp((100,), hidden=(64,), outputs=10)
    >>> model.count_params()
    7114
    """
    shapes = _shapes(input_shape, ranks=(1, 2, 3, 4), none_ok=False)
    hidden = _int_tuple(hidden, "hidden", allow_empty=True)
    branch = _int_tuple(branch, "branch", allow_empty=True)
    heads = _heads(outputs)
    tasks = _head_tasks(task, heads)
    dropout = _rate(dropout, "dropout")
    model_name = _model_name(name, "mlp")
    if branch and len(shapes) == 1:
        raise ConfigurationError(
            "`branch` layers apply to each input of a multi-input model, but there is one "
            f"input. Received: branch={branch!r}, input_shape={input_shape!r}. Put the sizes "
            "in `hidden` instead."
        )
    import keras

    with _build_scope(mixed_precision, strategy):
        inputs = _inputs(shapes)
        many = len(inputs) > 1
        branches = []
        for key, tensor in inputs.items():
            x = tensor
            if len(shapes[key]) > 1:
                x = keras.layers.Flatten(name=f"{_prefix(key, many)}flatten")(x)
            x = _dense_stack(
                x, branch, f"{key}_branch_", activation=activation, dropout=0.0, batch_norm=False
            )
            branches.append(x)
        x = _merge(branches)
        x = _dense_stack(
            x, hidden, "hidden_", activation=activation, dropout=dropout, batch_norm=batch_norm
        )
        return _finish(inputs, x, heads, output_activation, model_name, tasks)


def _pool_tuple(pool_size: Any) -> _Pool:
    if pool_size is None or pool_size == 1:
        return None
    if _positive_int(pool_size):
        return (pool_size, pool_size)
    if (
        isinstance(pool_size, Sequence)
        and len(pool_size) == 2
        and all(_positive_int(p) for p in pool_size)
    ):
        return (pool_size[0], pool_size[1])
    raise ConfigurationError(
        "`pool_size` must be a positive integer, a pair of them, or None for no pooling. "
        f"Received: pool_size={pool_size!r}."
    )


def _check_pooling(key: str, shape: tuple[int, ...], filters: tuple[int, ...], pool: _Pool) -> None:
    """Refuse an input too small for the pooling stack, naming the pool that would reach 0."""
    if pool is None:
        return
    height, width = shape[0], shape[1]
    for stage in range(1, len(filters) + 1):
        new_height, new_width = height // pool[0], width // pool[1]
        if new_height == 0 or new_width == 0:
            raise ConfigurationError(
                f"Input {key!r} of shape {shape} is too small for {len(filters)} conv stages "
                f"with pool_size={pool}: pool_{stage} would shrink the {height}x{width} feature "
                f"map of conv_{stage} to {new_height}x{new_width}. Received: "
                f"input_shape={shape}, filters={filters}. Use at most {stage - 1} stage(s) "
                "(fewer filters), a smaller pool_size, or pool_size=None."
            )
        height, width = new_height, new_width


def _conv_stack(
    x: Any, filters: Sequence[int], prefix: str, kernel_size: Any, pool: _Pool, batch_norm: bool
) -> Any:
    """The conv stages of `cnn`: `conv_i` (with `_bn`, `_act` under batch norm), `pool_i`."""
    import keras

    for stage, size in enumerate(filters, start=1):
        base = f"{prefix}conv_{stage}"
        if batch_norm:
            x = keras.layers.Conv2D(size, kernel_size, padding="same", use_bias=False, name=base)(x)
            x = keras.layers.BatchNormalization(name=f"{base}_bn")(x)
            x = keras.layers.Activation("relu", name=f"{base}_act")(x)
        else:
            x = keras.layers.Conv2D(
                size, kernel_size, padding="same", activation="relu", name=base
            )(x)
        if pool is not None:
            x = keras.layers.MaxPooling2D(pool, name=f"{prefix}pool_{stage}")(x)
    return x


def cnn(
    input_shape: Any,
    filters: Sequence[int] = (32, 64),
    outputs: int | Mapping[str, int] = 10,
    *,
    kernel_size: int | tuple[int, int] = 3,
    pool_size: int | tuple[int, int] | None = 2,
    dense: Sequence[int] = (128,),
    dropout: float = 0.5,
    batch_norm: bool = False,
    global_pool: bool = False,
    name: str | None = None,
    output_activation: Any = "auto",
    task: Any = "auto",
    mixed_precision: str = "auto",
    strategy: Any = None,
) -> Any:
    """A small convnet: conv stages, then Dense layers.

    Each stage `i` is `Conv2D(filters[i], kernel_size, padding="same")` with ReLU (named
    `conv_i`; with `batch_norm`, Conv2D without bias -> `conv_i_bn` -> `conv_i_act`), then
    `MaxPooling2D(pool_size)` (`pool_i`). The feature maps are flattened (`flatten`) or
    averaged (`global_pool`), then pass through `dense` Dense layers (`dense_i`, ReLU), each
    followed by Dropout (`dense_i_dropout`) when `dropout > 0`. A 2-D `input_shape` such as
    `(8, 8)` gets a channel axis (layer `add_channel`).

    Args:
        input_shape: `(height, width)` or `(height, width, channels)`, or a dict of them for
            several inputs (each gets its own conv stages; the branches are concatenated
            before the Dense layers).
        filters: filters of each conv stage; at least one. Defaults to `(32, 64)`.
        outputs: units of the output layer, or a dict `{output name: units}`. Defaults to
            `10`.
        kernel_size: convolution kernel size. Defaults to `3`.
        pool_size: max-pooling size after each stage, or None for no pooling. Defaults to `2`.
        dense: units of the Dense layers after the conv stages. Defaults to `(128,)`.
        dropout: dropout rate after each Dense layer. Defaults to `0.5`.
        batch_norm: add BatchNormalization after each convolution. Defaults to `False`.
        global_pool: GlobalAveragePooling2D (`global_pool`) instead of Flatten. Defaults to
            `False`.
        name: model name. Defaults to `None` (`"cnn"`).
        output_activation: see `mlp`. Defaults to `"auto"`.
        task: see `mlp`. Defaults to `"auto"`.
        mixed_precision: dtype policy to build in; see `mlp`. Defaults to `"auto"`.
        strategy: build under this strategy's scope; see `mlp`. Defaults to `None`.

    Returns:
        An uncompiled functional `keras.Model`.

    Raises:
        ConfigurationError: if a shape, size or rate is invalid, or the input is too small for
            the pooling stack (the message names the pool that would shrink to 0).

    Example:

    >>> from kerasx import models
    >>> models.cnn((8, 8), filters=(8,), dense=(), outputs=10).output_shape
    (None, 10)
    """
    shapes = _shapes(input_shape, ranks=(2, 3), none_ok=False)
    filters = _int_tuple(filters, "filters", allow_empty=False)
    dense = _int_tuple(dense, "dense", allow_empty=True)
    heads = _heads(outputs)
    tasks = _head_tasks(task, heads)
    dropout = _rate(dropout, "dropout")
    pool = _pool_tuple(pool_size)
    model_name = _model_name(name, "cnn")
    for key, shape in shapes.items():
        _check_pooling(key, shape, filters, pool)
    import keras

    with _build_scope(mixed_precision, strategy):
        inputs = _inputs(shapes)
        many = len(inputs) > 1
        branches = []
        for key, tensor in inputs.items():
            prefix = _prefix(key, many)
            x = tensor
            if len(shapes[key]) == 2:
                x = keras.layers.Reshape((*shapes[key], 1), name=f"{prefix}add_channel")(x)
            x = _conv_stack(x, filters, prefix, kernel_size, pool, batch_norm)
            if global_pool:
                x = keras.layers.GlobalAveragePooling2D(name=f"{prefix}global_pool")(x)
            else:
                x = keras.layers.Flatten(name=f"{prefix}flatten")(x)
            branches.append(x)
        x = _merge(branches)
        x = _dense_stack(x, dense, "dense_", activation="relu", dropout=dropout, batch_norm=False)
        return _finish(inputs, x, heads, output_activation, model_name, tasks)


def rnn(
    input_shape: Any,
    units: Sequence[int] = (32,),
    outputs: int | Mapping[str, int] = 1,
    *,
    cell: str = "lstm",
    bidirectional: bool = False,
    return_sequences: bool = False,
    dropout: float = 0.0,
    name: str | None = None,
    output_activation: Any = "auto",
    task: Any = "auto",
    mixed_precision: str = "auto",
    strategy: Any = None,
) -> Any:
    """A recurrent network: stacked LSTM / GRU / SimpleRNN layers, then a Dense output.

    Layers are named `<cell>_1`, `<cell>_2`, ... (`lstm_1`; wrapped in `bidirectional_i` when
    `bidirectional`). Every recurrent layer but the last returns sequences; the last does when
    `return_sequences` is True, and the output Dense then applies to every time step. The time
    dimension may be None for variable-length sequences, as in Keras 2 style
    `Input(shape=(None, 1))`.

    Args:
        input_shape: `(time_steps, features)`, time_steps may be None; or a dict of them for
            several inputs (each gets its own recurrent layers; their results are concatenated
            on the feature axis, so with `return_sequences` their lengths must match).
        units: units of each recurrent layer; at least one. Defaults to `(32,)`.
        outputs: units of the output layer, or a dict `{output name: units}`. Defaults to `1`.
        cell: `"lstm"`, `"gru"` or `"simple"`. Defaults to `"lstm"`.
        bidirectional: wrap each recurrent layer in `Bidirectional`. Defaults to `False`.
        return_sequences: output one prediction per time step. Defaults to `False`.
        dropout: input dropout of each recurrent layer. Defaults to `0.0`.
        name: model name. Defaults to `None` (`"rnn"`).
        output_activation: see `mlp`; `"auto"` is sigmoid for one unit, as in Keras 2 style
            sequence classifiers. Defaults to `"auto"`.
        task: see `mlp`; `task="regression"` gives a linear output (a sequence regressor).
            Defaults to `"auto"`.
        mixed_precision: dtype policy to build in; see `mlp`. Defaults to `"auto"`.
        strategy: build under this strategy's scope; see `mlp`. Defaults to `None`.

    Returns:
        An uncompiled functional `keras.Model`.

    Raises:
        ConfigurationError: if a shape, size, rate or the cell name is invalid.

    Example:

    >>> from kerasx import models
    >>> models.rnn((None, 1), units=(32, 32)).input_shape
    (None, None, 1)
    """
    shapes = _shapes(input_shape, ranks=(2,), none_ok=True)
    units = _int_tuple(units, "units", allow_empty=False)
    heads = _heads(outputs)
    tasks = _head_tasks(task, heads)
    dropout = _rate(dropout, "dropout")
    model_name = _model_name(name, "rnn")
    if cell not in _CELLS:
        raise ConfigurationError(f"`cell` must be one of {list(_CELLS)}. Received: cell={cell!r}.")
    import keras

    layer_class = {
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
        "simple": keras.layers.SimpleRNN,
    }[cell]
    with _build_scope(mixed_precision, strategy):
        inputs = _inputs(shapes)
        many = len(inputs) > 1
        branches = []
        for key, tensor in inputs.items():
            prefix = _prefix(key, many)
            x = tensor
            for index, size in enumerate(units, start=1):
                sequences = index < len(units) or return_sequences
                layer = layer_class(
                    size,
                    return_sequences=sequences,
                    dropout=dropout,
                    name=f"{prefix}{cell}_{index}",
                )
                if bidirectional:
                    layer = keras.layers.Bidirectional(layer, name=f"{prefix}bidirectional_{index}")
                x = layer(x)
            branches.append(x)
        x = _merge(branches)
        return _finish(inputs, x, heads, output_activation, model_name, tasks)
