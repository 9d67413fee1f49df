"""Reading model files safely: path checks, private in-memory copies, format sniffing.

Everything here is plain Python (plus h5py and zipfile on demand); nothing deserialises a model.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from kerasx.errors import (
    ConfigurationError,
    CorruptFileError,
    MissingFileError,
    SerializationError,
)

__all__ = [
    "HDF5_SIGNATURE",
    "MODEL_SUFFIXES",
    "WEIGHTS_SUFFIXES",
    "ZIP_SIGNATURE",
    "is_saved_model_dir",
    "model_kind",
    "open_h5",
    "open_zip",
    "parse_json",
    "read_private_copy",
    "read_zip_member",
]

MODEL_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".hdf5")
"""Suffixes `save` and `load` accept for a full model."""

WEIGHTS_SUFFIXES: tuple[str, ...] = (".weights.h5", ".h5", ".hdf5")
"""Suffixes `save_weights` accepts (any `*.h5` name)."""

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


def model_kind(path: str | os.PathLike[str]) -> str:
    """`"keras"`, `"weights.h5"`, `"h5"`, `"json"` or `""` from a file name's suffix."""
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


def open_h5(data: bytes, path: str | os.PathLike[str]) -> Any:
    """Open HDF5 bytes read-only with h5py.

    Raises:
        CorruptFileError: the bytes are not a complete HDF5 file.
    """
    import h5py

    if HDF5_SIGNATURE not in data[:4096]:
        raise CorruptFileError(
            "The file is not an HDF5 file (its first bytes lack the HDF5 signature). "
            f"Received: path={str(path)!r}. Check that it is the file you meant; "
            "a `.keras` file is a zip archive and must be named `.keras`."
        )
    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as error:
        raise CorruptFileError(
            "The HDF5 file is truncated or corrupt and cannot be opened. "
            f"Received: path={str(path)!r}. Save the model again or restore a backup."
        ) from error


def open_zip(data: bytes, path: str | os.PathLike[str]) -> zipfile.ZipFile:
    """Open `.keras` bytes as a zip archive.

    Raises:
        CorruptFileError: the bytes are not a complete zip archive.
    """
    try:
        return zipfile.ZipFile(io.BytesIO(data), "r")
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        kind = "truncated" if data.startswith(ZIP_SIGNATURE) else "not a zip archive"
        raise CorruptFileError(
            f"A `.keras` file must be a zip archive, but this one is {kind}. "
            f"Received: path={str(path)!r}. Save the model again, or if it is an HDF5 file "
            "rename it to `.h5`."
        ) from error


def read_zip_member(
    archive: zipfile.ZipFile, member: str, path: str | os.PathLike[str]
) -> bytes:
    """Read one member of a `.keras` archive.

    Raises:
        CorruptFileError: the member is missing or its data is damaged.
    """
    try:
        return archive.read(member)
    except KeyError as error:
        raise CorruptFileError(
            f"The `.keras` archive has no `{member}`, so it is not a Keras model file. "
            f"Received: path={str(path)!r}. Save the model again with `kerasx.io.save`."
        ) from error
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CorruptFileError(
            f"The `.keras` archive member `{member}` is damaged. "
            f"Received: path={str(path)!r}. Save the model again or restore a backup."
        ) from error


def parse_json(text: str | bytes, where: str) -> Any:
    """Parse JSON text.

    Args:
        text: the JSON text.
        where: a description of where the text came from, for the message.

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
