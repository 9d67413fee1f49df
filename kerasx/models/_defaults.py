"""What `compile`'s `"auto"` speed settings mean for a model on this machine.

- `steps_per_execution="auto"`: `choose_steps_per_execution(model)`, several training steps
  per call into TensorFlow for small models, where the per-step overhead dominates.
- `jit_compile="auto"`: `choose_jit_compile(model)`, XLA on GPUs (as Keras's own "auto") and,
  on CPU-only machines, for recurrent models with fixed-length inputs; off for other models
  on CPU, under a distribution strategy and with op determinism enabled.
- `mixed_precision="auto"`: nothing to change after the model is built; `check_mixed_precision`
  checks that a mixed-precision model keeps float32 outputs. Mixed precision is chosen at build
  time (kerasx builders, `kerasx.runtime.enable_mixed_precision`).
"""

from __future__ import annotations

import types
from typing import Any

from kerasx._compat.tfconfig import op_determinism_enabled
from kerasx.errors import ConfigurationError
from kerasx.models._tasks import output_layers
from kerasx.runtime import model_strategy

__all__ = [
    "check_mixed_precision",
    "choose_jit_compile",
    "choose_steps_per_execution",
    "execution_settings",
    "only_library_code",
]


def _all_layers(model: Any) -> list[Any]:
    """Every layer of `model`, those inside nested models included."""
    found = []
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
    return found


def _distributed(model: Any) -> bool:
    return model_strategy(model) is not None


def _replicated(model: Any) -> bool:
    """Whether `model` trains under a strategy with several replicas (devices or workers)."""
    active = model_strategy(model)
    return active is not None and int(active.num_replicas_in_sync) > 1


