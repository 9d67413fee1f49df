"""Model files on disk: which format a name says, and the private copy every load reads.

Everything here is plain Python; nothing opens an archive or deserialises a model (that is
`kerasx.io._reader`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kerasx.errors import (
    ConfigurationError,
    CorruptFileError,
    MissingFileError,
    SerializationError,
)

__all__ = [
    "MODEL_SUFFIXES",
    "WEIGHTS_SUFFIXES",
    "is_saved_model_dir",
    "model_kind",
    "parse_json",
    "read_private_copy",
]

MODEL_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".hdf5")
"""Suffixes `save` and `load` accept for a full model."""

WEIGHTS_SUFFIXES: tuple[str, ...] = (".weights.h5", ".h5", ".hdf5")
"""Suffixes `save_weights` accepts (any `*.h5` name)."""


def model_kind(path: str | os.PathLike[str]) -> str:
    """The format a file name's suffix names.

    Args:
        path: the file name or path.

    Returns:
        `"keras"`, `"weights.h5"`, `"h5"`, `"json"`, or `""` for any other suffix.
    """
    name = Path(path).name.lower()
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(".weights.h5"):
        return "weights.h5"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    if name.endswith(".json"):
        return "json"
    return ""


def is_saved_model_dir(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a TensorFlow SavedModel directory."""
    path = Path(path)
    return path.is_dir() and (
        (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()
    )


def read_private_copy(path: str | os.PathLike[str], *, what: str = "model file") -> bytes:
    """Read a whole file into memory: the private copy every later check and load uses.

    Reading once means the file cannot change between the safety scan and the load.

    Args:
        path: the file.
        what: how to call the file in messages. Defaults to `"model file"`.

    Returns:
        The file's bytes.

    Raises:
        MissingFileError: the path does not exist.
        ConfigurationError: the path is a directory.
        CorruptFileError: the file is empty or cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(
            f"The {what} does not exist. Received: path={str(path)!r}. "
            "Check the path and the current directory "
            f"({os.getcwd()!r})."
        )
    if path.is_dir():
        hint = (
            " It is a TensorFlow SavedModel: load it with `kerasx.io.load(path, trusted=True)` "
            "if you trust its author (a SavedModel is a program)."
            if is_saved_model_dir(path)
            else " Pass the model file inside it (for example `model.keras`)."
        )
        raise ConfigurationError(
            f"Expected a {what} but the path is a directory. Received: path={str(path)!r}.{hint}"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorruptFileError(
            f"Cannot read the {what}: {error}. Received: path={str(path)!r}. "
            "Check the file's permissions."
        ) from error
    if not data:
        raise CorruptFileError(
            f"The {what} is empty (0 bytes): it was probably cut off while being written. "
            f"Received: path={str(path)!r}. Save the model again or restore a backup."
        )
    return data


def parse_json(text: str | bytes, where: str) -> Any:
    """Parse JSON text.

    Args:
        text: the JSON text.
        where: a description of where the text came from, for the message.

    Returns:
        The parsed value.

    Raises:
        SerializationError: the text is not valid JSON.
    """
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SerializationError(
            f"Invalid JSON in {where}: {error}. Pass the text written by `kerasx.io.to_json` "
            "or `model.to_json()`."
        ) from error
