"""The steps every format's loader shares: the scan verdict, safe mode, and wrapped errors.

Loading reads the file once into memory (a private copy), scans its configuration with
`kerasx.io._scan` before anything is deserialised, and then deserialises inside Keras's
`SafeModeScope`, which wins over a global `keras.config.enable_unsafe_deserialization()`.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from typing import Any

from kerasx.errors import CorruptFileError, KerasxError, SerializationError, UnsafeModelError

__all__ = [
    "allowed_names",
    "refuse_if_unsafe",
    "safe_mode",
    "wrap_keras_error",
]


def allowed_names(custom_objects: dict[str, Any] | None) -> set[str]:
    """Names the caller vouches for: `custom_objects` keys and Keras's registered objects."""
    import keras

    # Registers kerasx's own layers, and the stand-ins for Keras 2's helper layers, with Keras.
    import kerasx.layers._blocks
    import kerasx.layers._keras2  # noqa: F401

    names = set(custom_objects or {})
    names.update(keras.saving.get_custom_objects())
    for value in (custom_objects or {}).values():
        name = getattr(value, "__name__", None)
        if isinstance(name, str):
            names.add(name)
    return names


def refuse_if_unsafe(findings: list[str], path: str, trusted: bool) -> None:
    """Raise `UnsafeModelError` listing `findings`, unless there are none or `trusted`."""
    if not findings or trusted:
        return
    listed = "\n".join(f"  - {finding}" for finding in findings)
    raise UnsafeModelError(
        f"Refusing to load {path}: it contains {len(findings)} object(s) that could run code "
        f"when loaded:\n{listed}\n"
        "Nothing was deserialised. If you trust the file's author, pass `trusted=True` "
        "(for example `kerasx.io.load(path, trusted=True)`); otherwise rebuild the model in "
        "code and load only its weights with `kerasx.io.load_weights`.",
        findings=findings,
    )


@contextlib.contextmanager
def safe_mode(trusted: bool) -> Iterator[None]:
    """Keras's safe-mode scope, set explicitly so a global unsafe flag cannot weaken it.

    Raises:
        MissingDependencyError: this Keras has no safe-mode scope (see `kerasx._compat`).
    """
    from kerasx._compat.saving import safe_mode_scope

    with safe_mode_scope(not trusted):
        yield


def wrap_keras_error(error: Exception, path: str, action: str) -> KerasxError:
    """A Keras failure as kerasx's error: `CorruptFileError` for damaged data, else
    `SerializationError`; a kerasx error is returned as it is."""
    if isinstance(error, KerasxError):
        return error
    if isinstance(error, OSError | zipfile.BadZipFile | EOFError):
        new: KerasxError = CorruptFileError(
            f"Cannot {action}: the file's data is damaged ({error}). Received: path={path}. "
            "Save the model again or restore a backup."
        )
    else:
        new = SerializationError(
            f"Cannot {action}: {type(error).__name__}: {error}. Received: path={path}. "
            "If the model uses custom layers or functions, pass them as "
            "`custom_objects={'Name': cls}`."
        )
    new.__cause__ = error
    return new
