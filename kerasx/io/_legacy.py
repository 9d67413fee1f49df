"""Legacy HDF5 and Keras 2 support: re-compiling from `training_config`, optimizer state.

Keras 3.15's own HDF5 loader fails on a `training_config` that names a loss or metric by a
string alias (`"mse"`, `"acc"`): it tries to deserialise `keras.metrics.mse` as an object.
kerasx loads the model uncompiled and compiles it here, handing the string aliases to
`model.compile` as they are (Keras 3 understands them there), and rebuilding the optimizer
from its configuration, ignoring keys that only Keras 2 knew.
"""

from __future__ import annotations

import inspect as _inspect
import logging
from typing import TYPE_CHECKING, Any

from kerasx._compat.optimizers import knows_slots, nadam_product_variable, slot_variable
from kerasx.io._keras2_table import KEY_ROWS
from kerasx.io._keras2_translate import translate_keras2_config

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from kerasx.io._reader import ModelFile

__all__ = [
    "KERAS2_ONLY_KEYS",
    "compile_from_training_config",
    "keras3_legacy_config",
    "optimizer_from_config",
    "restore_optimizer_state",
]

logger = logging.getLogger(__name__)

KERAS2_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(row.key for row in KEY_ROWS if row.class_name == name and row.action == "drop")
    for name in sorted({row.class_name for row in KEY_ROWS if row.action == "drop"})
}
"""Layer arguments Keras 2 wrote that Keras 3 layers refuse (from the table in
`kerasx.io._keras2_table`); dropped when reading old files if Keras 3 can do without them."""


def keras3_legacy_config(node: Any) -> Any:
    """A copy of a Keras 2 model configuration that Keras 3's legacy reader rebuilds.

    See `kerasx.io._keras2_translate.translate_keras2_config` (the renames are logged).
    """
    import kerasx.layers._keras2  # noqa: F401  (registers the safe stand-in layers)

    return translate_keras2_config(node)[0]


_BASE_OPTIMIZER_KEYS = frozenset(
    {
        "learning_rate",
        "weight_decay",
        "clipnorm",
        "clipvalue",
        "global_clipnorm",
        "use_ema",
        "ema_momentum",
        "ema_overwrite_frequency",
        "loss_scale_factor",
        "gradient_accumulation_steps",
        "name",
    }
)


def optimizer_from_config(config: Any, custom_objects: dict[str, Any] | None) -> Any:
    """Build a Keras 3 optimizer from a Keras 2 or Keras 3 optimizer configuration.

    Args:
        config: `{"class_name": ..., "config": {...}}`, a string such as `"adam"`, or None.
        custom_objects: custom classes by name, or None.

    Returns:
        A `keras.optimizers.Optimizer`, or `"rmsprop"` (Keras's default) when `config` is None.
    """
    import keras

    if config is None:
        return "rmsprop"
    if isinstance(config, str):
        return keras.optimizers.get(config)
    class_name = str(config.get("class_name", "")).split(">")[-1]
    arguments = dict(config.get("config") or {})
    cls = (custom_objects or {}).get(class_name) or getattr(keras.optimizers, class_name, None)
    if cls is None:
        lowered = {name.lower(): name for name in dir(keras.optimizers)}
        cls = getattr(keras.optimizers, lowered.get(class_name.lower(), ""), None)
    if cls is None:
        return keras.optimizers.deserialize(config, custom_objects=custom_objects)
    accepted = set(_inspect.signature(cls.__init__).parameters) | _BASE_OPTIMIZER_KEYS
    kept = {key: value for key, value in arguments.items() if key in accepted}
    if isinstance(kept.get("learning_rate"), dict):
        kept["learning_rate"] = keras.optimizers.schedules.deserialize(kept["learning_rate"])
    dropped = sorted(set(arguments) - set(kept))
    if dropped:
        logger.info("Ignoring optimizer keys Keras 3 does not know: %s", ", ".join(dropped))
    return cls(**kept)


def _loss_or_metric(value: Any, kind: str) -> Any:
    """Hand strings on as they are; turn serialised objects back into Keras objects."""
    import keras

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_loss_or_metric(item, kind) for item in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {key: _loss_or_metric(item, kind) for key, item in value.items()}
    inner_config = value.get("config") if isinstance(value, dict) else None
    if isinstance(inner_config, dict) and isinstance(inner_config.get("fn"), str):
        # Keras 2's MeanMetricWrapper/LossFunctionWrapper around a named function: Keras 3
        # would keep `fn` as a string and fail when called; the alias works in `compile`.
        return inner_config.get("name") or inner_config["fn"]
    if isinstance(value, dict):
        module = keras.losses if kind == "loss" else keras.metrics
        try:
            return module.deserialize(value)
        except (ValueError, TypeError) as error:
            inner = value.get("config")
            name = inner.get("fn") or inner.get("name") if isinstance(inner, dict) else None
            if isinstance(name, str):
                return name
            raise ValueError(f"Cannot rebuild the {kind} {value!r}: {error}") from error
    return value


