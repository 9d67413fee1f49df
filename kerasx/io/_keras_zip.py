"""Reading and writing `.keras` archives with fewer copies of the weights than Keras makes.

A `.keras` file is a zip archive holding `metadata.json`, `config.json` and `model.weights.h5`
(an HDF5 file, stored uncompressed). Keras 3.15 copies every weight several times on the way:

- saving, each variable becomes a NumPy array twice (`Variable.numpy()`, then `np.array` in
  `convert_to_numpy`) before h5py writes it;
- loading, the weights member is read out of the archive into a new `bytes`, and h5py then
  reads each dataset out of that through `BytesIO.read`, another new `bytes` per dataset; then
  `variable.assign` copies each array once more into the variable.

The functions here keep Keras's own layout code (reached through `kerasx._compat.keras_archive`,
the fast path `keras_archive`) and change only where the bytes go:

- `write_archive` hands h5py a zero-copy view of each variable;
- `read_archive` lets h5py read straight out of the caller's private copy of the file (the
  view `ModelFile.weights_view` gives after one CRC-32 check of the whole weights member, the
  check Keras's zip reader also makes), into 64-byte-aligned arrays that the variables then
  adopt without a copy (see `FileArray`).

Nothing in Keras or TensorFlow is replaced: adoption goes through TensorFlow's public
`__tf_tensor__` conversion protocol and DLPack. Callers check
`fast_path_enabled(KERAS_ARCHIVE)` first and otherwise use `model.save` and
`keras.saving.load_model`; `read_archive` returns `None` for anything unusual (a compressed or
encrypted weights member, `.npz` weights), which the caller then gives to Keras.
"""

from __future__ import annotations

import io
import weakref
import zipfile
from typing import Any

import numpy as np

from kerasx._compat import keras_archive
from kerasx.io._reader import CONFIG_MEMBER, METADATA_MEMBER, WEIGHTS_MEMBER, ModelFile

__all__ = ["FileArray", "read_archive", "write_archive"]


def _zero_copy_array(value: Any) -> Any:
    """`value` as a NumPy array to store as it is, sharing the variable's memory where
    TensorFlow allows it; None for bfloat16, which Keras stores with a tag of its own."""
    import keras

    if isinstance(value, np.ndarray):
        array = value
    else:
        # `convert_to_tensor` of a variable gives a tensor of its current value, and
        # `np.asarray` of an eager CPU tensor is a view of that tensor's buffer
        # (`Variable.numpy()` would copy).
        array = np.asarray(keras.ops.convert_to_tensor(value))
    if keras.backend.standardize_dtype(array.dtype) == "bfloat16":
        return None
    return array


def write_archive(model: Any, fileobj: Any) -> None:
    """Write `model` as a `.keras` archive to the open binary file `fileobj`.

    The archive has Keras's members and layout; `keras.saving.load_model` reads it. Callers
    check that the fast path is on, the model is built and `memory_suffices(model)`.
    """
    config_json, metadata_json = keras_archive.serialize_model(model)
    with zipfile.ZipFile(fileobj, "w") as archive:
        archive.writestr(METADATA_MEMBER, metadata_json)
        archive.writestr(CONFIG_MEMBER, config_json)
        weights = keras_archive.weights_writer(archive, WEIGHTS_MEMBER, _zero_copy_array)
        assets = keras_archive.assets_store(archive, "w")
        complete = False
        try:
            keras_archive.save_state(model, weights, assets)
            complete = True
        finally:
            # Only a complete weights member is added to the archive.
            keras_archive.close_weights_writer(weights, keep=complete)
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


# --------------------------------------------------------------------------------------------
# Reading datasets into arrays the variables adopt without a copy
# --------------------------------------------------------------------------------------------
#
# `variable.assign(array)` makes TensorFlow copy a NumPy array into a new tensor. An array
# whose data is 64-byte aligned can instead be wrapped as a tensor through DLPack, which
# TensorFlow's assign then takes over as the variable's buffer. The reader hands Keras's layers
# `FileArray`s: NumPy arrays in every respect, which TensorFlow's public `__tf_tensor__`
# protocol turns into such a tensor, once, when a variable is assigned from them. Nothing in
# Keras or TensorFlow is replaced, so other threads and other arrays are untouched.

