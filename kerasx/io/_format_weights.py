"""Weights files: Keras 3 `.weights.h5`, legacy HDF5 weights (any `.h5` name), and the weights
inside a full-model `.h5` or `.keras` file. Weight files hold only arrays, so no scan is needed."""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_path
from kerasx._compat import fast_path_enabled
from kerasx._compat.saving import (
    H5_WEIGHTS_FROM_MEMORY,
    read_legacy_h5_weights,
    write_legacy_h5_weights,
)
from kerasx.errors import ConfigurationError, KerasxError, SerializationError
from kerasx.io._files import model_kind, read_private_copy
from kerasx.io._loading import wrap_keras_error
from kerasx.io._reader import LEGACY_MODEL, LEGACY_WEIGHTS, open_model_file

__all__ = ["load_weights", "read_legacy_weights", "save_weights"]

PathLike = str | os.PathLike[str]


def save_weights(model: Any, path: PathLike) -> Path:
    """Save a model's weights atomically to any `*.h5` file.

    A name ending in `.weights.h5` gets Keras 3's weights format; any other `.h5`/`.hdf5`
    name (such as the Keras 2 style `my_model_weights.h5`) gets the legacy HDF5 weights format
    that Keras 2's `model.load_weights` also reads. `load_weights` reads both.

    Args:
        model: the `keras.Model` whose weights to save.
        path: a file ending in `.h5` or `.hdf5`.

    Returns:
        The path written, as a `Path`.

    Raises:
        ConfigurationError: `path` is a directory or does not end in `.h5`/`.hdf5`.
        MissingDependencyError: a legacy name on a Keras without the legacy weights writer.

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = kerasx.io.save_weights(model, os.path.join(tempfile.mkdtemp(), "w.weights.h5"))
    >>> kerasx.io.load_weights(model, path) is model
    True
    """
    path = Path(path)
    kind = model_kind(path)
    if path.is_dir() or kind not in ("h5", "weights.h5"):
        raise ConfigurationError(
            "`save_weights` writes a file ending in `.weights.h5` (Keras 3 format) or any other "
            f"`.h5`/`.hdf5` name (legacy format). Received: path={str(path)!r}. "
            "Add one of these suffixes; use `kerasx.io.save` for a whole model."
        )
    with atomic_path(path) as temporary:
        if kind == "weights.h5":
            model.save_weights(temporary)
        else:
            import h5py

            with h5py.File(temporary, "w") as h5_file:
                write_legacy_h5_weights(h5_file, model)
    return path


def load_weights(model: Any, path: PathLike, *, skip_mismatch: bool = False) -> Any:
    """Load weights into `model` from a weights file or a full-model file.

    Reads `.weights.h5` (Keras 3), legacy `.h5` weights (any name, Keras 2 included), the
    weights of a full-model `.h5` or of a `.keras` archive. Weight files hold only arrays, so
    no scan is needed.

    Args:
        model: a built `keras.Model` with the architecture the weights were saved from.
        path: the file.
        skip_mismatch: skip layers whose weight shapes differ from the file's, with a
            `UserWarning` naming each skipped layer, instead of raising. Defaults to `False`.

    Returns:
        `model`, for chaining.

    Raises:
        MissingFileError: the file does not exist.
        CorruptFileError: the file is empty, truncated or not what its suffix says.
        SerializationError: the weights do not fit the model (the message names the layer,
            the expected and the received shapes), or the file has no weights.
        ConfigurationError: an unknown suffix, or an unbuilt model.

    Example:

    >>> import keras, kerasx.io, numpy as np, os, tempfile
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = kerasx.io.save_weights(model, os.path.join(tempfile.mkdtemp(), "w.weights.h5"))
    >>> twin = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> kerasx.io.load_weights(twin, path) is twin
    True
    >>> np.array_equal(twin.layers[0].kernel, model.layers[0].kernel)
    True
    """
    path = Path(path)
    shown = repr(str(path))
    kind = model_kind(path)
    if not getattr(model, "built", True):
        raise ConfigurationError(
            "`load_weights` needs a built model (its weights must exist to be filled). "
            f"Received: an unbuilt {type(model).__name__} and path={shown}. Give the model an "
            "`Input` or call it once on data first."
        )
    data = read_private_copy(path, what="weights file")
    if kind not in ("keras", "h5", "weights.h5"):
        raise ConfigurationError(
            "`load_weights` reads `.weights.h5`, `.h5`/`.hdf5` or `.keras` files. "
            f"Received: path={shown}. Rename the file to its format's suffix."
        )
    if kind == "keras":
        with open_model_file(data, kind="keras", shown=shown) as archive:
            weights = archive.weights_member()
        _load_native_weights(model, weights, shown, skip_mismatch)
        return model
    with open_model_file(data, kind="h5", shown=shown) as h5_file:
        legacy = h5_file.weights_layout() in (LEGACY_MODEL, LEGACY_WEIGHTS)
    if legacy:
        _load_legacy_weights(model, data, shown, skip_mismatch)
    else:
        _load_native_weights(model, data, shown, skip_mismatch)
    return model


