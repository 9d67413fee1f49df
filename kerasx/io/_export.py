"""Exporting a model for serving (SavedModel, ONNX, LiteRT), checked with the format's runtime."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_path
from kerasx.errors import ConfigurationError, ExportError, KerasxError
from kerasx.io._export_formats import (
    FORMATS,
    LABELS,
    SUFFIXES,
    conversion_error,
    require_packages,
    run_artifact,
    write_artifact,
)
from kerasx.io._export_inputs import Probe, compare_outputs, export_signature, probe_inputs

__all__ = ["ExportReport", "export"]


@dataclass(frozen=True)
class ExportReport:
    """What `kerasx.io.export` wrote, and how closely the artifact matches the model.

    Attributes:
        format: `"saved_model"`, `"onnx"` or `"litert"`.
        path: the artifact: a directory for a SavedModel, a file otherwise.
        size_bytes: its size on disk (every file of a SavedModel directory).
        max_abs_diff: the largest absolute difference between the artifact's outputs and the
            model's, over every output; None when the export was not verified.
        runtime: the runtime that read the artifact back (`"tensorflow"`, `"onnxruntime"` or
            `"ai-edge-litert"`); None when not verified.
        runtime_version: that runtime's version; None when not verified.
        atol: the tolerance the difference was checked against; None when not verified.
        differences: the largest absolute difference of each output, by output name.
        checked_on: what the outputs were compared on (`"the sample"`, or the random inputs).

    Example:

    >>> from pathlib import Path
    >>> from kerasx.io import ExportReport
    >>> report = ExportReport("onnx", Path("model.onnx"), 2_048, 3e-08, "onnxruntime", "1.22.0",
    ...                       atol=1e-5, differences={"dense": 3e-08}, checked_on="the sample")
    >>> report.verified
    True
    >>> print(report)
    format        onnx
    path          model.onnx
    size          2,048 bytes
    runtime       onnxruntime 1.22.0
    max abs diff  3e-08 (atol 1e-05, on the sample)
    """

    format: str
    path: Path
    size_bytes: int
    max_abs_diff: float | None
    runtime: str | None
    runtime_version: str | None
    atol: float | None = None
    differences: dict[str, float] = field(default_factory=dict)
    checked_on: str | None = None

    @property
    def verified(self) -> bool:
        """Whether the artifact was read back and compared with the model."""
        return self.max_abs_diff is not None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (the path as a string)."""
        return {
            "format": self.format,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "max_abs_diff": self.max_abs_diff,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "atol": self.atol,
            "differences": dict(self.differences),
            "checked_on": self.checked_on,
            "verified": self.verified,
        }

    def __str__(self) -> str:
        lines = [
            f"format        {self.format}",
            f"path          {self.path}",
            f"size          {self.size_bytes:,} bytes",
        ]
        if self.verified:
            lines.append(f"runtime       {self.runtime} {self.runtime_version}")
            lines.append(
                f"max abs diff  {self.max_abs_diff:.3g} (atol {self.atol:g}, on {self.checked_on})"
            )
        else:
            lines.append("verified      no (verify=False)")
        return "\n".join(lines)


def export(
    model: Any,
    path: str | os.PathLike[str],
    *,
    format: str = "saved_model",
    verify: bool = True,
    sample: Any = None,
    atol: float = 1e-5,
    batch_size: int | None = None,
) -> ExportReport:
    """Export the model for serving, atomically, and check that the artifact computes the same.

    The artifact is written to a temporary path next to `path`. With `verify=True` it is read
    back with the format's own runtime, run on `sample` (or on inputs drawn with a fixed seed
    from the model's input spec: a batch of 2, standard normal floats, 0/1 integers), and its
    outputs are compared with the model's. Only an artifact that converts, runs and matches
    within `atol` replaces `path`; on any failure nothing is left at `path` (a previous
    artifact there stays as it was) and no temporary file remains.

    | format | file | read back by | needs |
    | --- | --- | --- | --- |
    | `"saved_model"` | a directory | `tf.saved_model.load` | TensorFlow |
    | `"onnx"` | `*.onnx` | `onnxruntime` | `pip install "kerasx[export]"` |
    | `"litert"` | `*.tflite` | `ai_edge_litert`'s `Interpreter` | `pip install "kerasx[export]"` |

    A LiteRT file uses TFLite's builtin operators only, so that the LiteRT runtime runs it
    without TensorFlow's Flex delegate.

    Args:
        model: the `keras.Model`, built (given a `keras.Input` or called once).
        path: the directory (SavedModel) or file (`.onnx`, `.tflite`) to write; an existing
            artifact there is replaced only by a verified one.
        format: `"saved_model"`, `"onnx"` or `"litert"`. Defaults to `"saved_model"`.
        verify: read the artifact back with its runtime and compare its outputs with the
            model's. Defaults to `True`.
        sample: the inputs to compare on, structured as the model is called (an array, a list
            or a dict of arrays); None draws seeded random inputs, which needs every dimension
            besides the batch to be fixed. Defaults to `None`.
        atol: the largest absolute difference accepted between the artifact's outputs and the
            model's. Defaults to `1e-5`.
        batch_size: fix the batch dimension of the artifact's inputs; None leaves it open.
            LiteRT needs a fixed one to run a recurrent layer (`LSTM`, `GRU`). Defaults to
            `None`.

    Returns:
        An `ExportReport`: the format, the path, the size in bytes, the largest difference
        found and the runtime (with its version) that read the artifact back.

    Raises:
        ConfigurationError: an unknown format, a path that does not suit it (a file where a
            SavedModel directory goes, a suffix other than `.onnx`/`.tflite`), a negative
            `atol`, an unbuilt model, or no `sample` where random inputs cannot be drawn.
        MissingDependencyError: the format's converter or runtime is not installed (the
            message names the `export` extra), or this Keras cannot write LiteRT.
        ExportError: the conversion failed (the message names the layer when it can be
            told), the runtime cannot run the artifact, or an output differs by more than
            `atol` (the message names the format, the output and the difference).

    Example:

    >>> import keras, kerasx.io, tempfile, os
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> report = kerasx.io.export(model, os.path.join(tempfile.mkdtemp(), "served"))
    >>> (report.format, report.runtime, report.max_abs_diff <= 1e-5)
    ('saved_model', 'tensorflow', True)
    >>> (report.path / "saved_model.pb").exists()
    True
    """
    path = Path(path)
    _check_arguments(model, path, format, atol, batch_size)
    require_packages(format, verify)
    signature = export_signature(model, batch_size)
    probe = probe_inputs(model, sample, batch_size) if verify else None
    with atomic_path(path) as temporary:
        _write(model, format, temporary, signature, path)
        size = _size(temporary)
        report = ExportReport(format, path, size, None, None, None)
        if probe is not None:
            report = _verify(model, probe, report, temporary, atol)
    return report


