"""Describe a model file without deserialising it: safe on malicious files.

Only JSON configurations and HDF5 dataset shapes are read, through `kerasx.io._reader`; no
Keras object is built and Keras is not imported.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from kerasx.errors import ConfigurationError
from kerasx.io._files import is_saved_model_dir, model_kind, parse_json, read_private_copy
from kerasx.io._reader import LEGACY_WEIGHTS, open_model_file
from kerasx.io._scan import scan_config

__all__ = ["inspect"]


def _registered_names() -> set[str]:
    """Custom objects registered in this process, if Keras is already imported (no import)."""
    if "keras" not in sys.modules:
        return set()
    return set(sys.modules["keras"].saving.get_custom_objects())


def _empty_report(path: Path, file_format: str) -> dict[str, Any]:
    return {
        "path": str(path),
        "format": file_format,
        "keras_version": None,
        "backend": None,
        "model_class": None,
        "model_name": None,
        "layer_count": 0,
        "layer_classes": {},
        "params": None,
        "input_shapes": [],
        "output_shapes": [],
        "compiled": False,
        "optimizer_state": False,
        "unsafe": [],
        "safe": True,
    }


def inspect(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a model, weights or architecture file without deserialising anything.

    Safe on any file, malicious ones included: it reads JSON and array shapes only.

    Args:
        path: a `.keras`, `.h5`/`.hdf5`, `.weights.h5` or `.json` file, or a SavedModel folder.

    Returns:
        A JSON-serialisable dict with keys `path`, `format` (`"keras"`, `"h5"`,
        `"h5-weights"`, `"weights.h5"`, `"json"`, `"saved_model"`), `keras_version`, `backend`,
        `model_class`, `model_name`, `layer_count` (layers other than inputs), `layer_classes`
        (class name -> count), `params` (from the arrays stored in the file; None when the file
        has none), `input_shapes` and `output_shapes` (lists with None for unknown
        dimensions; an output shape is None when it cannot be derived without building the
        model), `compiled`, `optimizer_state`, `unsafe` (the findings `load` would refuse)
        and `safe`.

    Raises:
        MissingFileError: the file does not exist.
        CorruptFileError: the file is empty, truncated, or not in the format its name says.
        SerializationError: a configuration is not valid JSON.
        ConfigurationError: an unknown suffix or a directory that is not a SavedModel.

    Example:

    >>> import keras, kerasx.io, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="tiny")
    >>> report = kerasx.io.inspect(kerasx.io.save(model, os.path.join(folder, "tiny.keras")))
    >>> report["format"], report["model_name"], report["params"], report["input_shapes"]
    ('keras', 'tiny', 8, [[None, 3]])
    >>> report["safe"]
    True
    >>> lambda_model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: 2 * x)])
    >>> path = kerasx.io.save(lambda_model, os.path.join(folder, "lambda.keras"))
    >>> kerasx.io.inspect(path)["safe"]  # `load` would refuse it without `trusted=True`
    False
    """
    path = Path(path)
    if is_saved_model_dir(path):
        report = _empty_report(path, "saved_model")
        report["unsafe"] = ["TensorFlow SavedModel: a program that runs when loaded"]
        report["safe"] = False
        report["model_class"] = "SavedModel"
        return report
    kind = model_kind(path)
    data = read_private_copy(path)
    shown = repr(str(path))
    allowed = _registered_names()
    if kind == "keras":
        return _inspect_keras(path, data, shown, allowed)
    if kind in ("h5", "weights.h5"):
        return _inspect_h5(path, data, shown, allowed)
    if kind == "json":
        report = _empty_report(path, "json")
        config = parse_json(data, shown)
        _describe_config(report, config, allowed)
        report["keras_version"] = config.get("keras_version") if isinstance(config, dict) else None
        return report
    raise ConfigurationError(
        "`inspect` reads `.keras`, `.h5`/`.hdf5`, `.weights.h5` and `.json` files and "
        f"SavedModel folders. Received: path={shown}. Rename the file to its format's suffix."
    )


def _inspect_keras(path: Path, data: bytes, shown: str, allowed: set[str]) -> dict[str, Any]:
    report = _empty_report(path, "keras")
    with open_model_file(data, kind="keras", shown=shown) as model_file:
        config = model_file.config()
        metadata = model_file.metadata()
        if isinstance(metadata, dict):
            report["keras_version"] = metadata.get("keras_version")
        _describe_config(report, config, allowed)
        if isinstance(config, dict):
            report["compiled"] = bool(config.get("compile_config"))
        report["params"] = model_file.weight_value_count()
        report["optimizer_state"] = model_file.has_optimizer_state()
    return report


