"""Save and load models, weights and architectures in every Keras format, safely and atomically.

The format follows the file name's suffix (see DESIGN.md): `.keras` (Keras 3 zip), `.h5` /
`.hdf5` (legacy HDF5, also written by Keras 2), `.weights.h5` (Keras 3 weights), `.json`
(architecture). Loading reads the file once into memory (a private copy), scans its
configuration with `kerasx.io._scan` before anything is deserialised, and then deserialises
inside Keras's `SafeModeScope`, which wins over a global
`keras.config.enable_unsafe_deserialization()`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_path, atomic_write_text
from kerasx.errors import (
    ConfigurationError,
    CorruptFileError,
    KerasxError,
    SerializationError,
    UnsafeModelError,
)
from kerasx.io import _keras_zip
from kerasx.io._files import (
    is_saved_model_dir,
    model_kind,
    open_h5,
    open_zip,
    parse_json,
    read_private_copy,
    read_zip_member,
)
from kerasx.io._scan import scan_config

__all__ = [
    "convert",
    "export",
    "from_json",
    "load",
    "load_weights",
    "save",
    "save_weights",
    "to_json",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

_ACCEPTED = "`.keras` (recommended), `.h5` or `.hdf5`"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _allowed_names(custom_objects: dict[str, Any] | None) -> set[str]:
    """Names the caller vouches for: `custom_objects` keys and Keras's registered objects."""
    import keras

    import kerasx.layers._blocks  # noqa: F401  (registers kerasx's own layers, so Keras can load them)

    names = set(custom_objects or {})
    names.update(keras.saving.get_custom_objects())
    for value in (custom_objects or {}).values():
        name = getattr(value, "__name__", None)
        if isinstance(name, str):
            names.add(name)
    return names


def _refuse_if_unsafe(findings: list[str], path: str, trusted: bool) -> None:
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
def _safe_mode(trusted: bool) -> Iterator[None]:
    """Keras's safe-mode scope, set explicitly so a global unsafe flag cannot weaken it."""
    from keras.src.saving.serialization_lib import SafeModeScope

    with SafeModeScope(not trusted):
        yield


_LOADING = threading.local()


@contextlib.contextmanager
def _weights_come_from_the_file() -> Iterator[None]:
    """While a model is rebuilt to receive a file's weights, skip its random initial values.

    Keras's own loaders build the model with its initializers, then overwrite every variable
    with the file's values: for 10M parameters the random numbers cost about 0.26 s of a 0.69 s
    load on 2 CPU cores. Inside this scope, in this thread only, Keras's random initializers
    give zeros instead. A variable the file does not fill makes Keras's loader raise, so the
    zeros never reach a model that `load` returns; the layers keep their initializer objects,
    so `get_config()` and later re-initialisation are unchanged.
    """
    _install_zero_initialization()
    _LOADING.depth = getattr(_LOADING, "depth", 0) + 1
    try:
        yield
    finally:
        _LOADING.depth -= 1


def _install_zero_initialization() -> None:
    from keras.src.backend import Variable
    from keras.src.initializers import Zeros
    from keras.src.initializers.random_initializers import RandomInitializer

    original = Variable._initialize_with_initializer
    if getattr(original, "_kerasx_zero_when_loading", False):
        return
    zeros = Zeros()

    def initialize(self: Any, initializer: Any) -> Any:
        if getattr(_LOADING, "depth", 0) and isinstance(initializer, RandomInitializer):
            initializer = zeros
        return original(self, initializer)

    initialize._kerasx_zero_when_loading = True  # type: ignore[attr-defined]
    Variable._initialize_with_initializer = initialize


def _wrap_keras_error(error: Exception, path: str, action: str) -> KerasxError:
    if isinstance(error, KerasxError):
        return error
    if isinstance(error, OSError):
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


def _check_model_target(path: Path, function: str) -> str:
    kind = model_kind(path)
    if path.is_dir() or kind not in ("keras", "h5"):
        if kind == "weights.h5":
            fix = "use `kerasx.io.save_weights(model, path)` for a weights file"
        elif kind == "json":
            fix = "use `kerasx.io.to_json(model, path)` for the architecture alone"
        else:
            fix = "use `kerasx.io.export(model, directory)` for a TensorFlow SavedModel"
        raise ConfigurationError(
            f"`{function}` writes a full model to a file ending in {_ACCEPTED}. "
            f"Received: path={str(path)!r}. Add one of these suffixes, or {fix}."
        )
    return kind


# --------------------------------------------------------------------------------------------
# Full models
# --------------------------------------------------------------------------------------------


