"""Reading and writing `.keras` archives with fewer copies of the weights than Keras makes.

A `.keras` file is a zip archive holding `metadata.json`, `config.json` and `model.weights.h5`
(an HDF5 file, stored uncompressed). Keras 3.15 copies every weight several times on the way:

- saving, each variable becomes a NumPy array twice (`Variable.numpy()`, then `np.array` in
  `convert_to_numpy`) before h5py writes it;
- loading, the weights member is read out of the archive into a new `bytes`, and h5py then
  reads each dataset out of that through `BytesIO.read`, another new `bytes` per dataset.

The functions here keep Keras's own layout code (`_save_state`, `_load_state`, `H5IOStore`,
`DiskIOStore`) and change only where the bytes go:

- `write_archive` hands h5py a zero-copy view of each variable;
- `read_archive` lets h5py read straight out of the caller's private copy of the file (the
  view `ModelFile.weights_view` gives after one CRC-32 check of the whole weights member, the
  check Keras's zip reader also makes), into 64-byte-aligned arrays that the variables then
  adopt without a copy (see `_offer`, `_claim`).

Both use private Keras functions. `available()` says whether this Keras has them; callers fall
back to `model.save` and `keras.saving.load_model` when it does not, and `read_archive` returns
`None` for anything unusual (a compressed or encrypted weights member, `.npz` weights), which
the caller then gives to Keras.
"""

from __future__ import annotations

import functools
import io
import threading
import weakref
import zipfile
from typing import Any

from kerasx.io._reader import WEIGHTS_MEMBER, ModelFile

__all__ = ["available", "read_archive", "write_archive"]


def _saving_lib() -> Any:
    from keras.src.saving import saving_lib

    return saving_lib


@functools.cache
def available() -> bool:
    """Whether this Keras has the private functions the fast paths use (checked once)."""
    try:
        saving_lib = _saving_lib()
    except ImportError:  # pragma: no cover - a Keras without this module
        return False
    needed = (
        "_serialize_model_as_json",
        "_model_from_config",
        "_save_state",
        "_load_state",
        "_raise_loading_failure",
        "H5IOStore",
        "DiskIOStore",
        "is_memory_sufficient",
        "safe_get_h5_dataset",
        "_METADATA_FILENAME",
        "_CONFIG_FILENAME",
        "_ASSETS_DIRNAME",
    )
    return all(hasattr(saving_lib, name) for name in needed)


def _zero_copy_array(value: Any) -> Any:
    """`value` as a NumPy array, sharing the variable's memory where TensorFlow allows it."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value
    from keras.src import backend

    # `convert_to_tensor` of a variable gives a tensor of its current value, and `np.asarray`
    # of an eager CPU tensor is a view of that tensor's buffer (`Variable.numpy()` would copy).
    return np.asarray(backend.convert_to_tensor(value))


@functools.cache
def _writer_class() -> type:
    saving_lib = _saving_lib()
    from keras.src import backend

    store: Any = saving_lib.H5IOStore

    class WeightsWriter(store):
        """Keras's HDF5 store in an archive, minus the two intermediate copies per variable."""

        def __setitem__(self, key: str, value: Any) -> None:
            array = _zero_copy_array(value)
            if self.mode != "w" or backend.standardize_dtype(array.dtype) == "bfloat16":
                super().__setitem__(key, array)  # Keras's own path (it tags bfloat16)
                return
            if not self._h5_entry_initialized:
                self._create_h5_group(self._h5_entry_path)
            self._h5_entry_group[key] = array

    return WeightsWriter


def write_archive(model: Any, fileobj: Any) -> None:
    """Write `model` as a `.keras` archive to the open binary file `fileobj`.

    The archive has Keras's members and layout; `keras.saving.load_model` reads it. Models too
    large for Keras's in-memory path (`is_memory_sufficient`) go through Keras's own writer.
    """
    saving_lib = _saving_lib()
    if not model.built or not saving_lib.is_memory_sufficient(model):
        saving_lib.save_model(model, fileobj)  # Keras warns about unbuilt models itself
        return
    config_json, metadata_json = saving_lib._serialize_model_as_json(model)
    with zipfile.ZipFile(fileobj, "w") as archive:
        archive.writestr(saving_lib._METADATA_FILENAME, metadata_json)
        archive.writestr(saving_lib._CONFIG_FILENAME, config_json)
        weights = _writer_class()(WEIGHTS_MEMBER, archive=archive, mode="w")
        assets = saving_lib.DiskIOStore(saving_lib._ASSETS_DIRNAME, archive=archive, mode="w")
        try:
            saving_lib._save_state(
                model,
                weights_store=weights,
                assets_store=assets,
                inner_path="",
                visited_saveables=set(),
            )
        except BaseException:
            weights.archive = None  # do not add a half-written weights member
            raise
        finally:
            weights.close()  # with its archive set, this adds `model.weights.h5`
            assets.close()


