"""The one reader of `.keras` archives and HDF5 model files: configuration, attributes, weights.

`kerasx.io.load`, `load_weights`, `inspect` and `kerasx.viz`'s weight statistics read files
through `open_model_file`. Everything here is plain Python, `zipfile` and h5py: nothing is
deserialised and Keras is never imported, so any file, a malicious one included, can be read.

The layouts:

- `.keras`: a zip archive holding `config.json` (the model's configuration), `metadata.json`
  (the Keras version) and `model.weights.h5`, an HDF5 file in the Keras 3 weights layout.
- Keras 3 weights (`model.weights.h5`, `.weights.h5` files): variables by position,
  `layers/<key>/vars/<i>`, where `<key>` is the layer's class in snake case with a counter
  (`dense_1`) and the layer's own name is an attribute of `vars`; a nested model has its own
  `layers` group; the optimizer's state is under `optimizer`.
- Legacy HDF5 (Keras 2, tf-keras, and Keras 3's `.h5` writer): the configuration in the
  `model_config` and `training_config` attributes, the weights by name (`layer_names`, then
  `<layer>/weight_names` such as `dense/kernel:0`) under `model_weights` for a full model or at
  the top of a weights-only file, the optimizer's state under `optimizer_weights`.

`ModelFile.layers` reads the weights layer by layer, naming them as
`kerasx.io._weight_layout` describes.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from kerasx.errors import CorruptFileError
from kerasx.io._files import parse_json
from kerasx.io._weight_layout import (
    SavedLayer,
    attribute_list,
    has_attribute_list,
    keras_layers,
    legacy_layers,
    text_attribute,
)

__all__ = [
    "CONFIG_MEMBER",
    "HDF5_SIGNATURE",
    "KERAS_WEIGHTS",
    "LEGACY_MODEL",
    "LEGACY_WEIGHTS",
    "METADATA_MEMBER",
    "WEIGHTS_MEMBER",
    "ZIP_SIGNATURE",
    "ModelFile",
    "open_model_file",
]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"

CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
_SHARDED_WEIGHTS_MEMBER = "model.weights.json"

LEGACY_MODEL = "legacy model"
"""Weights layout of a legacy full-model HDF5 file (`model_weights` group)."""
LEGACY_WEIGHTS = "legacy weights"
"""Weights layout of a legacy weights-only HDF5 file (`layer_names` at the top)."""
KERAS_WEIGHTS = "keras weights"
"""Keras 3 weights layout (`layers/<key>/vars/<i>`)."""

Source = bytes | str | os.PathLike[str]

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_HEADER_SIGNATURE = 0x04034B50


def open_model_file(
    source: Source, *, kind: str | None = None, shown: str | None = None
) -> ModelFile:
    """Open a `.keras` archive or an HDF5 file for reading, without deserialising anything.

    Args:
        source: the file's bytes (the private copy `read_private_copy` gives) or its path; a
            path is read lazily, so large HDF5 files are not copied into memory.
        kind: `"keras"` (a zip archive) or `"h5"` (an HDF5 file); `None` recognises the
            format from the content. Defaults to `None`.
        shown: how messages name the file. Defaults to `None`, the path's `repr` (or
            `'the file'` for bytes).

    Returns:
        The open `ModelFile`; close it, or use it as a context manager.

    Raises:
        CorruptFileError: the content is not a complete zip archive or HDF5 file.
        OSError: the path cannot be read.

    Example:

    >>> import keras, os, tempfile
    >>> from kerasx.io._reader import open_model_file
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> with open_model_file(path) as saved:
    ...     [(layer.name, [name for name, _ in layer.arrays]) for layer in saved.layers()]
    [('d', ['kernel', 'bias'])]
    """
    head = _head(source)
    if kind is None:
        kind = "keras" if head.startswith(b"PK") else "h5"
    if shown is None:
        shown = "'the file'" if isinstance(source, bytes) else repr(os.fspath(source))
    return ModelFile(source, kind, shown, head)


class ModelFile:
    """A `.keras` archive or an HDF5 file, open for reading; `open_model_file` makes one.

    Attributes:
        kind: `"keras"` (a zip archive) or `"h5"` (an HDF5 file).
        shown: how messages name the file.
        data: the file's bytes when it was opened from them, else None.
        archive: the open `zipfile.ZipFile` of a `.keras` file, else None.
    """

    def __init__(self, source: Source, kind: str, shown: str, head: bytes) -> None:
        self.kind = kind
        self.shown = shown
        self.data = source if isinstance(source, bytes) else None
        self.archive: zipfile.ZipFile | None = None
        self._h5: Any = None
        self._weights_opened = kind != "keras"
        if kind == "keras":
            self.archive = _open_zip(source, head, shown)
        else:
            self._h5 = _open_h5(source, head, shown)

    def close(self) -> None:
        """Close the HDF5 file and the archive."""
        if self._h5 is not None:
            self._h5.close()
        if self.archive is not None:
            self.archive.close()

    def __enter__(self) -> ModelFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------------- archive members

    def member_names(self) -> list[str]:
        """The names of the archive's members (none for an HDF5 file)."""
        return self.archive.namelist() if self.archive is not None else []

    def member(self, name: str) -> bytes:
        """The bytes of one member of the archive.

        Raises:
            CorruptFileError: the member is missing or its data is damaged.
        """
        assert self.archive is not None, "only a `.keras` archive has members"
        try:
            return self.archive.read(name)
        except KeyError as error:
            hint = ""
            if name == WEIGHTS_MEMBER and _SHARDED_WEIGHTS_MEMBER in self.member_names():
                hint = " (its weights are sharded, which is not supported)"
            raise CorruptFileError(
                f"The `.keras` archive has no `{name}` member{hint}, so it is not a complete "
                f"Keras model file. Received: path={self.shown}. Save the model again with "
                "`kerasx.io.save`."
            ) from error
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise CorruptFileError(
                f"The `.keras` archive member `{name}` is damaged. "
                f"Received: path={self.shown}. Save the model again or restore a backup."
            ) from error

    # ----------------------------------------------------------------------- configuration

    def config_text(self) -> bytes | str | None:
        """The model's configuration as JSON text.

        Returns:
            `config.json` of an archive, or the `model_config` attribute of an HDF5 file
            (None when it has none: a weights-only file).

        Raises:
            CorruptFileError: an archive without `config.json`.
        """
        if self.archive is not None:
            return self.member(CONFIG_MEMBER)
        return text_attribute(self._h5, "model_config")

    def config(self) -> Any:
        """The model's configuration, parsed; None when an HDF5 file has none.

        Raises:
            CorruptFileError: an archive without `config.json`.
            SerializationError: the configuration is not valid JSON.
        """
        text = self.config_text()
        if text is None:
            return None
        if self.archive is not None:
            return parse_json(text, f"config.json of {self.shown}")
        return parse_json(text, f"the `model_config` attribute of {self.shown}")

    def training_config(self) -> Any:
        """The parsed `training_config` attribute of an HDF5 file; None when absent.

        Raises:
            SerializationError: the attribute is not valid JSON.
        """
        if self.kind != "h5":
            return None
        text = text_attribute(self._h5, "training_config")
        if text is None:
            return None
        return parse_json(text, f"the `training_config` attribute of {self.shown}")

    def metadata(self) -> Any:
        """The parsed `metadata.json` of an archive; None when absent or for an HDF5 file.

        Raises:
            SerializationError: the member is not valid JSON.
        """
        if METADATA_MEMBER not in self.member_names():
            return None
        return parse_json(self.member(METADATA_MEMBER), f"metadata.json of {self.shown}")

    def attribute(self, name: str, group: str = "") -> str | None:
        """A text attribute (`keras_version`, `backend`) of an HDF5 file or of one of its groups.

        Args:
            name: the attribute.
            group: the group holding it, such as `"model_weights"`. Defaults to `""`, the top.

        Returns:
            The text, or None when the file, the group or the attribute is absent.
        """
        if self.kind != "h5":
            return None
        node = self._h5.get(group) if group else self._h5
        return None if node is None else text_attribute(node, name)

    def architecture(self) -> Any:
        """The configuration that names and orders the saved weights, or None; never raises.

        Returns:
            The `config` entry of `config.json` (an archive) or of the `model_config`
            attribute (a legacy full model): the model's own layers are in its `"layers"`.
            None for a weights-only file, or when the configuration is missing or not JSON.
        """
        layout = self.weights_layout()
        if layout == LEGACY_MODEL:
            return _inner_config(text_attribute(self._h5, "model_config"))
        if layout == LEGACY_WEIGHTS or CONFIG_MEMBER not in self.member_names():
            return None
        return _inner_config(self.member(CONFIG_MEMBER))

    # ----------------------------------------------------------------------- weights

    def weights(self) -> Any:
        """The open `h5py.File` holding the weights.

        Returns:
            The archive's `model.weights.h5` or the HDF5 file itself; None for an archive
            without weights.

        Raises:
            CorruptFileError: the weights member is damaged or not HDF5.
        """
        if not self._weights_opened:
            self._weights_opened = True
            if WEIGHTS_MEMBER in self.member_names():
                data = self.member(WEIGHTS_MEMBER)
                self._h5 = _open_h5(data, data[:4096], self.shown)
        return self._h5

    def weights_member(self) -> bytes:
        """The bytes of the archive's `model.weights.h5`.

        Raises:
            CorruptFileError: the member is missing or damaged.
        """
        return self.member(WEIGHTS_MEMBER)

    def weights_view(self) -> memoryview | None:
        """The archive's `model.weights.h5` as a view into `data`, after a CRC-32 check.

        Returns:
            The view, or None when it cannot be had without a copy: no such member, a
            compressed or encrypted one, or a file opened from a path.

        Raises:
            CorruptFileError: the member's bytes do not match its CRC-32.
        """
        if self.data is None or WEIGHTS_MEMBER not in self.member_names():
            return None
        assert self.archive is not None
        info = self.archive.getinfo(WEIGHTS_MEMBER)
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return None
        return _stored_member(self.data, info, self.shown)

    def weights_layout(self) -> str:
        """`LEGACY_MODEL`, `LEGACY_WEIGHTS`, `KERAS_WEIGHTS`, or `""` when there is none."""
        import h5py

        h5 = self.weights()
        if h5 is None:
            return ""
        if isinstance(h5.get("model_weights"), h5py.Group):
            return LEGACY_MODEL
        if has_attribute_list(h5, "layer_names"):
            return LEGACY_WEIGHTS
        if isinstance(h5.get("layers"), h5py.Group) or isinstance(h5.get("vars"), h5py.Group):
            return KERAS_WEIGHTS
        return ""

    def legacy_weights_group(self) -> Any:
        """The HDF5 group with the legacy `layer_names`: `model_weights`, or the file itself."""
        h5 = self.weights()
        return h5.get("model_weights", h5)

    def weight_value_count(self) -> int | None:
        """How many numbers the model's weights hold (the optimizer's state excluded).

        Returns:
            The count, or None when the file holds no weights.
        """
        h5 = self.weights()
        if h5 is None:
            return None
        if self.weights_layout() == LEGACY_MODEL:
            return _count_values(h5["model_weights"])
        return _count_values(h5, skip=("optimizer",))

    def has_optimizer_state(self) -> bool:
        """Whether the file holds an optimizer's state (`optimizer_weights` or `optimizer`)."""
        h5 = self.weights()
        if h5 is None:
            return False
        if "optimizer_weights" in h5:
            return True
        return "optimizer" in h5 and _count_values(h5["optimizer"]) > 0

    def saved_layer_count(self) -> int:
        """How many layers a weights-only file stores weights for (with or without weights)."""
        h5 = self.weights()
        if h5 is None:
            return 0
        if has_attribute_list(h5, "layer_names"):
            return len(attribute_list(h5, "layer_names"))
        return len(h5["layers"]) if "layers" in h5 else 0

    def array_shapes_by_layer(self) -> dict[str, list[tuple[int, ...]]]:
        """Keras 3 layout: top-level layer key (`dense_1`) -> the sorted shapes of its arrays."""
        shapes: dict[str, list[tuple[int, ...]]] = {}
        h5 = self.weights()
        if h5 is None or "layers" not in h5:
            return shapes
        for key, group in h5["layers"].items():
            found: list[tuple[int, ...]] = []

            def visit(_name: str, item: Any, found: list[tuple[int, ...]] = found) -> None:
                if hasattr(item, "shape") and item.shape is not None:
                    found.append(tuple(int(d) for d in item.shape))

            group.visititems(visit)
            shapes[key] = sorted(found)
        return shapes

    def legacy_weight_names(self) -> list[list[str]]:
        """Legacy layout: each saved layer's `weight_names`, in `layer_names` order."""
        group = self.legacy_weights_group()
        return [
            attribute_list(group[name], "weight_names")
            for name in attribute_list(group, "layer_names")
        ]

    def optimizer_weights(self) -> list[tuple[str, Any]] | None:
        """Legacy layout: the saved optimizer variables in order, as `(name, NumPy array)`.

        Returns:
            The pairs (the array is None for a name listed but missing), or None when the
            file holds no `optimizer_weights`.
        """
        import numpy as np

        h5 = self.weights()
        if h5 is None or "optimizer_weights" not in h5:
            return None
        group = h5["optimizer_weights"]
        return [
            (name, np.asarray(group[name]) if name in group else None)
            for name in attribute_list(group, "weight_names")
        ]

    def layers(self) -> Iterator[SavedLayer]:
        """The saved weights, layer by layer, read one layer at a time (optimizer excluded).

        Yields:
            A `SavedLayer` per layer with weights, in model order (see the module docstring
            for how names and order are recovered in each layout).

        Raises:
            CorruptFileError: the file holds no Keras weights.
        """
        h5 = self.weights()
        if h5 is None:
            self.weights_member()  # raises: the archive has no weights
        layout = self.weights_layout()
        if layout == LEGACY_MODEL:
            yield from legacy_layers(h5["model_weights"], self.architecture())
        elif layout == LEGACY_WEIGHTS:
            yield from legacy_layers(h5, None)
        elif layout == KERAS_WEIGHTS:
            yield from keras_layers(h5, self.architecture())
        else:
            raise CorruptFileError(
                "The file holds no Keras weights: no `model_weights`, `layer_names` or "
                f"`layers`/`vars` entry. Received: path={self.shown}."
            )


