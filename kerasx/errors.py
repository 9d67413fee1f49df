"""The kerasx error tree.

Every error kerasx raises derives from `KerasxError` and also from the built-in exception a
caller would expect (`ValueError`, `OSError`, `ImportError`, ...), so that code written with
`except ValueError:` keeps working.

This module imports nothing heavy: it is safe to import anywhere.

Example:

>>> from kerasx.errors import ConfigurationError, KerasxError
>>> try:
...     raise ConfigurationError("Unknown task. Received: task='x'.")
... except ValueError as e:
...     isinstance(e, KerasxError)
True
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "CorruptFileError",
    "DataError",
    "DeviceError",
    "ExportError",
    "KerasxError",
    "MissingDependencyError",
    "MissingFileError",
    "SerializationError",
    "TrainingError",
    "UnsafeModelError",
]


class KerasxError(Exception):
    """Base class of every error kerasx raises."""


class ConfigurationError(KerasxError, ValueError):
    """An argument, a combination of arguments or a run directory is not usable as given."""


class DataError(KerasxError, ValueError):
    """Input data (arrays, batches, generators) is malformed or inconsistent."""


class SerializationError(KerasxError, ValueError):
    """A model, weights or history file cannot be written or read as asked.

    Raised, for example, for a weights-only file given to `load`, invalid JSON, or weights that
    do not fit the model's architecture.
    """


class UnsafeModelError(SerializationError):
    """A model file contains something that could run code when loaded.

    Attributes:
        findings: list of human-readable findings, one per unsafe object.
    """

    def __init__(self, message: str, findings: list[str] | None = None) -> None:
        super().__init__(message)
        self.findings: list[str] = list(findings or [])


class ExportError(SerializationError):
    """A model cannot be exported for serving, or the exported artifact computes something else.

    Raised by `kerasx.io.export` when the converter fails (an operation the format cannot
    express, for example), when the format's runtime cannot run the artifact, or when the
    artifact's outputs differ from the model's by more than `atol`. Nothing is left at the
    export path then; whatever was there before is untouched.

    Attributes:
        format: the export format, e.g. `"onnx"`.
        layer: the name of the layer the failure comes from, when kerasx can tell; else None.
        output: the name of the output that differs, for a verification failure; else None.
        max_abs_diff: the largest absolute difference found, for a verification failure.
    """

    def __init__(
        self,
        message: str,
        *,
        format: str | None = None,
        layer: str | None = None,
        output: str | None = None,
        max_abs_diff: float | None = None,
    ) -> None:
        super().__init__(message)
        self.format = format
        self.layer = layer
        self.output = output
        self.max_abs_diff = max_abs_diff


class CorruptFileError(KerasxError, OSError):
    """A file exists but is empty, truncated, or not in the format its name says."""


class MissingFileError(KerasxError, FileNotFoundError):
    """A file or directory that kerasx was asked to read does not exist."""


class MissingDependencyError(KerasxError, ImportError):
    """An optional dependency (a Python package or a program such as Graphviz `dot`) is missing."""


class DeviceError(KerasxError, RuntimeError):
    """A requested device (for example a GPU) is not available."""


class TrainingError(KerasxError, RuntimeError):
    """Training cannot go on: for example weights became NaN or Inf."""