def save(model: Any, path: PathLike) -> Path:
    """Save a whole model (architecture, weights, optimizer state) atomically.

    `.keras` writes Keras 3's zip format; `.h5` / `.hdf5` writes the legacy HDF5 format that
    Keras 2 also reads. The file is written to a temporary file in the same folder, fsynced,
    and then moved over `path`, so a crash never leaves a half-written model behind.

    Args:
        model: the `keras.Model` to save.
        path: the file to write; its suffix picks the format.

    Returns:
        The path written, as a `Path`.

    Raises:
        ConfigurationError: `path` is a directory or has another suffix.
        SerializationError: Keras cannot serialise the model.

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = kerasx.io.save(model, os.path.join(tempfile.mkdtemp(), "model.keras"))
    >>> path.name
    'model.keras'
    """
    path = Path(path)
    kind = _check_model_target(path, "save")
    try:
        with atomic_path(path) as temporary:
            if kind == "keras":
                write_keras(model, temporary)
            else:
                _save_h5(model, temporary)
    except (ValueError, TypeError, NotImplementedError) as error:
        raise SerializationError(
            f"Keras cannot save this model: {error}. Received: path={str(path)!r}. "
            "Custom layers need `get_config()` and `@keras.saving.register_keras_serializable()`."
        ) from error
    return path


def write_keras(model: Any, path: Path) -> None:
    """Write a `.keras` archive to `path` (not atomically; callers use `atomic_path`)."""
    if not _keras_zip.available():  # pragma: no cover - a Keras without the private helpers
        model.save(path)
        return
    with open(path, "wb") as file:
        _keras_zip.write_archive(model, file)


def _save_h5(model: Any, temporary: Path) -> None:
    """Legacy HDF5 save that leaves the model as it was.

    Keras 3.15's HDF5 writer pops `"optimizer"` from the model's own compile configuration, so
    a later `.keras` save would silently lose the optimizer; the configuration is restored.
    """
    from keras.src.legacy.saving import legacy_h5_format

    compile_config = getattr(model, "_compile_config", None)
    kept = dict(compile_config.config) if compile_config is not None else None
    try:
        legacy_h5_format.save_model_to_hdf5(model, str(temporary))
    finally:
        if compile_config is not None and kept is not None:
            compile_config.config.clear()
            compile_config.config.update(kept)


def load(
    path: PathLike,
    *,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    trusted: bool = False,
) -> Any:
    """Load a model saved in any Keras format, refusing files that could run code.

    The file is read once into memory; its configuration is scanned without Keras (see
    `kerasx.io.inspect`) and refused with `UnsafeModelError` if it holds Lambda layers,
    TFSMLayer and friends, functions or modules outside Keras, unregistered custom objects or
    file paths. Only then is it deserialised, inside Keras's safe mode. Legacy `.h5` files
    (Keras 2 / tf-keras included) come back compiled with their loss and metrics even when
    these are string aliases such as `"mse"` or `"acc"`.

    Args:
        path: a `.keras`, `.h5`/`.hdf5` or `.json` file, or (with `trusted=True`) a SavedModel
            directory.
        custom_objects: custom classes and functions by name. These are allowed by the scan.
            Defaults to `None`.
        compile: whether to compile the model as it was saved. Defaults to `True`.
        trusted: skip the scan and safe mode. Only for files from an author you trust. A
            SavedModel directory is then returned as a `keras.layers.TFSMLayer` (endpoint
            `serving_default`) wrapped in a `keras.Sequential`: an inference-only model whose
            call returns the signature's dict of named outputs. Defaults to `False`.

    Returns:
        The `keras.Model` (for `.json`, uncompiled and with fresh weights).

    Raises:
        MissingFileError: the file does not exist.
        ConfigurationError: a directory that is not a SavedModel, a SavedModel without
            `trusted=True`... see the message; or an unknown suffix.
        CorruptFileError: the file is empty, truncated, or not in the format its name says.
        UnsafeModelError: the scan found objects that could run code (`.findings`).
        SerializationError: a weights-only file, invalid JSON, or Keras cannot rebuild it.
    """
    path = Path(path)
    shown = repr(str(path))
    if path.is_dir() and is_saved_model_dir(path):
        if not trusted:
            raise UnsafeModelError(
                f"Refusing to load {shown}: it is a TensorFlow SavedModel, which is a program "
                "that runs when loaded. If you trust its author, pass `trusted=True`.",
                findings=[f"{path}: TensorFlow SavedModel (a program)"],
            )
        return _load_saved_model(path)
    kind = model_kind(path)
    if kind == "json":
        return from_json(path, custom_objects=custom_objects, trusted=trusted)
    if kind not in ("keras", "h5", "weights.h5"):
        if not path.exists():
            read_private_copy(path)
        raise ConfigurationError(
            f"`load` reads files ending in {_ACCEPTED} or `.json`. Received: path={shown}. "
            "Rename the file to its format's suffix; a SavedModel directory needs `trusted=True`."
        )
    data = read_private_copy(path)
    if kind == "weights.h5":
        raise SerializationError(
            f"This is a weights-only file, not a model. Received: path={shown}. Build the "
            "model in code, then call `kerasx.io.load_weights(model, path)`."
        )
    if kind == "keras":
        return _load_keras(data, shown, custom_objects, compile, trusted)
    return _load_h5(data, shown, custom_objects, compile, trusted)


