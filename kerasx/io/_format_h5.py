"""The legacy HDF5 full-model format (`.h5`, `.hdf5`): files Keras 2, tf-keras and Keras 3 write."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, NoReturn

from kerasx.errors import CorruptFileError, SerializationError
from kerasx.io._loading import (
    allowed_names,
    refuse_if_unsafe,
    safe_mode,
    weights_come_from_the_file,
    wrap_keras_error,
)
from kerasx.io._reader import ModelFile, open_model_file
from kerasx.io._scan import scan_config

__all__ = ["load_h5", "save_h5"]


def save_h5(model: Any, path: Path) -> None:
    """Write a legacy HDF5 model file (not atomically), leaving the model as it was.

    Keras 3.15's HDF5 writer pops `"optimizer"` from the model's own compile configuration, so
    a later `.keras` save would silently lose the optimizer; the configuration is restored.
    """
    from keras.src.legacy.saving import legacy_h5_format

    compile_config = getattr(model, "_compile_config", None)
    kept = dict(compile_config.config) if compile_config is not None else None
    try:
        legacy_h5_format.save_model_to_hdf5(model, str(path))
    finally:
        if compile_config is not None and kept is not None:
            compile_config.config.clear()
            compile_config.config.update(kept)


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
            with safe_mode(trusted), warnings.catch_warnings(), weights_come_from_the_file():
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
    from keras.src.legacy.saving import legacy_h5_format, saving_options, saving_utils

    from kerasx.io._legacy import (
        compile_from_training_config,
        keras3_legacy_config,
        restore_optimizer_state,
    )

    warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
    with saving_options.keras_option_scope(use_legacy_config=True):
        model = saving_utils.model_from_config(
            keras3_legacy_config(model_config), custom_objects=custom_objects
        )
    legacy_h5_format.load_weights_from_hdf5_group(model_file.legacy_weights_group(), model)
    if compile and training_config is not None:
        compile_from_training_config(model, training_config, custom_objects)
        # Builds the optimizer (so a later `.keras` save round-trips cleanly) and copies the
        # saved state, Keras 2 slots by name; a misfit is logged.
        restore_optimizer_state(model, model_file, model_file.shown)
    return model
