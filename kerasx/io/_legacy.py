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
from typing import Any

__all__ = [
    "KERAS2_ONLY_KEYS",
    "compile_from_training_config",
    "keras3_legacy_config",
    "optimizer_from_config",
    "restore_optimizer_state",
]

logger = logging.getLogger(__name__)

KERAS2_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    "LSTM": ("time_major",),
    "GRU": ("time_major",),
    "SimpleRNN": ("time_major",),
}
"""Layer arguments Keras 2 wrote that Keras 3 layers refuse; dropped when reading old files."""


def keras3_legacy_config(node: Any) -> Any:
    """A copy of a Keras 2 model configuration without arguments Keras 3 refuses."""
    if isinstance(node, list):
        return [keras3_legacy_config(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: keras3_legacy_config(value) for key, value in node.items()}
    drop = KERAS2_ONLY_KEYS.get(str(result.get("class_name")), ())
    if drop and isinstance(result.get("config"), dict):
        result["config"] = {k: v for k, v in result["config"].items() if k not in drop}
    return result


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
        "optimizer": optimizer_from_config(
            training_config.get("optimizer_config"), custom_objects
        ),
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


def restore_optimizer_state(model: Any, h5_file: Any) -> bool:
    """Copy the optimizer state of a legacy HDF5 file into `model.optimizer`.

    Args:
        model: a compiled model.
        h5_file: the open `h5py.File`.

    Returns:
        True if the state was restored, False if there was none or it did not fit (logged).
    """
    if "optimizer_weights" not in h5_file:
        return False
    from keras.src.legacy.saving import legacy_h5_format

    try:
        model.optimizer.build(model.trainable_variables)
        values = legacy_h5_format.load_optimizer_weights_from_hdf5_group(h5_file)
        model.optimizer.set_weights(values)
    except (ValueError, TypeError, AttributeError, NotImplementedError) as error:
        logger.warning(
            "The optimizer state in the file does not fit the rebuilt optimizer (%s); "
            "training resumes with a fresh optimizer.",
            error,
        )
        return False
    return True
