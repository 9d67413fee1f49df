"""The architecture alone as JSON (`model.to_json()`), Keras 2 / tf-keras JSON included."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_write_text
from kerasx.errors import ConfigurationError, SerializationError
from kerasx.io._files import model_kind, parse_json, read_private_copy
from kerasx.io._loading import allowed_names, refuse_if_unsafe, safe_mode, wrap_keras_error
from kerasx.io._scan import scan_config

__all__ = ["from_json", "to_json"]


def to_json(model: Any, path: str | os.PathLike[str] | None = None) -> str:
    """Return the model's architecture as JSON text, and write it atomically to `path` if given.

    Args:
        model: the `keras.Model`.
        path: a `.json` file to write, or None. Defaults to `None`.

    Returns:
        The JSON text (as `model.to_json()` gives it).

    Raises:
        ConfigurationError: `path` does not end in `.json`.

    Example:

    >>> import keras, kerasx.io
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> rebuilt = kerasx.io.from_json(kerasx.io.to_json(model))
    >>> rebuilt.output_shape
    (None, 2)
    """
    text: str = model.to_json()
    if path is not None:
        if model_kind(path) != "json" or Path(path).is_dir():
            raise ConfigurationError(
                f"`to_json` writes a file ending in `.json`. Received: path={str(path)!r}. "
                "Use `kerasx.io.save` for a whole model."
            )
        atomic_write_text(path, text)
    return text


def from_json(
    text_or_path: str | os.PathLike[str],
    *,
    custom_objects: dict[str, Any] | None = None,
    trusted: bool = False,
) -> Any:
    """Rebuild a model (uncompiled, fresh weights) from JSON text or a `.json` file, safely.

    Keras 2 / tf-keras JSON is read with Keras's legacy configuration rules.

    Args:
        text_or_path: JSON text (starting with `{`) or the path of a `.json` file.
        custom_objects: custom classes and functions by name; the scan allows them.
            Defaults to `None`.
        trusted: skip the scan and safe mode. Defaults to `False`.

    Returns:
        The `keras.Model`. Load weights into it with `kerasx.io.load_weights`.

    Raises:
        MissingFileError: the path does not exist.
        SerializationError: the text is not valid JSON or not a model configuration.
        UnsafeModelError: the scan found objects that could run code.
        MissingDependencyError: Keras 2 JSON on a Keras without its legacy reader.

    Example:

    >>> import keras, kerasx.io
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")])
    >>> rebuilt = kerasx.io.from_json(kerasx.io.to_json(model))
    >>> [layer.name for layer in rebuilt.layers], rebuilt.output_shape
    (['out'], (None, 2))
    >>> lambda_model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: 2 * x)])
    >>> kerasx.io.from_json(lambda_model.to_json())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kerasx.errors.UnsafeModelError: Refusing to load the JSON text: it contains 2 object(s) ...
    """
    if isinstance(text_or_path, str) and text_or_path.lstrip().startswith(("{", "[")):
        text = text_or_path
        where = "the JSON text"
    else:
        where = repr(str(text_or_path))
        text = _read_text(text_or_path, where)
    config = parse_json(text, where)
    if not isinstance(config, dict) or "class_name" not in config:
        raise SerializationError(
            "The JSON is not a Keras model configuration (no `class_name`). "
            f"Received: {where}. Pass the text of `model.to_json()`."
        )
    if not trusted:
        refuse_if_unsafe(scan_config(config, allowed_names(custom_objects)), where, trusted)
    try:
        with safe_mode(trusted), warnings.catch_warnings():
            if str(config.get("keras_version", "3")).startswith(("1.", "2.")):
                return _from_keras2_config(config, custom_objects)
            import keras

            return keras.saving.deserialize_keras_object(
                config, custom_objects=custom_objects, safe_mode=not trusted
            )
    except Exception as error:
        raise wrap_keras_error(error, where, "rebuild the model from JSON") from error


def _read_text(path: str | os.PathLike[str], where: str) -> str:
    data = read_private_copy(path, what="JSON file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SerializationError(
            f"The JSON file is not UTF-8 text. Received: path={where}. "
            "Pass the file written by `kerasx.io.to_json`."
        ) from error


def _from_keras2_config(config: dict[str, Any], custom_objects: dict[str, Any] | None) -> Any:
    """A model from Keras 2 JSON, read with Keras's legacy configuration rules."""
    from kerasx._compat.saving import legacy_model_from_config
    from kerasx.io._legacy import keras3_legacy_config

    warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
    return legacy_model_from_config(keras3_legacy_config(_legacy_form(config)), custom_objects)


def _legacy_form(node: Any) -> Any:
    """Keras 2.13+ JSON in the pre-2.13 form Keras 3's legacy reader understands.

    tf-keras's `to_json` adds `module`/`registered_name` keys; with them Keras 3 takes its new
    deserialisation path, which rejects Keras 2 values such as `BatchNormalization(axis=[3])`.
    The HDF5 `model_config` of the same model has no such keys and loads; this makes the JSON
    look the same. It runs after the safety scan, on the scanned dict.
    """
    if isinstance(node, dict):
        drop = ("module", "registered_name") if "class_name" in node else ()
        return {key: _legacy_form(value) for key, value in node.items() if key not in drop}
    if isinstance(node, list):
        return [_legacy_form(item) for item in node]
    return node