def compile_from_training_config(
    model: Any, training_config: dict[str, Any], custom_objects: dict[str, Any] | None
) -> None:
    """Compile `model` as the HDF5 file's `training_config` says.

    Args:
        model: the loaded, uncompiled model.
        training_config: the parsed `training_config` attribute.
        custom_objects: custom classes and functions by name, or None.
    """
    arguments: dict[str, Any] = {
        "optimizer": optimizer_from_config(training_config.get("optimizer_config"), custom_objects),
        "loss": _loss_or_metric(training_config.get("loss"), "loss"),
        "metrics": _loss_or_metric(training_config.get("metrics"), "metric"),
        "weighted_metrics": _loss_or_metric(training_config.get("weighted_metrics"), "metric"),
        "loss_weights": training_config.get("loss_weights"),
    }
    for key in ("metrics", "weighted_metrics"):
        # Keras 2 wrote one list per output: `[["mae"]]` for a single-output model.
        value = arguments[key]
        single_output = len(model.outputs or []) == 1
        if single_output and isinstance(value, list) and len(value) == 1:
            arguments[key] = value[0] if isinstance(value[0], list) else value
    for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
        if key in training_config:
            arguments[key] = training_config[key]
    model.compile(**arguments)


_ITERATION_NAMES = ("iteration", "iter")
_DERIVED_NAMES = ("u_product", "momentum_cache")
"""Nadam's running product of momentum factors: recomputed from the iteration count."""


class _StateMismatch(ValueError):
    """The saved optimizer state does not fit the rebuilt optimizer."""


def restore_optimizer_state(model: Any, model_file: ModelFile, shown: str = "the file") -> bool:
    """Copy the optimizer state of a legacy HDF5 file into `model.optimizer`.

    The optimizer is built first, so a later `.keras` save round-trips even when nothing is
    restored. Files written by Keras 3 are restored in order. Files written by Keras 2 /
    tf-keras are restored by name: each saved slot (`Adam/m/dense/kernel:0` from Keras 2.11+,
    `Adam/dense/kernel/m:0` from older optimizers) goes to the Keras 3 slot of the model
    variable that the file's weight of that name was loaded into; `iteration`/`iter` goes to
    `optimizer.iterations`. Saved hyperparameters (`Adam/beta_1:0`) are skipped: the optimizer
    configuration already carries them. Every value is checked before any is assigned, so the
    optimizer is either fully restored or left fresh.

    Args:
        model: a compiled model whose weights were loaded from `model_file`.
        model_file: the open legacy HDF5 file.
        shown: how to name the file in log messages. Defaults to `"the file"`.

    Returns:
        True if the state was restored, False if there was none or it did not fit (logged as
        a warning naming what did not fit).
    """
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    listed = model_file.optimizer_weights()
    if listed is None:
        return False
    try:
        saved = _saved_optimizer_weights(listed)
        if _written_by_keras_2(model_file):
            assignments = _keras2_assignments(model, model_file, saved)
        else:
            assignments = _positional_assignments(optimizer, saved)
    except _StateMismatch as error:
        logger.warning(
            "The optimizer state in %s does not fit the rebuilt %s optimizer: %s. "
            "Training resumes with a fresh optimizer.",
            shown,
            type(optimizer).__name__,
            error,
        )
        return False
    for variable, value in assignments:
        variable.assign(value)
    return True


