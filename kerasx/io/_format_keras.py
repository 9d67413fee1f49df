"""The `.keras` format (Keras 3's zip archive): writing one, and loading one safely."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kerasx._compat import fast_path_enabled
from kerasx._compat.initializers import random_initializers_give_zeros
from kerasx._compat.keras_archive import KERAS_ARCHIVE, memory_suffices
from kerasx.errors import CorruptFileError, SerializationError
from kerasx.io import _keras_zip
from kerasx.io._loading import allowed_names, refuse_if_unsafe, safe_mode, wrap_keras_error
from kerasx.io._reader import ModelFile, open_model_file
from kerasx.io._scan import scan_config

__all__ = ["load_keras", "write_keras"]


def write_keras(model: Any, path: Path) -> None:
    """Write a `.keras` archive to `path` (not atomically; callers use `atomic_path`).

    kerasx's own writer when the fast path `keras_archive` is on and the model fits in memory
    the way Keras checks it; `model.save` otherwise (it warns about unbuilt models itself).
    """
    if fast_path_enabled(KERAS_ARCHIVE) and model.built and memory_suffices(model):
        with open(path, "wb") as file:
            _keras_zip.write_archive(model, file)
        return
    model.save(path)


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
        CorruptFileError: the archive is truncated, damaged, or has no `config.json` or one
            that is not valid JSON.
        UnsafeModelError: the scan found objects that could run code.
        SerializationError: Keras cannot rebuild the model.
    """
    with open_model_file(data, kind="keras", shown=shown) as model_file:
        config_text = model_file.config_text()
        assert config_text is not None  # an archive without `config.json` raised above
        config = _parsed_config(model_file, shown)
        if not trusted:
            refuse_if_unsafe(scan_config(config, allowed_names(custom_objects)), shown, trusted)
        try:
            with safe_mode(trusted), random_initializers_give_zeros():
                return _deserialise(data, model_file, config_text, custom_objects, compile, trusted)
        except Exception as error:
            raise wrap_keras_error(error, shown, "load the model") from error


def _parsed_config(model_file: ModelFile, shown: str) -> Any:
    """The archive's `config.json`, parsed; a file whose `config.json` is not JSON is damaged."""
    try:
        return model_file.config()
    except SerializationError as error:
        raise CorruptFileError(
            "The `.keras` archive's `config.json` is not valid JSON, so the file is damaged "
            f"or is not a Keras model file. Received: path={shown}. Save the model again or "
            "restore a backup."
        ) from (error.__cause__ or error)


def _deserialise(
    data: bytes,
    model_file: ModelFile,
    config_text: bytes | str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    """kerasx's own `.keras` reader, or Keras's public loader for archives it does not handle
    (and for every archive when the fast path `keras_archive` is off)."""
    if fast_path_enabled(KERAS_ARCHIVE):
        model = _keras_zip.read_archive(
            model_file,
            config_text,
            custom_objects=custom_objects,
            compile=compile,
            safe_mode=not trusted,
        )
        if model is not None:
            return model
    import keras

    model_file.weights_view()  # the CRC-32 check kerasx's reader makes (raises if damaged)
    # Keras's public loader reads a path, so it gets the private copy (never the user's file,
    # which may have changed since the scan), in a folder only this user can read.
    with tempfile.TemporaryDirectory(prefix="kerasx-load-") as folder:
        private = Path(folder) / "private.keras"
        private.write_bytes(data)
        return keras.saving.load_model(
            private, custom_objects=custom_objects, compile=compile, safe_mode=not trusted
        )