def _int_above_one(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 1


def _recurrent_with_fixed_length(model: Any, layers: list[Any], fixed: bool | None) -> bool:
    """Whether `model` has a recurrent layer and one sequence length: `fixed`, or when that
    is None, inputs whose every size but the batch's is known (XLA compiles a step once per
    input shape)."""
    import keras

    recurrent = (keras.layers.RNN, keras.layers.Bidirectional)
    if not any(isinstance(layer, recurrent) for layer in layers):
        return False
    if fixed is not None:
        return fixed
    inputs = getattr(model, "inputs", None) or []
    return bool(inputs) and all(None not in tuple(t.shape)[1:] for t in inputs)


_LIBRARIES = ("keras", "kerasx")
_INNER_LAYERS = ("cell", "cells", "forward_layer", "backward_layer", "layer")
"""Public attributes through which a Keras layer holds other layers: RNN cells, wrappers."""


def _from_library(obj: Any) -> bool:
    """Whether `obj` (a layer, a loss, a metric, a function or a name) is Keras's or
    kerasx's own code; a `Lambda` is not, whatever runs inside it."""
    import keras

    if obj is None or isinstance(obj, str):
        return True
    if isinstance(obj, keras.layers.Lambda):
        return False
    module = obj.__module__ if isinstance(obj, types.FunctionType) else type(obj).__module__
    return str(module).split(".")[0] in _LIBRARIES


def only_library_code(model: Any, user_objects: Any = ()) -> bool:
    """Whether everything a training step of `model` runs is Keras's or kerasx's own code:
    the model's class, every layer (RNN cells and wrapped layers included) and
    `user_objects` (the losses and metrics given to compile, nested lists and dicts of
    names, functions and objects).

    XLA cannot compile every TensorFlow op (`tf.py_function`, `tf.numpy_function`, some
    string ops); a user's layer, loss or metric may hold one, and Keras's `supports_jit`
    does not know.

    Args:
        model: a built `keras.Model`.
        user_objects: the losses and metrics given to compile. Defaults to `()`.

    Returns:
        True when nothing in the step is the user's own code.
    """
    import keras

    stack = [model, *_all_layers(model)]
    seen: set[int] = set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if not _from_library(layer):
            return False
        for name in _INNER_LAYERS:
            inner = getattr(layer, name, None)
            stack.extend(inner if isinstance(inner, list | tuple) else [inner] if inner else [])
    return all(_from_library(leaf) for leaf in keras.tree.flatten(user_objects))


def choose_jit_compile(
    model: Any,
    *,
    gpu: bool | None = None,
    fixed_length: bool | None = None,
    user_objects: Any = (),
) -> bool:
    """What `jit_compile="auto"` means for `model` on this machine.

    XLA when a GPU is present (as Keras's own "auto"). On CPU-only machines, XLA for
    recurrent models (LSTM, GRU, SimpleRNN, also inside `Bidirectional`) whose inputs have a
    fixed length, such as `Input((50, 1))`: it compiles the loop over the time steps into one
    kernel, which made their epochs about 3x faster, the first one included. Inputs that
    declare no length (`Input((None, 1))`) may get sequences of every length, which XLA
    compiles again for each: XLA stays off for them, unless `kerasx.fit` sees that the data
    have one length (see `fit_jit_compile`). Off for other models on CPU, where compiling
    costs more time than it saves on short runs (pass `jit_compile=True` to `compile` for
    long runs). Never under a distribution strategy, with op determinism enabled, or when a
    layer does not support XLA. On CPU, also never when the model, a layer, the loss or a
    metric is the user's own code (see `only_library_code`): those trained without XLA
    before, and XLA cannot compile every op they may hold.

    Args:
        model: a built `keras.Model`.
        gpu: whether a GPU is present; None asks TensorFlow. Defaults to `None`.
        fixed_length: whether all sequences have one length; None reads it from the
            model's inputs. Defaults to `None`.
        user_objects: the losses and metrics given to compile. Defaults to `()`.

    Returns:
        True to compile with XLA.

    Example:

    >>> from kerasx import models
    >>> choose_jit_compile(models.mlp((4,)), gpu=False)
    False
    """
    import tensorflow as tf

    layers = _all_layers(model)
    if _distributed(model) or not all(getattr(layer, "supports_jit", True) for layer in layers):
        return False
    if op_determinism_enabled() is not False:  # on, or unknown: stay reproducible
        return False
    if gpu is None:
        gpu = bool(tf.config.list_physical_devices("GPU"))
    if gpu:
        return True
    return _recurrent_with_fixed_length(model, layers, fixed_length) and only_library_code(
        model, user_objects
    )


def choose_steps_per_execution(model_or_params: Any, steps_per_epoch: int | None = None) -> int:
    """What `steps_per_execution="auto"` means: training steps per call into TensorFlow.

    Per-step overhead (milliseconds on CPU) dominates small models, so many steps run in one
    call: 512 for models up to 1 million parameters, 64 up to 10 million, 1 above. Capped at
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

    Example:

    >>> choose_steps_per_execution(100_000, steps_per_epoch=45)
    45
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


def execution_settings(
    model: Any,
    steps_per_execution: int | str,
    jit_compile: bool | str,
    force: bool,
    user_objects: Any = (),
) -> tuple[int | str, bool | str]:
    """The `steps_per_execution` and `jit_compile` to compile `model` with, `"auto"` resolved.

    Args:
        model: a built `keras.Model`.
        steps_per_execution: an int, or `"auto"` (see `choose_steps_per_execution`).
        jit_compile: a bool, or `"auto"` (see `choose_jit_compile`).
        force: accept more than one step per execution under a strategy with several
            replicas.
        user_objects: the losses and metrics given to compile. Defaults to `()`.

    Returns:
        `(steps_per_execution, jit_compile)`.

    Raises:
        ConfigurationError: for more than one step per execution under a strategy with
            several replicas, unless `force` is True.
    """
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
        jit_compile = choose_jit_compile(model, user_objects=user_objects)
    return steps_per_execution, jit_compile


def check_mixed_precision(model: Any, mixed_precision: str, force: bool) -> None:
    """Refuse a precision `model` was not built in, and a mixed-precision model whose outputs
    are not float32 (the loss would not be stable).

    Args:
        model: a built `keras.Model`.
        mixed_precision: `"auto"` or a policy name the model must have been built in.
        force: skip both checks.

    Raises:
        ConfigurationError: if the model was built in another policy, or a mixed-precision
            model has an output that does not compute in float32, unless `force` is True.
    """
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
        for index, (tensor, layer) in enumerate(zip(model.outputs, output_layers(model))):
            dtype = getattr(layer, "compute_dtype", None) or str(tensor.dtype)
            if dtype != "float32":
                name = getattr(layer, "name", f"output_{index}")
                raise ConfigurationError(
                    "A mixed-precision model needs float32 outputs so the loss stays stable. "
                    f"Received: output layer {name!r} computing in {dtype!r}. Create it with "
                    "dtype='float32' (kerasx builders do), or pass force=True."
                )
