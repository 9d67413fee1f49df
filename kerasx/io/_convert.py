"""Converting a model file to another format: load safely, write atomically."""

from __future__ import annotations

import os
from pathlib import Path

from kerasx.errors import ConfigurationError
from kerasx.io._dispatch import load, save
from kerasx.io._files import model_kind
from kerasx.io._format_json import to_json
from kerasx.io._format_weights import save_weights

__all__ = ["convert"]


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Convert a model file to another format: load `src` safely, write `dst` atomically.

    `dst`'s suffix picks the format: `.keras`, `.h5`/`.hdf5`, `.weights.h5` (weights only) or
    `.json` (architecture only). Typical use: migrating a Keras 2 `.h5` file to `.keras`.

    Args:
        src: the model file to read (the safety scan applies).
        dst: the file to write.

    Returns:
        `dst`, as a `Path`.

    Raises:
        ConfigurationError: `dst` has an unknown suffix.
        UnsafeModelError: `src` holds objects that could run code.

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> folder = tempfile.mkdtemp()
    >>> old = kerasx.io.save(model, os.path.join(folder, "model.h5"))
    >>> kerasx.io.convert(old, os.path.join(folder, "model.keras")).name
    'model.keras'
    """
    src, dst = Path(src), Path(dst)
    kind = model_kind(dst)
    if kind not in ("keras", "h5", "weights.h5", "json") or dst.is_dir():
        raise ConfigurationError(
            "`convert` writes a file ending in `.keras`, `.h5`, `.hdf5`, `.weights.h5` or "
            f"`.json`. Received: dst={str(dst)!r}. Use `kerasx.io.export` for a SavedModel."
        )
    model = load(src)
    if kind == "json":
        to_json(model, dst)
    elif kind == "weights.h5":
        save_weights(model, dst)
    else:
        save(model, dst)
    return dst
