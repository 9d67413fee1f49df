"""Keras's private saving code that `kerasx.io` needs: safe mode, legacy HDF5 and Keras 2 JSON.

Every function was checked on Keras 3.12.0 and 3.15.1. Two kinds live here:

- *required* internals, where no public API does the job (Keras's safe-mode scope, the legacy
  configuration rules that read Keras 2 files, writing legacy HDF5 weights): on a Keras without
  them they raise `MissingDependencyError`, naming the installed Keras and the fix;
- the fast paths `h5_model_writer` and `h5_weights_from_memory`, whose public path the caller
  takes when `fast_path_enabled(...)` says no.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kerasx._compat import register_fast_path
from kerasx._compat._required import has_attributes, required_attribute

__all__ = [
    "H5_MODEL_WRITER",
    "H5_WEIGHTS_FROM_MEMORY",
    "keep_compile_config",
    "legacy_model_from_config",
    "read_legacy_h5_weights",
    "safe_mode_scope",
    "write_legacy_h5_model",
    "write_legacy_h5_weights",
]

_SERIALIZATION = "keras.src.saving.serialization_lib"
_LEGACY_H5 = "keras.src.legacy.saving.legacy_h5_format"
_LEGACY_OPTIONS = "keras.src.legacy.saving.saving_options"
_LEGACY_UTILS = "keras.src.legacy.saving.saving_utils"

H5_MODEL_WRITER = register_fast_path(
    "h5_model_writer",
    "kerasx writes `.h5` models with Keras's HDF5 writer directly; the public path is "
    "`model.save(path)`, which writes the same file and also logs Keras's 'legacy format' notice.",
    lambda: has_attributes(_LEGACY_H5, "save_model_to_hdf5"),
).name

H5_WEIGHTS_FROM_MEMORY = register_fast_path(
    "h5_weights_from_memory",
    "kerasx loads legacy HDF5 weights straight from its private in-memory copy of the file; "
    "the public path writes that copy to a temporary file and calls `model.load_weights`.",
    lambda: has_attributes(_LEGACY_H5, "load_weights_from_hdf5_group"),
).name


@contextlib.contextmanager
def safe_mode_scope(safe: bool) -> Iterator[None]:
    """Keras's safe-mode scope: while it lasts, deserialising refuses (or allows) lambdas.

    Set explicitly, it wins over a global `keras.config.enable_unsafe_deserialization()`,
    which an explicit `safe_mode=True` argument does not. Reads
    `keras.src.saving.serialization_lib.SafeModeScope` (Keras 3.12.0 and 3.15.1).

    Args:
        safe: True to refuse code in the file, False to allow it.

    Raises:
        MissingDependencyError: this Keras has no `SafeModeScope`; kerasx does not load files
            without it.
    """
    scope = required_attribute(
        _SERIALIZATION, "SafeModeScope", needed_for="Loading a model in Keras's safe mode"
    )
    with scope(safe):
        yield


def legacy_model_from_config(config: dict[str, Any], custom_objects: dict[str, Any] | None) -> Any:
    """A model from a Keras 2 / tf-keras configuration, read with Keras's legacy rules.

    Uses `keras.src.legacy.saving.saving_options.keras_option_scope(use_legacy_config=True)`
    and `keras.src.legacy.saving.saving_utils.model_from_config` (Keras 3.12.0 and 3.15.1),
    which Keras's own HDF5 loader uses; no public API reads Keras 2 configurations.

    Args:
        config: the model configuration (`{"class_name": ..., "config": ...}`).
        custom_objects: custom classes and functions by name, or None.

    Returns:
        The uncompiled model, with fresh weights.

    Raises:
        MissingDependencyError: this Keras has no legacy configuration reader.
    """
    needed = "Reading a Keras 2 model configuration"
    option_scope = required_attribute(_LEGACY_OPTIONS, "keras_option_scope", needed_for=needed)
    model_from_config = required_attribute(_LEGACY_UTILS, "model_from_config", needed_for=needed)
    with option_scope(use_legacy_config=True):
        return model_from_config(config, custom_objects=custom_objects)


def read_legacy_h5_weights(group: Any, model: Any, skip_mismatch: bool = False) -> None:
    """Load legacy HDF5 weights (by layer order) from an open h5py group into `model`.

    The fast path `h5_weights_from_memory`: calls
    `keras.src.legacy.saving.legacy_h5_format.load_weights_from_hdf5_group` (Keras 3.12.0
    and 3.15.1), the function `model.load_weights("....h5")` calls after opening the file.
    Callers check `fast_path_enabled(H5_WEIGHTS_FROM_MEMORY)` first; the public path is
    `model.load_weights` on a temporary copy of the file.

    Args:
        group: the h5py group holding `layer_names` (`model_weights` or the file itself).
        model: the built model.
        skip_mismatch: skip layers whose weights do not fit instead of raising.
            Defaults to `False`.
    """
    load = required_attribute(
        _LEGACY_H5, "load_weights_from_hdf5_group", needed_for="Reading legacy HDF5 weights"
    )
    load(group, model, skip_mismatch)


def write_legacy_h5_weights(group: Any, model: Any) -> None:
    """Write `model`'s weights into an open h5py group in the legacy (Keras 2) layout.

    Calls `keras.src.legacy.saving.legacy_h5_format.save_weights_to_hdf5_group` (Keras 3.12.0
    and 3.15.1): Keras 3's public `save_weights` writes only the `.weights.h5` layout.

    Args:
        group: an h5py file or group open for writing.
        model: the model whose weights to write.

    Raises:
        MissingDependencyError: this Keras has no legacy HDF5 weights writer; save to a
            `.weights.h5` name instead.
    """
    save = required_attribute(
        _LEGACY_H5,
        "save_weights_to_hdf5_group",
        needed_for="Writing legacy HDF5 weights (use a `.weights.h5` name to avoid it)",
    )
    save(group, model)


def write_legacy_h5_model(model: Any, path: str) -> None:
    """Write a whole model to a legacy HDF5 file at `path`, without Keras's notice.

    The fast path `h5_model_writer`: calls
    `keras.src.legacy.saving.legacy_h5_format.save_model_to_hdf5` (Keras 3.12.0 and 3.15.1).
    Callers check `fast_path_enabled(H5_MODEL_WRITER)` first; the public path is
    `model.save(path)`, which calls the same writer after logging that HDF5 is legacy.

    Args:
        model: the model.
        path: the file to write (ending in `.h5` or `.hdf5`).
    """
    save = required_attribute(_LEGACY_H5, "save_model_to_hdf5", needed_for="Writing an HDF5 model")
    save(model, path)


@contextlib.contextmanager
def keep_compile_config(model: Any) -> Iterator[None]:
    """Undo, on exit, what Keras's HDF5 writer does to the model's compile configuration.

    Keras 3.12.0 and 3.15.1 pop `"optimizer"` from the model's private `_compile_config.config`
    while writing an `.h5` file (`saving_utils.model_metadata`), so a later `.keras` save would
    lose the optimizer. This puts the configuration back as it was. On a Keras whose models
    have no `_compile_config`, there is nothing of the kind to damage and it does nothing.

    Args:
        model: the model being written.
    """
    compile_config = getattr(model, "_compile_config", None)
    entries = getattr(compile_config, "config", None)
    kept = dict(entries) if isinstance(entries, dict) else None
    try:
        yield
    finally:
        if kept is not None and isinstance(entries, dict):
            entries.clear()
            entries.update(kept)
