"""Exporting a TensorFlow SavedModel directory for serving."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_path
from kerasx.errors import ConfigurationError, SerializationError

__all__ = ["export"]


def export(model: Any, directory: str | os.PathLike[str]) -> Path:
    """Export the model as a TensorFlow SavedModel directory for serving (atomically).

    Args:
        model: the `keras.Model`.
        directory: the folder to write; an existing SavedModel folder there is replaced.

    Returns:
        The directory, as a `Path`.

    Raises:
        ConfigurationError: `directory` is an existing file.
        SerializationError: Keras cannot export the model.

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> folder = kerasx.io.export(model, os.path.join(tempfile.mkdtemp(), "served"))
    >>> (folder / "saved_model.pb").exists()
    True
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(
            f"`export` writes a SavedModel directory, but the path is a file. "
            f"Received: directory={str(directory)!r}. Pass a folder path; "
            "use `kerasx.io.save` for a `.keras` file."
        )
    try:
        with atomic_path(directory) as temporary:
            model.export(str(temporary), format="tf_saved_model", verbose=False)
    except (ValueError, TypeError) as error:
        raise SerializationError(
            f"Keras cannot export this model as a SavedModel: {error}. "
            f"Received: directory={str(directory)!r}. Build the model (call it once) first."
        ) from error
    return directory