def _inspect_h5(path: Path, data: bytes, shown: str, allowed: set[str]) -> dict[str, Any]:
    report = _empty_report(path, "h5")
    with open_model_file(data, kind="h5", shown=shown) as model_file:
        report["keras_version"] = model_file.attribute("keras_version")
        report["backend"] = model_file.attribute("backend")
        config = model_file.config()
        if config is None:
            weights_only = model_file.weights_layout() == LEGACY_WEIGHTS
            report["format"] = "h5-weights" if weights_only else "weights.h5"
            report["params"] = model_file.weight_value_count()
            report["layer_count"] = model_file.saved_layer_count()
            return report
        report["params"] = model_file.weight_value_count()
        if report["keras_version"] is None:
            report["keras_version"] = model_file.attribute("keras_version", "model_weights")
        report["optimizer_state"] = model_file.has_optimizer_state()
        training_config = model_file.training_config()
    _describe_config(report, config, allowed)
    if training_config is not None:
        report["compiled"] = True
        report["unsafe"] += scan_config(training_config, allowed)
        report["safe"] = not report["unsafe"]
    return report


def _dict_at(node: dict[str, Any], key: str) -> dict[str, Any]:
    value = node.get(key)
    return value if isinstance(value, dict) else {}


def _list_at(node: dict[str, Any], key: str) -> list[Any]:
    value = node.get(key)
    return value if isinstance(value, list) else []


def _describe_config(report: dict[str, Any], config: Any, allowed: set[str]) -> None:
    report["unsafe"] = scan_config(config, allowed)
    report["safe"] = not report["unsafe"]
    if not isinstance(config, dict):
        return
    report["model_class"] = config.get("class_name")
    inner = _dict_at(config, "config")
    report["model_name"] = inner.get("name")
    layers = _list_at(inner, "layers")
    classes: Counter[str] = Counter()
    by_name: dict[str, dict[str, Any]] = {}
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        layer_config = _dict_at(layer, "config")
        by_name[str(layer_config.get("name", layer.get("name")))] = layer
        if layer.get("class_name") != "InputLayer":
            classes[str(layer.get("class_name"))] += 1
    report["layer_count"] = sum(classes.values())
    report["layer_classes"] = dict(classes)
    report["input_shapes"] = _input_shapes(inner, layers, by_name)
    report["output_shapes"] = _output_shapes(inner, layers, by_name)


def _batch_shape(layer: dict[str, Any]) -> list[Any] | None:
    config = _dict_at(layer, "config")
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(config.get(key), list):
            return list(config[key])
    return None


def _endpoint_names(value: Any) -> list[str]:
    """`[[name, 0, 0], ...]`, `[name, 0, 0]` or a nested dict/list of those -> layer names."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value[0]]
    names: list[str] = []
    if isinstance(value, list):
        for item in value:
            names += _endpoint_names(item)
    elif isinstance(value, dict):
        for item in value.values():
            names += _endpoint_names(item)
    return names


def _input_shapes(
    inner: dict[str, Any], layers: list[Any], by_name: dict[str, dict[str, Any]]
) -> list[Any]:
    names = _endpoint_names(inner.get("input_layers"))
    if names:
        return [_batch_shape(by_name[name]) if name in by_name else None for name in names]
    for layer in layers:
        if isinstance(layer, dict) and layer.get("class_name") == "InputLayer":
            return [_batch_shape(layer)]
    if isinstance(inner.get("build_input_shape"), list):
        return [inner["build_input_shape"]]
    if layers and isinstance(layers[0], dict):
        shape = _batch_shape(layers[0])
        if shape is not None:
            return [shape]
    return []


def _output_shapes(
    inner: dict[str, Any], layers: list[Any], by_name: dict[str, dict[str, Any]]
) -> list[Any]:
    names = _endpoint_names(inner.get("output_layers"))
    if names:
        return [_guess_output(by_name.get(name)) for name in names]
    if layers:
        return [_guess_output(layers[-1])]
    return []


def _guess_output(layer: dict[str, Any] | None) -> list[Any] | None:
    """The output shape of common final layers, from their configuration alone."""
    if not isinstance(layer, dict):
        return None
    config = _dict_at(layer, "config")
    class_name = layer.get("class_name")
    if class_name == "Dense" and isinstance(config.get("units"), int):
        build = layer.get("build_config") or {}
        input_shape = build.get("input_shape") if isinstance(build, dict) else None
        if isinstance(input_shape, list) and input_shape:
            return [*input_shape[:-1], config["units"]]
        return [None, config["units"]]
    if class_name in ("LSTM", "GRU", "SimpleRNN") and not config.get("return_sequences"):
        return [None, config.get("units")]
    return None
