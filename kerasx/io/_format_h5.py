"""The legacy HDF5 full-model format (`.h5`, `.hdf5`): files Keras 2, tf-keras and Keras 3 write."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, NoReturn

from kerasx._compat import fast_path_enabled
from kerasx._compat.initializers import random_initializers_give_zeros
from kerasx._compat.saving import (
    H5_MODEL_WRITER,
    keep_compile_config,
    legacy_model_from_config,
    write_legacy_h5_model,
)
from kerasx.errors import CorruptFileError, SerializationError
from kerasx.io._format_weights import read_legacy_weights
from kerasx.io._loading import allowed_names, refuse_if_unsafe, safe_mode, wrap_keras_error
from kerasx.io._reader import ModelFile, open_model_file
from kerasx.io._scan import scan_config

__all__ = ["load_h5", "save_h5"]


def save_h5(model: Any, path: Path) -> None:
    """Write a legacy HDF5 model file (not atomically), leaving the model as it was.

    Keras's HDF5 writer pops `"optimizer"` from the model's own compile configuration, so a
    later `.keras` save would silently lose the optimizer; the configuration is restored.
    """
    with keep_compile_config(model):
        if fast_path_enabled(H5_MODEL_WRITER):
            write_legacy_h5_model(model, str(path))
        else:
            model.save(path)


def load_h5(
    data: bytes,
    shown: str,
    custom_objects: dict[str, Any] | None,
    compile: bool,
    trusted: bool,
) -> Any:
    """Rebuild the model of a legacy HDF5 file from its private copy `data`, after the scan.

    The model comes back compiled as its `training_config` says, with the optimizer's state
    (Keras 2 slots are matched by name; a state that does not fit is logged and dropped).

    Args:
        data: the file's bytes.
        shown: how messages name the file.
        custom_objects: custom classes and functions by name, or None.
        compile: whether to compile the model as it was saved.
        trusted: skip the scan and safe mode.

    Returns:
        The `keras.Model`.

    Raises:
        CorruptFileError: the file is truncated, damaged, or has no `model_config`.
        UnsafeModelError: the scan found objects that could run code.
        SerializationError: a weights-only file, or Keras cannot rebuild the model.
        MissingDependencyError: this Keras cannot read legacy configurations (see the message).
    """
    with open_model_file(data, kind="h5", shown=shown) as model_file:
        model_config = model_file.config()
        if model_config is None:
            _refuse_configless(model_file, shown)
        training_config = model_file.training_config()
        if not trusted:
            allowed = allowed_names(custom_objects)
            findings = scan_config(model_config, allowed)
            findings += scan_config(training_config, allowed)
            refuse_if_unsafe(findings, shown, trusted)
        try:
            with safe_mode(trusted), warnings.catch_warnings(), random_initializers_give_zeros():
                return _rebuild(model_file, model_config, training_config, custom_objects, compile)
        except Exception as error:
            raise wrap_keras_error(error, shown, "load the model") from error


def _refuse_configless(model_file: ModelFile, shown: str) -> NoReturn:
    if model_file.weights_layout():
        raise SerializationError(
            f"This HDF5 file holds weights only, not a model. Received: path={shown}. "
            "Build the model in code, then call `kerasx.io.load_weights(model, path)`."
        )
    raise CorruptFileError(
        f"This HDF5 file has no `model_config`: it is not a Keras model file. "
        f"Received: path={shown}. Check that it is the file you meant."
    )


def _rebuild(
    model_file: ModelFile,
    model_config: Any,
    training_config: Any,
    custom_objects: dict[str, Any] | None,
    compile: bool,
) -> Any:
    """The model, its weights, and its compilation and optimizer state (in Keras's scopes)."""
    from kerasx.io._legacy import (
        compile_from_training_config,
        keras3_legacy_config,
        restore_optimizer_state,
    )

    warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
    model = legacy_model_from_config(keras3_legacy_config(model_config), custom_objects)
    assert model_file.data is not None  # opened from the private copy
    read_legacy_weights(model, model_file.data, model_file.shown)
    if compile and training_config is not None:
        compile_from_training_config(model, training_config, custom_objects)
        # Builds the optimizer (so a later `.keras` save round-trips cleanly) and copies the
        # saved state, Keras 2 slots by name; a misfit is logged.
        restore_optimizer_state(model, model_file, model_file.shown)
    return model