def _file_keys(model: Any) -> list[tuple[str, Any]]:
    """The names Keras 3 gives a model's layers inside a weights file (`dense`, `dense_1`, ...).

    Keras addresses layers by their class name in snake case, numbered in order, not by
    `layer.name` (see `keras/src/saving/saving_lib.py`, `_save_container_state`).
    """
    used: dict[str, int] = {}
    keys: list[tuple[str, Any]] = []
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        keys.append((key, layer))
    return keys


def _snake_case(name: str) -> str:
    """A class name as Keras writes it in weights files: `BatchNormalization` ->
    `batch_normalization` (Keras's own snake-case rule, checked on 3.12 and 3.15)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _mismatches(model: Any, in_file: dict[str, list[tuple[int, ...]]]) -> list[str]:
    problems: list[str] = []
    for key, layer in _file_keys(model):
        if key not in in_file or not layer.weights:
            continue
        expected = sorted(tuple(int(d) for d in w.shape) for w in layer.weights)
        received = in_file[key]
        if expected != received:
            problems.append(
                f"layer '{layer.name}' ({type(layer).__name__}): expected weight shapes "
                f"{expected}, received {received}"
            )
    return problems


def _load_native_weights(model: Any, data: bytes, shown: str, skip_mismatch: bool) -> None:
    with open_model_file(data, kind="h5", shown=shown) as h5_file:
        problems = _mismatches(model, h5_file.array_shapes_by_layer())
    if problems and not skip_mismatch:
        raise SerializationError(
            "The weights in the file do not fit the model's architecture:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nReceived: path={shown}. Build the same architecture the weights were saved "
            "from, or pass `skip_mismatch=True` to load the layers that fit."
        )
    with tempfile.TemporaryDirectory(prefix="kerasx-weights-") as folder:
        private = Path(folder) / "private.weights.h5"
        private.write_bytes(data)
        _run_weights_loader(
            lambda: model.load_weights(private, skip_mismatch=skip_mismatch),
            shown,
            skip_mismatch,
            problems,
        )


def _load_legacy_weights(model: Any, data: bytes, shown: str, skip_mismatch: bool) -> None:
    _run_weights_loader(
        lambda: read_legacy_weights(model, data, shown, skip_mismatch),
        shown,
        skip_mismatch,
        [],
    )


def read_legacy_weights(model: Any, data: bytes, shown: str, skip_mismatch: bool = False) -> None:
    """Fill `model` from the legacy HDF5 weights (by layer order) of a file's bytes `data`.

    Reads the private copy in memory (the fast path `h5_weights_from_memory`), or else writes
    it to a temporary file for Keras's public `model.load_weights`.

    Args:
        model: the built model.
        data: the whole HDF5 file (a weights file or a full-model file).
        shown: how messages name the file.
        skip_mismatch: skip layers whose weights do not fit. Defaults to `False`.

    Raises:
        ValueError: the weights do not fit the model (Keras's message).
    """
    if fast_path_enabled(H5_WEIGHTS_FROM_MEMORY):
        with open_model_file(data, kind="h5", shown=shown) as h5_file:
            read_legacy_h5_weights(h5_file.legacy_weights_group(), model, skip_mismatch)
        return
    with tempfile.TemporaryDirectory(prefix="kerasx-weights-") as folder:
        private = Path(folder) / "private.h5"
        private.write_bytes(data)
        model.load_weights(private, skip_mismatch=skip_mismatch)


def _run_weights_loader(
    run: Callable[[], Any], shown: str, skip_mismatch: bool, known: list[str]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run()
        except KerasxError:
            raise
        except (ValueError, KeyError) as error:
            text = re.sub(r"value=\[.*", "...", str(error), flags=re.S)
            raise SerializationError(
                f"The weights in the file do not fit the model's architecture: {text}. "
                f"Received: path={shown}. Build the same architecture the weights were saved "
                "from, or pass `skip_mismatch=True` to load the layers that fit."
            ) from error
        except OSError as error:
            raise wrap_keras_error(error, shown, "load the weights") from error
    # Keras's own warnings name variables, not layers, and some are noise from NumPy 2; the
    # one warning below replaces them.
    skipped = list(known)
    if not skipped:
        for record in caught:
            message = str(record.message)
            if issubclass(record.category, UserWarning) and "Skipping" in message:
                skipped.append(re.sub(r"value=\[.*", "...", message, flags=re.S).strip())
    if skip_mismatch and skipped:
        summary = "\n".join(f"  - {item}" for item in skipped)
        warnings.warn(
            f"load_weights(skip_mismatch=True) skipped what does not fit in {shown}:\n{summary}",
            UserWarning,
            stacklevel=4,
        )
