"""Keras's private `.keras` archive code, for kerasx's own reader and writer (one fast path).

`kerasx.io` writes and reads `.keras` archives with Keras's own layout code
(`keras.src.saving.saving_lib`: `_serialize_model_as_json`, `_model_from_config`,
`_save_state`, `_load_state`, `H5IOStore`, `DiskIOStore`) and changes only where the bytes go.
These functions are the whole of that contact, checked on Keras 3.12.0 and 3.15.1.

They form the fast path `keras_archive`. `kerasx.io` calls them only when
`fast_path_enabled(KERAS_ARCHIVE)` is True; otherwise (a Keras without these internals, or
`KERASX_DISABLE_FAST_PATHS=1`) it writes with `model.save` and reads with
`keras.saving.load_model`, the public path, which gives the same model and the same file.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import io
from collections.abc import Callable
from typing import Any

from kerasx._compat import register_fast_path

__all__ = [
    "KERAS_ARCHIVE",
    "assets_store",
    "close_weights_writer",
    "load_state",
    "memory_suffices",
    "model_from_config",
    "save_state",
    "serialize_model",
    "weights_reader",
    "weights_writer",
]

_SAVING_LIB = "keras.src.saving.saving_lib"
_FUNCTIONS = (
    "_serialize_model_as_json",
    "_model_from_config",
    "_save_state",
    "_load_state",
    "_raise_loading_failure",
    "is_memory_sufficient",
    "H5IOStore",
    "DiskIOStore",
)
_STORE_METHODS = ("_get_h5_file", "_create_h5_group", "get", "make", "close", "__getitem__")
_STORE_ATTRIBUTES = ("_h5_entry_path", "_h5_entry_group", "_h5_entry_initialized", "archive")


def _saving_lib() -> Any:
    return importlib.import_module(_SAVING_LIB)


def _probe() -> bool:
    """True when `saving_lib` has every name, method, argument and attribute used here."""
    saving_lib = _saving_lib()
    if not all(hasattr(saving_lib, name) for name in _FUNCTIONS):
        return False
    store = saving_lib.H5IOStore
    if not all(hasattr(store, name) for name in _STORE_METHODS):
        return False
    arguments = inspect.signature(saving_lib._load_state).parameters
    if not {"visited_saveables", "failed_saveables", "error_msgs"} <= set(arguments):
        return False
    probe = store(io.BytesIO(), mode="w")  # an empty in-memory HDF5 file
    try:
        return all(hasattr(probe, name) for name in _STORE_ATTRIBUTES)
    finally:
        probe.close()


KERAS_ARCHIVE = register_fast_path(
    "keras_archive",
    "kerasx writes `.keras` archives without Keras's two intermediate copies of each weight "
    "and reads them straight from its private copy of the file, the largest arrays adopted "
    "by the variables without a copy; the public path is `model.save` and "
    "`keras.saving.load_model` on a temporary copy of the file (same model, same file).",
    _probe,
).name


def serialize_model(model: Any) -> tuple[str, str]:
    """`(config.json, metadata.json)` texts of `model`, exactly as `model.save` writes them.

    Calls `saving_lib._serialize_model_as_json` (Keras 3.12.0, 3.15.1).
    """
    config_json, metadata_json = _saving_lib()._serialize_model_as_json(model)
    return config_json, metadata_json


def memory_suffices(model: Any) -> bool:
    """Whether Keras would write `model`'s weights through memory (`is_memory_sufficient`).

    Calls `saving_lib.is_memory_sufficient` (Keras 3.12.0, 3.15.1); when it says no, callers
    use `model.save`, which then spools the weights through a temporary folder.
    """
    return bool(_saving_lib().is_memory_sufficient(model))


def model_from_config(
    config_json: bytes | str, custom_objects: dict[str, Any] | None, compile: bool, safe_mode: bool
) -> Any:
    """The model of a `config.json`, with fresh weights, as `keras.saving.load_model` builds it.

    Calls `saving_lib._model_from_config` (Keras 3.12.0, 3.15.1).
    """
    return _saving_lib()._model_from_config(config_json, custom_objects, compile, safe_mode)


def save_state(model: Any, weights_store: Any, assets_store: Any) -> None:
    """Write every variable and asset of `model` into the stores, in Keras's layout.

    Calls `saving_lib._save_state` (Keras 3.12.0, 3.15.1).
    """
    _saving_lib()._save_state(
        model,
        weights_store=weights_store,
        assets_store=assets_store,
        inner_path="",
        visited_saveables=set(),
    )


def load_state(model: Any, weights_store: Any, assets_store: Any) -> None:
    """Fill every variable and asset of `model` from the stores, in Keras's layout.

    Calls `saving_lib._load_state` and, when anything failed, `_raise_loading_failure`
    (Keras 3.12.0, 3.15.1), so it raises the error `keras.saving.load_model` would.
    """
    saving_lib = _saving_lib()
    failed: set[Any] = set()
    messages: dict[Any, Any] = {}
    saving_lib._load_state(
        model,
        weights_store=weights_store,
        assets_store=assets_store,
        inner_path="",
        visited_saveables=set(),
        failed_saveables=failed,
        error_msgs=messages,
    )
    if failed:
        saving_lib._raise_loading_failure(messages)


def assets_store(archive: Any, mode: str) -> Any:
    """Keras's store for the archive's `assets/` folder (`saving_lib.DiskIOStore`).

    Checked on Keras 3.12.0 and 3.15.1; close it after use.
    """
    return _saving_lib().DiskIOStore("assets", archive=archive, mode=mode)


@functools.cache
def _writer_class() -> type:
    store: Any = _saving_lib().H5IOStore

    class WeightsWriter(store):
        """Keras's HDF5 weights store; each array goes to h5py as the caller converts it."""

        def __init__(self, member: str, archive: Any, to_array: Callable[[Any], Any]) -> None:
            self._to_array = to_array
            super().__init__(member, archive=archive, mode="w")

        def __setitem__(self, key: str, value: Any) -> None:
            array = self._to_array(value)
            if array is None:
                super().__setitem__(key, value)  # Keras's own conversion (it tags bfloat16)
                return
            if not self._h5_entry_initialized:
                self._create_h5_group(self._h5_entry_path)
            self._h5_entry_group[key] = array

    return WeightsWriter


