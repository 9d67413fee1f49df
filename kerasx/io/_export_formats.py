"""Per export format: the packages it needs, the writer, the runtime that reads it back, and
the explanation of a failure (which layer, which operation).

| format | written by `model.export(format=...)` | read back (verified) by |
| --- | --- | --- |
| `saved_model` | `"tf_saved_model"` | `tf.saved_model.load` |
| `onnx` | `"onnx"` (tf2onnx) | `onnxruntime.InferenceSession` |
| `litert` | `"litert"`, TFLite builtin operators only | `ai_edge_litert`'s `Interpreter` |

A LiteRT file is converted with the builtin operators alone (Keras's default also allows
TensorFlow "select" operators, which the LiteRT runtime cannot run without the Flex delegate),
so a `.tflite` file kerasx writes runs in the plain LiteRT interpreter, or the export fails.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kerasx.errors import ExportError, MissingDependencyError

__all__ = [
    "FORMATS",
    "LABELS",
    "SUFFIXES",
    "conversion_error",
    "require_packages",
    "run_artifact",
    "write_artifact",
]

FORMATS = ("saved_model", "onnx", "litert")
"""The formats `kerasx.io.export` writes."""

LABELS = {"saved_model": "SavedModel", "onnx": "ONNX", "litert": "LiteRT"}
"""How messages name each format."""

SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}
"""The file suffix each single-file format requires (a SavedModel is a directory)."""

INSTALL_EXTRA = 'pip install "kerasx[export]"'

_WRITERS: dict[str, tuple[str, ...]] = {
    "saved_model": (),
    "onnx": ("tf2onnx", "onnx"),
    "litert": (),
}
_RUNTIMES: dict[str, tuple[str, ...]] = {
    "saved_model": (),
    "onnx": ("onnxruntime",),
    "litert": ("ai_edge_litert",),
}
_DISTRIBUTIONS = {"ai_edge_litert": "ai-edge-litert"}


def require_packages(format: str, verify: bool) -> None:
    """Check the packages (and the Keras) that writing and verifying `format` need.

    Raises:
        MissingDependencyError: a package is missing (the message names the `export` extra),
            or this Keras cannot write LiteRT.
    """
    if format == "litert":
        _require_keras_litert()
    needed = _WRITERS[format] + (_RUNTIMES[format] if verify else ())
    missing = []
    for module in needed:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(_DISTRIBUTIONS.get(module, module))
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        only_runtime = set(missing) <= {_DISTRIBUTIONS.get(m, m) for m in _RUNTIMES[format]}
        skip = " (or pass verify=False to write the file unchecked)" if only_runtime else ""
        raise MissingDependencyError(
            f"Exporting to {LABELS[format]}{' and checking the result' if verify else ''} "
            f"needs {', '.join(missing)}, which {verb} not installed. Install kerasx's export "
            f"extra: {INSTALL_EXTRA}{skip}."
        )


def _require_keras_litert() -> None:
    from kerasx._compat import keras_version
    from kerasx._compat.export import keras_exports_litert

    if not keras_exports_litert():
        raise MissingDependencyError(
            f"This Keras ({keras_version()}) cannot write LiteRT files: its `model.export` "
            "has no format='litert' (a later Keras added it). Upgrade Keras (pip install -U "
            "keras), or export as format='saved_model' or 'onnx'."
        )


# ------------------------------------------------------------------------------- writing


def write_artifact(model: Any, format: str, target: Path, signature: Any) -> None:
    """Write `model` to `target` (a temporary path) in `format`; converter errors propagate."""
    if format == "saved_model":
        model.export(str(target), format="tf_saved_model", verbose=False, input_signature=signature)
    elif format == "onnx":
        _write_onnx(model, target, signature)
    else:
        import tensorflow as tf

        model.export(
            str(target),
            format="litert",
            verbose=False,
            input_signature=signature,
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
        )


def _write_onnx(model: Any, target: Path, signature: Any) -> None:
    from kerasx._compat.export import tf2onnx_left_as_found

    with tf2onnx_left_as_found(), _quiet_logger("tf2onnx"), warnings.catch_warnings():
        # Keras's tf2onnx patch asks NumPy 2 for `numpy.object`, which warns.
        warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
        model.export(str(target), format="onnx", verbose=False, input_signature=signature)
    unsupported = _unsupported_onnx_nodes(target)
    if unsupported:
        raise _UnsupportedOps(unsupported, "which tf2onnx cannot convert to ONNX")


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Silence a library's logger for a while (kerasx reports the failures itself)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class _UnsupportedOps(Exception):
    """The converter finished, but left operations the format cannot run (op path, op type)."""

    def __init__(self, ops: list[tuple[str, str]], why: str) -> None:
        super().__init__(", ".join(f"{kind} ({path})" for path, kind in ops) + f", {why}")
        self.ops = ops
        self.why = why


def _unsupported_onnx_nodes(path: Path) -> list[tuple[str, str]]:
    """(node name, op type) of every node that no standard ONNX operator set defines.

    tf2onnx copies a TensorFlow operation it cannot convert into the graph under its own name,
    logs an error, and writes the file anyway; no ONNX runtime can load that file.
    """
    import onnx

    found = []
    graphs = [onnx.load(str(path), load_external_data=False).graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            standard = node.domain in ("", "ai.onnx", "ai.onnx.ml")
            if standard and not onnx.defs.has(node.op_type, node.domain):
                found.append((node.name, node.op_type))
            for attribute in node.attribute:
                graphs.extend([attribute.g] if attribute.HasField("g") else [])
                graphs.extend(attribute.graphs)
    return found


# ----------------------------------------------------------------------------- reading back


def run_artifact(
    format: str, path: Path, inputs: list[np.ndarray], names: list[str | None]
) -> tuple[list[np.ndarray], str, str]:
    """Run the artifact at `path` with its own runtime on `inputs` (flat, in `model.inputs`
    order, named `names`).

    Returns:
        The outputs, flat in the model's output order, the runtime's name and its version.
    """
    if format == "saved_model":
        return _run_saved_model(path, inputs)
    if format == "onnx":
        return _run_onnx(path, inputs, names)
    return _run_litert(path, inputs, names)


def _run_saved_model(path: Path, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], str, str]:
    import tensorflow as tf

    restored = tf.saved_model.load(str(path))
    serve = restored.serve
    arguments = serve.concrete_functions[0].structured_input_signature[0]
    packed = tf.nest.pack_sequence_as(arguments, [tf.constant(array) for array in inputs])
    outputs = [np.asarray(value) for value in tf.nest.flatten(serve(*packed))]
    return outputs, "tensorflow", tf.__version__


def _run_onnx(
    path: Path, inputs: list[np.ndarray], names: list[str | None]
) -> tuple[list[np.ndarray], str, str]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only; kerasx reports what matters
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    expected = [item.name for item in session.get_inputs()]
    feed = _feed(expected, inputs, names, format="onnx", by_position=True)
    outputs = [np.asarray(value) for value in session.run(None, feed)]
    return outputs, "onnxruntime", onnxruntime.__version__


def _run_litert(
    path: Path, inputs: list[np.ndarray], names: list[str | None]
) -> tuple[list[np.ndarray], str, str]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    expected = list(runner.get_input_details())
    result = runner(**_feed(expected, inputs, names, format="litert", by_position=False))
    outputs = [np.asarray(result[key]) for key in _litert_output_order(list(result))]
    del runner, interpreter
    return outputs, "ai-edge-litert", metadata.version("ai-edge-litert")


def _feed(
    expected: list[str],
    inputs: list[np.ndarray],
    names: list[str | None],
    *,
    format: str,
    by_position: bool,
) -> dict[str, np.ndarray]:
    """Map the flat inputs onto the runtime's input names: by name, else by position."""
    label = LABELS[format]
    if len(expected) != len(inputs):
        raise ExportError(
            f"The {label} artifact takes {len(expected)} input(s) ({expected}), but the model "
            f"takes {len(inputs)}. Received: format={format!r}. Nothing was written.",
            format=format,
        )
    if sorted(expected) == sorted(str(name) for name in names):
        return {str(name): array for name, array in zip(names, inputs)}
    if len(expected) == 1 or by_position:
        return dict(zip(expected, inputs))
    raise ExportError(
        f"kerasx cannot tell which of the {label} artifact's inputs {expected} is which of the "
        f"model's inputs {names}. Received: format={format!r}. Give the model's inputs names "
        "(keras.Input(..., name=...)). Nothing was written.",
        format=format,
    )