# --------------------------------------------------------------------------------------------
# Opening


def _head(source: Source) -> bytes:
    """The first 4 KiB, where the HDF5 signature (after an optional user block) and zip's are."""
    if isinstance(source, bytes):
        return source[:4096]
    with open(source, "rb") as file:
        return file.read(4096)


def _open_h5(source: Source, head: bytes, shown: str) -> Any:
    import h5py

    if HDF5_SIGNATURE not in head:
        raise CorruptFileError(
            "The file is not an HDF5 file (its first bytes lack the HDF5 signature). "
            f"Received: path={shown}. Check that it is the file you meant; "
            "a `.keras` file is a zip archive and must be named `.keras`."
        )
    try:
        return h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except (OSError, ValueError) as error:
        raise CorruptFileError(
            "The HDF5 file is truncated or corrupt and cannot be opened. "
            f"Received: path={shown}. Save the model again or restore a backup."
        ) from error


def _open_zip(source: Source, head: bytes, shown: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        kind = "truncated" if head.startswith(ZIP_SIGNATURE) else "not a zip archive"
        raise CorruptFileError(
            f"A `.keras` file must be a zip archive, but this one is {kind}. "
            f"Received: path={shown}. Save the model again, or if it is an HDF5 file "
            "rename it to `.h5`."
        ) from error


def _stored_member(data: bytes, info: zipfile.ZipInfo, shown: str) -> memoryview:
    """The bytes of a stored (uncompressed) member inside `data`, after checking its CRC-32."""
    damaged = CorruptFileError(
        f"The `.keras` archive member `{info.filename}` is damaged. Received: path={shown}. "
        "Save the model again or restore a backup."
    )
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        raise damaged
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_HEADER_SIGNATURE:
        raise damaged
    name_length, extra_length = fields[9], fields[10]
    begin = start + _LOCAL_HEADER.size + name_length + extra_length
    end = begin + info.compress_size
    if end > len(data):
        raise damaged
    view = memoryview(data)[begin:end]
    if zlib.crc32(view) != info.CRC:
        raise damaged
    return view


# --------------------------------------------------------------------------------------------
# Attributes and counts


def _inner_config(text: str | bytes | None) -> Any:
    """The `config` entry of a serialised model, or None when the text is absent or not JSON."""
    if text is None:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed.get("config") if isinstance(parsed, dict) else None


def _count_values(group: Any, skip: tuple[str, ...] = ()) -> int:
    total = 0

    def visit(name: str, item: Any) -> None:
        nonlocal total
        if name.split("/", 1)[0] in skip:
            return
        shape = getattr(item, "shape", None)
        if shape is not None and hasattr(item, "dtype"):
            total += math.prod(int(d) for d in shape)

    group.visititems(visit)
    return total