def weights_writer(archive: Any, member: str, to_array: Callable[[Any], Any]) -> Any:
    """Keras's weights store writing the archive member `member`, with the caller's conversion.

    Subclasses `saving_lib.H5IOStore` and writes its private `_h5_entry_group` (Keras 3.12.0,
    3.15.1). Close it with `close_weights_writer`.

    Args:
        archive: the `zipfile.ZipFile` open for writing.
        member: the member's name (`model.weights.h5`).
        to_array: turns a variable into the NumPy array to store as it is, or returns None to
            let Keras convert and store the variable itself.

    Returns:
        The store, for `save_state`.
    """
    return _writer_class()(member, archive, to_array)


def close_weights_writer(store: Any, *, keep: bool) -> None:
    """Close a `weights_writer` store; with `keep=False` its member is not added to the archive.

    Keras's `H5IOStore.close` writes the member when the store's `archive` is set (3.12.0,
    3.15.1); clearing it first leaves no half-written weights in the archive.
    """
    if not keep:
        store.archive = None
    store.close()


@functools.cache
def _reader_class() -> type:
    store: Any = _saving_lib().H5IOStore

    class WeightsReader(store):
        """Keras's HDF5 weights store over an h5py file the caller opened."""

        def __init__(self, h5_file: Any, read_dataset: Callable[[Any, str], Any]) -> None:
            self._opened = h5_file
            self._read_dataset = read_dataset
            super().__init__(io.BytesIO(), mode="r")

        def _get_h5_file(self, path_or_io: Any, mode: str | None = None) -> Any:
            return self._opened

        def __getitem__(self, key: str) -> Any:
            value = self._read_dataset(self._h5_entry_group, key)
            return super().__getitem__(key) if value is None else value

    return WeightsReader


def weights_reader(h5_file: Any, read_dataset: Callable[[Any, str], Any]) -> Any:
    """Keras's weights store reading from the open h5py file `h5_file` (closed with the store).

    Subclasses `saving_lib.H5IOStore`, replacing its private `_get_h5_file`, and hands the
    private `_h5_entry_group` to `read_dataset` (Keras 3.12.0, 3.15.1).

    Args:
        h5_file: an `h5py.File` open for reading.
        read_dataset: `(group, key)` -> the value Keras's layers receive for dataset `key` of
            `group` (an h5py group, or an empty dict where a layer saved nothing), or None to
            let Keras read it.

    Returns:
        The store, for `load_state`; close it after use.
    """
    return _reader_class()(h5_file, read_dataset)