def _load_keras(
    data: bytes,
    shown: str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    with open_zip(data, shown) as archive:
        config_text = read_zip_member(archive, "config.json", shown)
        config = parse_json(config_text, f"config.json of {shown}")
        if not trusted:
            _refuse_if_unsafe(scan_config(config, _allowed_names(custom_objects)), shown, trusted)
        try:
            with _safe_mode(trusted), _weights_come_from_the_file():
                return _deserialise_keras(
                    data, archive, config_text, shown, custom_objects, compile, trusted
                )
        except Exception as error:
            raise _wrap_keras_error(error, shown, "load the model") from error


def _deserialise_keras(
    data: bytes,
    archive: Any,
    config_text: bytes,
    shown: str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    """kerasx's own `.keras` reader, or Keras's for archives it does not handle."""
    if _keras_zip.available():
        model = _keras_zip.read_archive(
            data,
            archive,
            config_text,
            shown=shown,
            custom_objects=custom_objects,
            compile=compile,
            safe_mode=not trusted,
        )
        if model is not None:
            return model
    from keras.src.saving import saving_lib

    return saving_lib.load_model(
        io.BytesIO(data), custom_objects=custom_objects, compile=compile, safe_mode=not trusted
    )


def _h5_json_attribute(h5_file: Any, name: str, shown: str) -> Any:
    value = h5_file.attrs.get(name)
    if value is None:
        return None
    if hasattr(value, "decode"):
        value = value.decode("utf-8")
    return parse_json(value, f"the `{name}` attribute of {shown}")


def _load_h5(
    data: bytes,
    shown: str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    h5_file = open_h5(data, shown)
    with h5_file:
        model_config = _h5_json_attribute(h5_file, "model_config", shown)
        if model_config is None:
            if "layer_names" in h5_file.attrs or "model_weights" in h5_file or "layers" in h5_file:
                raise SerializationError(
                    f"This HDF5 file holds weights only, not a model. Received: path={shown}. "
                    "Build the model in code, then call `kerasx.io.load_weights(model, path)`."
                )
            raise CorruptFileError(
                f"This HDF5 file has no `model_config`: it is not a Keras model file. "
                f"Received: path={shown}. Check that it is the file you meant."
            )
        training_config = _h5_json_attribute(h5_file, "training_config", shown)
        if not trusted:
            allowed = _allowed_names(custom_objects)
            findings = scan_config(model_config, allowed)
            findings += scan_config(training_config, allowed)
            _refuse_if_unsafe(findings, shown, trusted)
        from keras.src.legacy.saving import legacy_h5_format, saving_options, saving_utils

        from kerasx.io._legacy import (
            compile_from_training_config,
            keras3_legacy_config,
            restore_optimizer_state,
        )

        try:
            with _safe_mode(trusted), warnings.catch_warnings(), _weights_come_from_the_file():
                warnings.filterwarnings(
                    "ignore", message="Do not pass an `input_shape`", category=UserWarning
                )
                with saving_options.keras_option_scope(use_legacy_config=True):
                    model = saving_utils.model_from_config(
                        keras3_legacy_config(model_config), custom_objects=custom_objects
                    )
                weights = h5_file.get("model_weights", h5_file)
                legacy_h5_format.load_weights_from_hdf5_group(weights, model)
                if compile and training_config is not None:
                    compile_from_training_config(model, training_config, custom_objects)
                    # Builds the optimizer (so a later `.keras` save round-trips cleanly) and
                    # copies the saved state, Keras 2 slots by name; a misfit is logged.
                    restore_optimizer_state(model, h5_file, shown)
        except Exception as error:
            raise _wrap_keras_error(error, shown, "load the model") from error
    return model


def _load_saved_model(path: Path) -> Any:
    """A trusted SavedModel as an inference-only `keras.Sequential([TFSMLayer])`."""
    import keras

    try:
        layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
        return keras.Sequential([layer], name=path.name or "saved_model")
    except Exception as error:
        raise _wrap_keras_error(error, repr(str(path)), "load the SavedModel") from error


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------


def save_weights(model: Any, path: PathLike) -> Path:
    """Save a model's weights atomically to any `*.h5` file.

    A name ending in `.weights.h5` gets Keras 3's weights format; any other `.h5`/`.hdf5`
    name (the seed's `my_model_weights.h5`) gets the legacy HDF5 weights format that Keras 2's
    `model.load_weights` also reads. `load_weights` reads both.

    Args:
        model: the `keras.Model` whose weights to save.
        path: a file ending in `.h5` or `.hdf5`.

    Returns:
        The path written, as a `Path`.

    Raises:
        ConfigurationError: `path` is a directory or does not end in `.h5`/`.hdf5`.
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
            from keras.src.legacy.saving import legacy_h5_format

            with h5py.File(temporary, "w") as h5_file:
                legacy_h5_format.save_weights_to_hdf5_group(h5_file, model)
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
        ConfigurationError: an unknown suffix.
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
        with open_zip(data, shown) as archive:
            weights = read_zip_member(archive, "model.weights.h5", shown)
        _load_native_weights(model, weights, shown, skip_mismatch)
        return model
    h5_file = open_h5(data, shown)
    with h5_file:
        if "model_weights" in h5_file:
            group = h5_file["model_weights"]
        elif "layer_names" in h5_file.attrs:
            group = h5_file
        else:
            group = None
    if group is None:
        _load_native_weights(model, data, shown, skip_mismatch)
    else:
        _load_legacy_weights(model, data, shown, skip_mismatch)
    return model


def _weights_shapes_in_file(h5_file: Any) -> dict[str, list[tuple[int, ...]]]:
    """Keras 3 weights layout: `layers/<name>/.../vars/<i>` -> shapes per top-level layer."""
    shapes: dict[str, list[tuple[int, ...]]] = {}
    if "layers" not in h5_file:
        return shapes

    for name, group in h5_file["layers"].items():
        found: list[tuple[int, ...]] = []

        def visit(_item_name: str, item: Any, found: list[tuple[int, ...]] = found) -> None:
            if hasattr(item, "shape") and item.shape is not None:
                found.append(tuple(int(d) for d in item.shape))

        group.visititems(visit)
        shapes[name] = sorted(found)
    return shapes


def _file_keys(model: Any) -> list[tuple[str, Any]]:
    """The names Keras 3 gives a model's layers inside a weights file (`dense`, `dense_1`, ...).

    Keras addresses layers by their class name in snake case, numbered in order, not by
    `layer.name` (see `keras/src/saving/saving_lib.py`, `_save_container_state`).
    """
    from keras.src.utils import naming

    used: dict[str, int] = {}
    keys: list[tuple[str, Any]] = []
    for layer in model.layers:
        base = naming.to_snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        keys.append((key, layer))
    return keys


def _mismatches(model: Any, h5_file: Any) -> list[str]:
    in_file = _weights_shapes_in_file(h5_file)
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
    with open_h5(data, shown) as h5_file:
        problems = _mismatches(model, h5_file)
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
    from keras.src.legacy.saving import legacy_h5_format

    def run() -> None:
        with open_h5(data, shown) as h5_file:
            group = h5_file.get("model_weights", h5_file)
            legacy_h5_format.load_weights_from_hdf5_group(group, model, skip_mismatch)

    _run_weights_loader(run, shown, skip_mismatch, [])


def _run_weights_loader(run: Any, shown: str, skip_mismatch: bool, known: list[str]) -> None:
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
            raise _wrap_keras_error(error, shown, "load the weights") from error
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


# --------------------------------------------------------------------------------------------
# Architecture as JSON
# --------------------------------------------------------------------------------------------


def to_json(model: Any, path: PathLike | None = None) -> str:
    """Return the model's architecture as JSON text, and write it atomically to `path` if given.

    Args:
        model: the `keras.Model`.
        path: a `.json` file to write, or None. Defaults to `None`.

    Returns:
        The JSON text (as `model.to_json()` gives it).

    Raises:
        ConfigurationError: `path` does not end in `.json`.
    """
    text: str = model.to_json()
    if path is not None:
        if model_kind(path) != "json" or Path(path).is_dir():
            raise ConfigurationError(
                f"`to_json` writes a file ending in `.json`. Received: path={str(path)!r}. "
                "Use `kerasx.io.save` for a whole model."
            )
        atomic_write_text(path, text)
    return text


def from_json(
    text_or_path: str | os.PathLike[str],
    *,
    custom_objects: dict[str, Any] | None = None,
    trusted: bool = False,
) -> Any:
    """Rebuild a model (uncompiled, fresh weights) from JSON text or a `.json` file, safely.

    Keras 2 / tf-keras JSON is read with Keras's legacy configuration rules.

    Args:
        text_or_path: JSON text (starting with `{`) or the path of a `.json` file.
        custom_objects: custom classes and functions by name; the scan allows them.
            Defaults to `None`.
        trusted: skip the scan and safe mode. Defaults to `False`.

    Returns:
        The `keras.Model`. Load weights into it with `kerasx.io.load_weights`.

    Raises:
        MissingFileError: the path does not exist.
        SerializationError: the text is not valid JSON or not a model configuration.
        UnsafeModelError: the scan found objects that could run code.
    """
    if isinstance(text_or_path, str) and text_or_path.lstrip().startswith(("{", "[")):
        text = text_or_path
        where = "the JSON text"
    else:
        where = repr(str(text_or_path))
        data = read_private_copy(text_or_path, what="JSON file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SerializationError(
                f"The JSON file is not UTF-8 text. Received: path={where}. "
                "Pass the file written by `kerasx.io.to_json`."
            ) from error
    config = parse_json(text, where)
    if not isinstance(config, dict) or "class_name" not in config:
        raise SerializationError(
            "The JSON is not a Keras model configuration (no `class_name`). "
            f"Received: {where}. Pass the text of `model.to_json()`."
        )
    if not trusted:
        _refuse_if_unsafe(scan_config(config, _allowed_names(custom_objects)), where, trusted)
    try:
        with _safe_mode(trusted), warnings.catch_warnings():
            if str(config.get("keras_version", "3")).startswith(("1.", "2.")):
                from keras.src.legacy.saving import saving_options, saving_utils

                from kerasx.io._legacy import keras3_legacy_config

                with saving_options.keras_option_scope(use_legacy_config=True):
                    warnings.filterwarnings(
                        "ignore", message="Do not pass an `input_shape`", category=UserWarning
                    )
                    return saving_utils.model_from_config(
                        keras3_legacy_config(_legacy_form(config)), custom_objects=custom_objects
                    )
            from keras.src.saving import serialization_lib

            return serialization_lib.deserialize_keras_object(
                config, custom_objects=custom_objects, safe_mode=not trusted
            )
    except Exception as error:
        raise _wrap_keras_error(error, where, "rebuild the model from JSON") from error


def _legacy_form(node: Any) -> Any:
    """Keras 2.13+ JSON in the pre-2.13 form Keras 3's legacy reader understands.

    tf-keras's `to_json` adds `module`/`registered_name` keys; with them Keras 3 takes its new
    deserialisation path, which rejects Keras 2 values such as `BatchNormalization(axis=[3])`.
    The HDF5 `model_config` of the same model has no such keys and loads; this makes the JSON
    look the same. It runs after the safety scan, on the scanned dict.
    """
    if isinstance(node, dict):
        drop = ("module", "registered_name") if "class_name" in node else ()
        return {key: _legacy_form(value) for key, value in node.items() if key not in drop}
    if isinstance(node, list):
        return [_legacy_form(item) for item in node]
    return node


# --------------------------------------------------------------------------------------------
# Export and convert
# --------------------------------------------------------------------------------------------


def export(model: Any, directory: PathLike) -> Path:
    """Export the model as a TensorFlow SavedModel directory for serving (atomically).

    Args:
        model: the `keras.Model`.
        directory: the folder to write; an existing SavedModel folder there is replaced.

    Returns:
        The directory, as a `Path`.

    Raises:
        ConfigurationError: `directory` is an existing file.
        SerializationError: Keras cannot export the model.
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


def convert(src: PathLike, dst: PathLike) -> Path:
    """Convert a model file to another format: load `src` safely, write `dst` atomically.

    `dst`'s suffix picks the format: `.keras`, `.h5`/`.hdf5`, `.weights.h5` (weights only) or
    `.json` (architecture only). Typical use: migrating a Keras 2 `.h5` file to `.keras`.

    Args:
        src: the model file to read (the safety scan applies).
        dst: the file to write.

    Returns:
        `dst`, as a `Path`.

    Raises:
        ConfigurationError: `dst` has an unknown suffix or equals `src`.
        UnsafeModelError: `src` holds objects that could run code.
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