def _litert_output_order(keys: list[str]) -> list[str]:
    """LiteRT names a list's outputs `output_0`, `output_1`, ...; a dict's by its keys."""
    numbered = [re.fullmatch(r"output_(\d+)", key) for key in keys]
    if all(numbered):
        return [key for _, key in sorted(zip([int(m.group(1)) for m in numbered if m], keys))]
    return sorted(keys)


# ----------------------------------------------------------------------- explaining failure


_LOCATION = re.compile(r'fused\["(\w+):", "([^"@]+)')
"""A TFLite converter location: the TensorFlow op type and the op's path of name scopes."""
_OP_PATH = re.compile(r"(?<![/\w.-])[\w.-]+(?:/[\w.-]+)+")


def conversion_error(
    error: BaseException, model: Any, format: str, path: str | os.PathLike[str], *, stage: str
) -> ExportError:
    """An `ExportError` that says what failed and, when the text tells, in which layer."""
    text = str(error)
    ops = error.ops if isinstance(error, _UnsupportedOps) else _location_ops(text)
    layer = _layer_of(ops, text, model)
    label = LABELS[format]
    where = f"layer {layer!r}" if layer else "the model"
    if ops:
        kinds = ", ".join(dict.fromkeys(kind for _, kind in ops))
        why = error.why if isinstance(error, _UnsupportedOps) else _why(text, format)
        cause = f"{where} uses the TensorFlow operation(s) {kinds}, {why}"
    else:
        cause = f"{where} failed: {_first_line(text)}"
    if stage == "runtime":
        lead = f"The {label} file was written, but its runtime cannot run it: {cause}."
    else:
        lead = f"Cannot export to {label}: {cause}."
    return ExportError(
        f"{lead} Received: format={format!r}, path={str(path)!r}. Nothing was written. "
        f"{_fix(text, format, layer)}",
        format=format,
        layer=layer,
    )