_ALIGNMENT = 64  # bytes; TensorFlow's CPU kernels check EIGEN_MAX_ALIGN_BYTES (at most 64)
_ADOPT_AT_LEAST = 1 << 20  # bytes; below this the copy is cheaper than the bookkeeping
_ADOPTABLE_DTYPES = frozenset({"float16", "float32", "float64", "int32", "int64"})
_BOMB_FLOOR_BYTES = 1 << 32  # a dataset declaring more than 4 GiB ...
_BOMB_EXPANSION = 1000  # ... and 1000 times what it stores is refused, as Keras 3.15 does


class FileArray(np.ndarray):
    """A NumPy array read from a model file, which one variable may adopt without a copy.

    The first conversion to a TensorFlow tensor (the `variable.assign` that loads it) shares
    its memory; any later one, and every conversion of an array derived from it, copies as
    usual. `withdraw` makes it an ordinary array for good.
    """

    _adoptable = False

    def __tf_tensor__(self, dtype: Any = None, name: Any = None) -> Any:
        """TensorFlow's conversion protocol: the first time, a tensor sharing this memory."""
        import tensorflow as tf

        same_dtype = dtype is None or tf.as_dtype(dtype) == tf.as_dtype(self.dtype)
        if self._adoptable and same_dtype:
            self._adoptable = False
            return tf.experimental.dlpack.from_dlpack(self.__dlpack__())
        return tf.convert_to_tensor(np.asarray(self), dtype=dtype, name=name)

    def withdraw(self) -> None:
        """Never adopt this array: later conversions copy it."""
        self._adoptable = False


def _file_array(shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised adoptable `FileArray` whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + _ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGNMENT
    array = raw[start : start + size].view(dtype).reshape(shape).view(FileArray)
    array._adoptable = True
    return array


def _checked_dataset(group: Any, key: str) -> Any:
    """The h5py dataset `key` of `group`, refused (`ValueError`) when it links outside the file,
    is not a plain dataset, or declares far more data than it stores; `KeyError` if absent."""
    import h5py

    if key not in group:
        raise KeyError(key)
    link = group.get(key, default=None, getclass=True, getlink=True)
    if link in (h5py.ExternalLink, h5py.SoftLink):
        raise ValueError(f"Not allowed: H5 file with {link.__name__}")
    dataset = group[key]
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"Invalid H5 file, expected Dataset, received {type(dataset)}")
    if dataset.external:
        raise ValueError(f"Not allowed: H5 file with external Dataset: {dataset.external}")
    if dataset.is_virtual:
        raise ValueError("Not allowed: H5 file with virtual Dataset")
    declared = int(dataset.size) * dataset.dtype.itemsize
    if declared > _BOMB_FLOOR_BYTES and declared > _BOMB_EXPANSION * dataset.id.get_storage_size():
        raise ValueError(f"Not allowed: H5 dataset {key!r} declares {declared} bytes")
    return dataset


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


class _DatasetReader:
    """Reads the datasets Keras's layers ask for; remembers the arrays it handed out."""

    def __init__(self) -> None:
        self.handed_out: list[weakref.ref[Any]] = []

    def __call__(self, group: Any, key: str) -> Any:
        import h5py

        if "/" in key or not isinstance(group, h5py.Group):
            return None  # Keras's own reading (nested names; a layer that saved nothing)
        dataset = _checked_dataset(group, key)
        if not _adoptable(dataset):
            return None  # Keras's own reading (bfloat16, small arrays)
        array = _file_array(dataset.shape, dataset.dtype)
        if array.size:
            dataset.read_direct(array)
        self.handed_out.append(weakref.ref(array))
        return array

    def withdraw_all(self) -> None:
        """An array no variable took (a layer kept it as it is) must not be adopted later."""
        for reference in self.handed_out:
            array = reference()
            if array is not None:
                array.withdraw()
        self.handed_out.clear()


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
    import h5py

    view = model_file.weights_view()
    if view is None:
        return None
    model = keras_archive.model_from_config(config_json, custom_objects, compile, safe_mode)
    reader = _DatasetReader()
    weights = keras_archive.weights_reader(h5py.File(_MemberFile(view), mode="r"), reader)
    try:
        assets = None
        if len(model_file.member_names()) > 3:  # Keras's own test for an `assets/` folder
            assets = keras_archive.assets_store(model_file.archive, "r")
        try:
            keras_archive.load_state(model, weights, assets)
        finally:
            if assets is not None:
                assets.close()
    finally:
        reader.withdraw_all()
        weights.close()
    return model