class _MemberFile(io.RawIOBase):
    """A read-only, seekable file over a `memoryview`; h5py copies straight out of it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        start = min(self._position, len(self._view))
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._view) - start)
        target[:count] = self._view[start : start + count]
        self._position = start + count
        return count


@functools.cache
def _reader_class() -> type:
    saving_lib = _saving_lib()
    import h5py

    store: Any = saving_lib.H5IOStore

    class WeightsReader(store):
        """Keras's HDF5 store, reading from a view of the private copy instead of a `BytesIO`."""

        def __init__(self, view: memoryview) -> None:
            self._member = _MemberFile(view)
            self._offered: list[int] = []
            super().__init__(io.BytesIO(), mode="r")

        def _get_h5_file(self, path_or_io: Any, mode: str | None = None) -> Any:
            return h5py.File(self._member, mode="r")

        def __getitem__(self, key: str) -> Any:
            dataset = saving_lib.safe_get_h5_dataset(self._h5_entry_group, key)
            if not _adoptable(dataset):
                return super().__getitem__(key)  # Keras's own reading (bfloat16, small arrays)
            array = _aligned_empty(dataset.shape, dataset.dtype)
            if array.size:
                dataset.read_direct(array)
            _offer(array)
            self._offered.append(id(array))
            return array

        def close(self) -> None:
            # An array no variable took (a layer kept it as is) must not be adopted later.
            _withdraw(self._offered)
            super().close()

    return WeightsReader


# --------------------------------------------------------------------------------------------
# Zero-copy adoption of freshly read arrays by variables
# --------------------------------------------------------------------------------------------
#
# `variable.assign(array)` makes TensorFlow copy a NumPy array into a new tensor. An array
# whose data is 64-byte aligned can instead be wrapped as a tensor
# through DLPack, which TensorFlow's assign then takes over as the variable's buffer. Only
# arrays this module allocated and filled from a file are offered, each to one variable at
# most; every other value takes Keras's normal path.

_ALIGNMENT = 64  # bytes; TensorFlow's CPU kernels check EIGEN_MAX_ALIGN_BYTES (at most 64)
_ADOPT_AT_LEAST = 1 << 20  # bytes; below this the copy is cheaper than the bookkeeping
_ADOPTABLE_DTYPES = frozenset({"float16", "float32", "float64", "int32", "int64"})
_OFFERED: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_OFFERED_LOCK = threading.Lock()


def _adoptable(dataset: Any) -> bool:
    dtype = dataset.dtype
    return (
        dtype.name in _ADOPTABLE_DTYPES
        and dtype.isnative
        and "dtype" not in dataset.attrs  # Keras tags bfloat16 this way
        and dataset.shape is not None
        and len(dataset.shape) > 0
        and dataset.size * dtype.itemsize >= _ADOPT_AT_LEAST
    )


def _aligned_empty(shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary."""
    import numpy as np

    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + _ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def _offer(array: Any) -> None:
    _install_adoption()
    with _OFFERED_LOCK:
        _OFFERED[id(array)] = array


def _withdraw(ids: list[int]) -> None:
    with _OFFERED_LOCK:
        for key in ids:
            _OFFERED.pop(key, None)


def _claim(value: Any, dtype: Any) -> Any:
    """A tensor sharing `value`'s memory if `value` was offered (and not yet claimed), else None."""
    with _OFFERED_LOCK:
        offered = _OFFERED.get(id(value))
        if offered is None or offered is not value:
            return None
        from keras.src import backend

        if dtype is not None and backend.standardize_dtype(offered.dtype) != dtype:
            return None
        del _OFFERED[id(value)]
    import tensorflow as tf

    return tf.experimental.dlpack.from_dlpack(offered.__dlpack__())


def _install_adoption() -> None:
    from keras.src.backend.tensorflow.core import Variable

    original = Variable._convert_to_tensor
    if getattr(original, "_kerasx_adopts", False):
        return

    def convert(self: Any, value: Any, dtype: Any = None) -> Any:
        if type(value).__module__ == "numpy":
            tensor = _claim(value, dtype)
            if tensor is not None:
                return tensor
        return original(self, value, dtype=dtype)

    convert._kerasx_adopts = True  # type: ignore[attr-defined]
    Variable._convert_to_tensor = convert


def read_archive(
    model_file: ModelFile,
    config_json: bytes | str,
    *,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    safe_mode: bool,
) -> Any:
    """Rebuild the model in the `.keras` archive `model_file` (opened from bytes), or `None`.

    `None` means the archive is not the plain kind this reader handles (no `model.weights.h5`,
    a compressed or encrypted one); the caller then loads it with Keras.

    Raises:
        CorruptFileError: the weights member's bytes do not match its CRC-32.
    """
    view = model_file.weights_view()
    if view is None:
        return None
    archive = model_file.archive
    saving_lib = _saving_lib()
    model = saving_lib._model_from_config(config_json, custom_objects, compile, safe_mode)
    weights = _reader_class()(view)
    assets = None
    if len(model_file.member_names()) > 3:  # Keras's own test for an `assets/` folder
        assets = saving_lib.DiskIOStore(saving_lib._ASSETS_DIRNAME, archive=archive, mode="r")
    failed: set[Any] = set()
    messages: dict[Any, Any] = {}
    try:
        saving_lib._load_state(
            model,
            weights_store=weights,
            assets_store=assets,
            inner_path="",
            visited_saveables=set(),
            failed_saveables=failed,
            error_msgs=messages,
        )
    finally:
        weights.close()
        if assets is not None:
            assets.close()
    if failed:
        saving_lib._raise_loading_failure(messages)
    return model