def _location_ops(text: str) -> list[tuple[str, str]]:
    """(op path, op type) of the converter locations in an error message, once each.

    The calls that lead to an operation (`PartitionedCall`, `StatefulPartitionedCall`) are
    locations too; they are left out.
    """
    found = _LOCATION.findall(text)
    ops = [(path, kind) for kind, path in found if not kind.endswith("PartitionedCall")]
    return list(dict.fromkeys(ops))


def _why(text: str, format: str) -> str:
    if format != "litert":
        return f"which the {LABELS[format]} converter or runtime does not support"
    if _open_batch_loop(text):
        return "which LiteRT's builtin operators cannot run while the batch dimension is open"
    return "which LiteRT's builtin operators do not include"


def _open_batch_loop(text: str) -> bool:
    """Whether a LiteRT conversion failed on a loop (a recurrent layer's) over an open batch."""
    return "element_shape to be static" in text or "Lowering tensor list ops" in text


def _fix(text: str, format: str, layer: str | None) -> str:
    if format == "litert" and _open_batch_loop(text):
        return (
            "Pass batch_size=1 (or the batch size you serve; `--batch-size` on the command "
            "line) to fix the batch dimension, so that LiteRT can run the recurrent layer."
        )
    others = " or ".join(repr(f) for f in FORMATS if f != format)
    if layer:
        return f"Replace or remove that layer, or export as format={others}."
    return f"Export as format={others}, or simplify the model."


def _layer_of(ops: list[tuple[str, str]], text: str, model: Any) -> str | None:
    names = _layer_names(model)
    paths = [path for path, _ in ops] or _OP_PATH.findall(text)
    for path in paths:
        parts = path.split("/")
        for part in reversed(parts[:-1]):  # the last part is the operation itself
            base = re.sub(r"_\d+$", "", part)
            for candidate in (part, base):
                if candidate in names:
                    return candidate
    return None


def _layer_names(model: Any) -> set[str]:
    """The names of the model's layers, nested models' layers included (not the model's)."""
    names: set[str] = set()
    pending = list(getattr(model, "layers", []))
    while pending:
        layer = pending.pop()
        names.add(layer.name)
        pending.extend(getattr(layer, "layers", []))
    return names


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return "(no message)"