def _saved_optimizer_weights(listed: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The file's `(name, array)` optimizer entries, each checked to be present."""
    for name, value in listed:
        if value is None:
            raise _StateMismatch(f"the saved entry {name!r} is listed but missing")
    return listed


def _written_by_keras_2(model_file: ModelFile) -> bool:
    written_by = model_file.attribute("keras_version") or ""
    return written_by.startswith(("1.", "2."))


def _positional_assignments(optimizer: Any, saved: list[tuple[str, Any]]) -> list[Any]:
    """Pair a Keras 3 file's optimizer weights with `optimizer.variables` by position."""
    variables = optimizer.variables
    if len(saved) != len(variables):
        raise _StateMismatch(
            f"the file holds {len(saved)} optimizer variables, the optimizer has {len(variables)}"
        )
    assignments = []
    for (name, value), variable in zip(saved, variables):
        _check_shape(name, value, variable)
        assignments.append((variable, value))
    return assignments


def _check_shape(name: str, value: Any, variable: Any) -> None:
    if tuple(value.shape) != tuple(variable.shape):
        raise _StateMismatch(
            f"{name!r} has shape {tuple(value.shape)}, but {variable.path!r} has shape "
            f"{tuple(variable.shape)}"
        )


def _without_suffix(name: str) -> str:
    """`"dense/kernel:0"` -> `"dense/kernel"`."""
    head, colon, tail = name.rpartition(":")
    return head if colon and tail.isdigit() else name


def _model_variables_by_keras2_name(model: Any, model_file: ModelFile) -> dict[str, Any]:
    """Keras 2 variable name (`"lstm/lstm_cell/kernel"`) -> the Keras 3 variable it loaded into.

    Pairs layers and weights exactly as `legacy_h5_format.load_weights_from_hdf5_group` does
    (layers with weights, in order; each layer's trainable then non-trainable weights). A name
    that occurs twice maps to None: it cannot say which variable a slot belongs to.
    """
    layers = [layer for layer in model.layers if layer.weights]
    saved_layers = [names for names in model_file.legacy_weight_names() if names]
    by_name: dict[str, Any] = {}
    for layer, weight_names in zip(layers, saved_layers):
        variables = layer.trainable_weights + layer.non_trainable_weights
        for weight_name, variable in zip(weight_names, variables):
            key = _without_suffix(str(weight_name))
            by_name[key] = None if key in by_name else variable
    return by_name


def _find_slot(
    parts: list[str], slots: frozenset[str], by_name: dict[str, Any]
) -> tuple[str, str] | None:
    """`(slot, variable name)` of a saved name split on "/", or None if it names no slot.

    Keras 2.11+ writes `<optimizer>/<slot>/<variable>`; older Keras 2 wrote
    `<optimizer>/<variable>/<slot>`.
    """
    if len(parts) < 3:
        return None
    for slot, variable_name in (
        (parts[1], "/".join(parts[2:])),
        (parts[-1], "/".join(parts[1:-1])),
    ):
        if slot in slots and variable_name in by_name:
            return slot, variable_name
    return None


def _keras2_assignments(
    model: Any, model_file: ModelFile, saved: list[tuple[str, Any]]
) -> list[Any]:
    """Pair a Keras 2 file's optimizer weights with the Keras 3 optimizer's variables by name.

    Raises:
        _StateMismatch: an entry has no place, a place gets no value, or shapes differ.
    """
    optimizer = model.optimizer
    slots = knows_slots(optimizer)
    by_name = _model_variables_by_keras2_name(model, model_file)
    positions = {id(variable): i for i, variable in enumerate(model.trainable_variables)}
    assignments: list[Any] = []
    problems: list[str] = []
    skipped: list[str] = []
    iterations = None
    for name, value in saved:
        parts = _without_suffix(name).split("/")
        if parts[-1] in _ITERATION_NAMES and len(parts) <= 2:
            if value.ndim != 0:
                problems.append(f"{name!r} has shape {tuple(value.shape)}, not a scalar")
                continue
            iterations = int(value)
            assignments.append((optimizer.iterations, value))
            continue
        if parts[-1] in _DERIVED_NAMES or (len(parts) == 2 and value.ndim == 0):
            skipped.append(name)  # a hyperparameter or Nadam's product: not state to copy
            continue
        if slots is None:
            problems.append(f"kerasx does not know where {type(optimizer).__name__} keeps {name!r}")
            continue
        found = _find_slot(parts, slots, by_name)
        if found is None:
            problems.append(f"{name!r} names no slot of a model variable")
            continue
        slot, variable_name = found
        target = _slot_variable(optimizer, slot, by_name[variable_name], positions)
        if target is None:
            problems.append(f"{name!r} has no place in the optimizer")
            continue
        if tuple(value.shape) != tuple(target.shape):
            problems.append(
                f"{name!r} has shape {tuple(value.shape)}, but {target.path!r} has shape "
                f"{tuple(target.shape)}"
            )
            continue
        assignments.append((target, value))
    u_product = nadam_product_variable(optimizer)
    if u_product is not None and iterations is not None:
        assignments.append((u_product, _nadam_u_product(optimizer, iterations)))
    problems += _unfilled(optimizer, assignments)
    if problems:
        shown = "; ".join(problems[:3])
        if len(problems) > 3:
            shown += f"; and {len(problems) - 3} more"
        raise _StateMismatch(shown)
    if skipped:
        logger.info("Not restoring optimizer hyperparameters: %s", ", ".join(skipped))
    return assignments


def _slot_variable(
    optimizer: Any, slot: str, model_variable: Any, positions: dict[int, int]
) -> Any:
    """The optimizer's variable for slot `slot` of `model_variable`, or None.

    `positions` maps each trained variable to its place in `model.trainable_variables`, the
    list `restore_optimizer_state` builds the optimizer with (and Keras orders slots by).
    """
    if model_variable is None or id(model_variable) not in positions:
        return None  # the variable is not trained by this optimizer
    return slot_variable(optimizer, slot, positions[id(model_variable)])


def _nadam_u_product(optimizer: Any, iterations: int) -> float:
    """Keras 3 Nadam's product of momentum factors after `iterations` steps."""
    product = 1.0
    for step in range(1, iterations + 1):
        product *= optimizer.beta_1 * (1.0 - 0.5 * 0.96**step)
    return product


def _unfilled(optimizer: Any, assignments: list[Any]) -> list[str]:
    """Problems for optimizer variables that get no value or more than one."""
    counts: dict[int, int] = {}
    for variable, _value in assignments:
        counts[id(variable)] = counts.get(id(variable), 0) + 1
    learning_rate = optimizer.learning_rate  # the variable itself, unless it is a schedule
    problems = []
    for variable in optimizer.variables:
        if variable is learning_rate:
            continue  # comes from the configuration
        count = counts.get(id(variable), 0)
        if count == 0:
            problems.append(f"no saved value for {variable.path!r}")
        elif count > 1:
            problems.append(f"{count} saved values for {variable.path!r}")
    return problems