def _check_arguments(
    model: Any, path: Path, format: str, atol: float, batch_size: int | None
) -> None:
    if format not in FORMATS:
        raise ConfigurationError(
            f"Unknown export format. Received: format={format!r}. Use one of {list(FORMATS)} "
            "(Keras's 'tf_saved_model' is 'saved_model')."
        )
    if isinstance(atol, bool) or not isinstance(atol, int | float) or not atol >= 0:
        raise ConfigurationError(
            f"`atol` must be a number >= 0. Received: atol={atol!r}."
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ConfigurationError(
            f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}."
        )
    _check_path(path, format)
    if not getattr(model, "built", False):
        raise ConfigurationError(
            "`export` needs a built model, whose weights exist. Received: an unbuilt "
            f"{type(model).__name__}. Give it a `keras.Input`, or call it once on a batch."
        )


def _check_path(path: Path, format: str) -> None:
    suffix = path.suffix.lower()
    if format == "saved_model":
        if path.exists() and not path.is_dir():
            raise ConfigurationError(
                "format='saved_model' writes a SavedModel directory, but the path is a file. "
                f"Received: path={str(path)!r}. Pass a folder path; use `kerasx.io.save` for "
                "a `.keras` file."
            )
        if path.is_dir() and any(path.iterdir()) and not (path / "saved_model.pb").exists():
            raise ConfigurationError(
                "format='saved_model' replaces the folder at the path, but it holds files and "
                f"no SavedModel, so they would be lost. Received: path={str(path)!r}. Pass a "
                "new folder name (e.g. a subfolder of it), or an existing SavedModel folder."
            )
        formats = {value: key for key, value in SUFFIXES.items()}
        if suffix in formats:
            raise ConfigurationError(
                f"format='saved_model' writes a directory, but the path ends in {suffix!r}. "
                f"Received: path={str(path)!r}. Pass format={formats[suffix]!r} for that file."
            )
        return
    if suffix != SUFFIXES[format]:
        raise ConfigurationError(
            f"A {LABELS[format]} file's name must end in {SUFFIXES[format]!r}. Received: "
            f"path={str(path)!r}, format={format!r}."
        )
    if path.is_dir():
        raise ConfigurationError(
            f"format={format!r} writes a file, but the path is a directory. Received: "
            f"path={str(path)!r}."
        )


def _write(model: Any, format: str, temporary: Path, signature: Any, path: Path) -> None:
    """Convert the model into `temporary`; any converter failure becomes an `ExportError`."""
    try:
        write_artifact(model, format, temporary, signature)
    except KerasxError:
        raise
    except Exception as error:
        raise conversion_error(error, model, format, path, stage="convert") from error
    if not temporary.exists():
        raise ExportError(
            f"Keras reported no error but wrote no {LABELS[format]} artifact. Received: "
            f"format={format!r}, path={str(path)!r}. Nothing was written.",
            format=format,
        )


def _verify(model: Any, probe: Probe, report: ExportReport, temporary: Path, atol: float
            ) -> ExportReport:
    """Run the artifact with its runtime and compare; the report with the results."""
    format, path = report.format, report.path
    try:
        outputs, runtime, version = run_artifact(format, temporary, probe.inputs, probe.names)
    except KerasxError:
        raise
    except Exception as error:
        raise conversion_error(error, model, format, path, stage="runtime") from error
    differences = compare_outputs(
        probe, outputs, format=format, label=LABELS[format], atol=atol, path=path
    )
    worst = max(differences.values(), default=0.0)
    return ExportReport(
        format, path, report.size_bytes, worst, runtime, version,
        atol=float(atol), differences=differences, checked_on=probe.description,
    )


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size
