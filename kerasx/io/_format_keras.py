"""The `.keras` format (Keras 3's zip archive): writing one, and loading one safely."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from kerasx.io import _keras_zip
from kerasx.io._loading import (
    allowed_names,
    refuse_if_unsafe,
    safe_mode,
    weights_come_from_the_file,
    wrap_keras_error,
)
from kerasx.io._reader import ModelFile, open_model_file
from kerasx.io._scan import scan_config

__all__ = ["load_keras", "write_keras"]


def write_keras(model: Any, path: Path) -> None:
    """Write a `.keras` archive to `path` (not atomically; callers use `atomic_path`)."""
    if not _keras_zip.available():  # pragma: no cover - a Keras without the private helpers
        model.save(path)
        return
    with open(path, "wb") as file:
        _keras_zip.write_archive(model, file)


def load_keras(
    data: bytes,
    shown: str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    """Rebuild the model of a `.keras` file from its private copy `data`, after the scan.

    Args:
        data: the file's bytes.
        shown: how messages name the file.
        custom_objects: custom classes and functions by name, or None.
        compile: whether to compile the model as it was saved.
        trusted: skip the scan and safe mode.

    Returns:
        The `keras.Model`.

    Raises:
        CorruptFileError: the archive is truncated, damaged or has no `config.json`.
        UnsafeModelError: the scan found objects that could run code.
        SerializationError: Keras cannot rebuild the model.
    """
    with open_model_file(data, kind="keras", shown=shown) as model_file:
        config_text = model_file.config_text()
        assert config_text is not None  # an archive without `config.json` raised above
        config = model_file.config()
        if not trusted:
            refuse_if_unsafe(scan_config(config, allowed_names(custom_objects)), shown, trusted)
        try:
            with safe_mode(trusted), weights_come_from_the_file():
                return _deserialise(data, model_file, config_text, custom_objects, compile, trusted)
        except Exception as error:
            raise wrap_keras_error(error, shown, "load the model") from error


def _deserialise(
    data: bytes,
    model_file: ModelFile,
    config_text: bytes | str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    """kerasx's own `.keras` reader, or Keras's for archives it does not handle."""
    if _keras_zip.available():
        model = _keras_zip.read_archive(
            model_file,
            config_text,
            custom_objects=custom_objects,
            compile=compile,
            safe_mode=not trusted,
        )
        if model is not None:
            return model
    from keras.src.saving import saving_lib

    return saving_lib.load_model(
        io.BytesIO(data), custom_objects=custom_objects, compile=compile, safe_mode=not trusted
    )
