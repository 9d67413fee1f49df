"""`save` and `load`: pick the format module from the file name's suffix.

`.keras` is `kerasx.io._format_keras`, `.h5`/`.hdf5` is `kerasx.io._format_h5`, `.json` is
`kerasx.io._format_json`; weights files have their own functions (`kerasx.io._format_weights`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_path
from kerasx.errors import (
    ConfigurationError,
    KerasxError,
    SerializationError,
    UnsafeModelError,
)
from kerasx.io._files import is_saved_model_dir, model_kind, read_private_copy
from kerasx.io._format_h5 import load_h5, save_h5
from kerasx.io._format_json import from_json
from kerasx.io._format_keras import load_keras, write_keras
from kerasx.io._loading import wrap_keras_error

__all__ = ["load", "save"]

PathLike = str | os.PathLike[str]

_ACCEPTED = "`.keras` (recommended), `.h5` or `.hdf5`"


def save(model: Any, path: PathLike) -> Path:
    """Save a whole model (architecture, weights, optimizer state) atomically.

    `.keras` writes Keras 3's zip format; `.h5` / `.hdf5` writes the legacy HDF5 format that
    Keras 2 also reads. The file is written to a temporary file in the same folder, fsynced,
    and then moved over `path`, so a crash never leaves a half-written model behind.

    Args:
        model: the `keras.Model` to save.
        path: the file to write; its suffix picks the format.

    Returns:
        The path written, as a `Path`.

    Raises:
        ConfigurationError: `path` is a directory or has another suffix.
        SerializationError: Keras cannot serialise the model; when a layer's `get_config()`
            fails, the message names the layer and its class. The file at `path`, if any, is
            left as it was.

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = kerasx.io.save(model, os.path.join(tempfile.mkdtemp(), "model.keras"))
    >>> path.name
    'model.keras'
    """
    path = Path(path)
    kind = _check_model_target(path, "save")
    try:
        with atomic_path(path) as temporary:
            if kind == "keras":
                write_keras(model, temporary)
            else:
                save_h5(model, temporary)
    except KerasxError:
        raise
    except Exception as error:
        failing = _layer_without_config(model)
        if failing is not None:
            raise SerializationError(
                f"Cannot save the model: layer {failing.name!r} ({type(failing).__name__}) "
                f"cannot describe itself: its `get_config()` raised {type(error).__name__}: "
                f"{error}. Received: path={str(path)!r}. Give the layer a `get_config()` that "
                "returns its constructor arguments, and register its class with "
                "`@keras.saving.register_keras_serializable()`."
            ) from error
        if isinstance(error, ValueError | TypeError | NotImplementedError):
            raise SerializationError(
                f"Keras cannot save this model: {error}. Received: path={str(path)!r}. "
                "Custom layers need `get_config()` and "
                "`@keras.saving.register_keras_serializable()`."
            ) from error
        raise
    return path


def _layer_without_config(model: Any) -> Any:
    """The innermost layer (or the model) whose `get_config()` raises, or None.

    Called after a save failed, to name the culprit: nested models' layers are tried before
    the model that holds them, since a container's configuration fails with its child's.
    """
    for layer in [*_nested_layers(model), model]:
        try:
            layer.get_config()
        except Exception:
            return layer
    return None


def _nested_layers(model: Any) -> list[Any]:
    """Every layer inside `model` (through nested models), innermost first."""
    found: list[Any] = []
    for layer in getattr(model, "layers", None) or []:
        found += _nested_layers(layer)
        found.append(layer)
    return found


def _check_model_target(path: Path, function: str) -> str:
    kind = model_kind(path)
    if path.is_dir() or kind not in ("keras", "h5"):
        if kind == "weights.h5":
            fix = "use `kerasx.io.save_weights(model, path)` for a weights file"
        elif kind == "json":
            fix = "use `kerasx.io.to_json(model, path)` for the architecture alone"
        else:
            fix = "use `kerasx.io.export(model, directory)` for a TensorFlow SavedModel"
        raise ConfigurationError(
            f"`{function}` writes a full model to a file ending in {_ACCEPTED}. "
            f"Received: path={str(path)!r}. Add one of these suffixes, or {fix}."
        )
    return kind


def load(
    path: PathLike,
    *,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    trusted: bool = False,
) -> Any:
    """Load a model saved in any Keras format, refusing files that could run code.

    The file is read once into memory; its configuration is scanned without Keras (see
    `kerasx.io.inspect`) and refused with `UnsafeModelError` if it holds Lambda layers,
    TFSMLayer and friends, functions or modules outside Keras, unregistered custom objects or
    file paths. Only then is it deserialised, inside Keras's safe mode. Legacy `.h5` files
    (Keras 2 / tf-keras included) come back compiled with their loss and metrics even when
    these are string aliases such as `"mse"` or `"acc"`.

    Args:
        path: a `.keras`, `.h5`/`.hdf5` or `.json` file, or (with `trusted=True`) a SavedModel
            directory.
        custom_objects: custom classes and functions by name. These are allowed by the scan.
            Defaults to `None`.
        compile: whether to compile the model as it was saved. Defaults to `True`.
        trusted: skip the scan and safe mode. Only for files from an author you trust. A
            SavedModel directory is then returned as a `keras.layers.TFSMLayer` (endpoint
            `serving_default`) wrapped in a `keras.Sequential`: an inference-only model whose
            call returns the signature's dict of named outputs. Defaults to `False`.

    Returns:
        The `keras.Model` (for `.json`, uncompiled and with fresh weights).

    Raises:
        MissingFileError: the file does not exist.
        ConfigurationError: a directory that is not a SavedModel, a SavedModel without
            `trusted=True`... see the message; or an unknown suffix.
        CorruptFileError: the file is empty, truncated, or not in the format its name says
            (a `.keras` archive whose `config.json` is missing or is not JSON included).
        UnsafeModelError: the scan found objects that could run code (`.findings`).
        SerializationError: a weights-only file, invalid JSON, or Keras cannot rebuild it.

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = kerasx.io.save(model, os.path.join(tempfile.mkdtemp(), "model.keras"))
    >>> kerasx.io.load(path).output_shape
    (None, 2)
    """
    path = Path(path)
    shown = repr(str(path))
    if path.is_dir() and is_saved_model_dir(path):
        if not trusted:
            raise UnsafeModelError(
                f"Refusing to load {shown}: it is a TensorFlow SavedModel, which is a program "
                "that runs when loaded. If you trust its author, pass `trusted=True`.",
                findings=[f"{path}: TensorFlow SavedModel (a program)"],
            )
        return _load_saved_model(path)
    kind = model_kind(path)
    if kind == "json":
        return from_json(path, custom_objects=custom_objects, trusted=trusted)
    if kind not in ("keras", "h5", "weights.h5"):
        if not path.exists():
            read_private_copy(path)
        raise ConfigurationError(
            f"`load` reads files ending in {_ACCEPTED} or `.json`. Received: path={shown}. "
            "Rename the file to its format's suffix; a SavedModel directory needs `trusted=True`."
        )
    data = read_private_copy(path)
    if kind == "weights.h5":
        raise SerializationError(
            f"This is a weights-only file, not a model. Received: path={shown}. Build the "
            "model in code, then call `kerasx.io.load_weights(model, path)`."
        )
    if kind == "keras":
        return load_keras(data, shown, custom_objects, compile, trusted)
    return load_h5(data, shown, custom_objects, compile, trusted)


def _load_saved_model(path: Path) -> Any:
    """A trusted SavedModel as an inference-only `keras.Sequential([TFSMLayer])`."""
    import keras

    try:
        layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
        return keras.Sequential([layer], name=path.name or "saved_model")
    except Exception as error:
        raise wrap_keras_error(error, repr(str(path)), "load the SavedModel") from error
