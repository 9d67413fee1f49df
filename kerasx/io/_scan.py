"""The pre-load safety scan: find everything in a model configuration that could run code.

The scan reads plain JSON (a `dict` from `config.json`, an HDF5 `model_config` attribute or a
JSON text) and never imports or instantiates anything, so it is safe on malicious files. It
is deliberately strict: a false alarm costs the user `trusted=True`; a miss runs a stranger's
code.

What counts as a finding:

- a `Lambda` layer in any form (Keras 3's `__lambda__` dict, Keras 2's `[code, defaults,
  closure]` list or its marshalled byte code), and Keras 2's `SlicingOpLambda`;
- a Keras 2 `TFOpLambda` unless it calls an op on kerasx's allow-list
  (`kerasx.io._keras2_table.TF_OPS`) with arguments that check out: such a layer is rebuilt
  from the table as a Keras 3 layer, never by calling the op it names; any other is refused,
  with the op's name;
- layers that load or run foreign programs: `TFSMLayer`, `TorchModuleWrapper`, `JaxLayer`,
  `FlaxLayer`;
- a `class_name` that names a function of `keras.layers` rather than a class (`Input`,
  `concatenate`, ...): Keras's legacy reader would call that function with the configuration;
- a serialised function (`class_name: "function"`) outside Keras's activations, losses,
  metrics, initializers and regularizers;
- a `module` outside Keras (except TensorFlow's own initializer classes, which are mapped
  to `keras.initializers` by name);
- a `registered_name` that is neither registered in this process nor in `custom_objects`;
- a string file path in a layer configuration (for example a `StringLookup` vocabulary file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kerasx._compat.file_modules import KERAS_PRIVATE_FUNCTION_MODULES, TF_INITIALIZER_MODULE
from kerasx.io._keras2_ops import tf_op_problem
from kerasx.io._keras2_table import CLASS_ROWS, INITIALIZER_CLASSES

__all__ = [
    "FORBIDDEN_CLASSES",
    "KERASX_REGISTERED_NAMES",
    "LAYER_FUNCTIONS",
    "SAFE_FUNCTION_MODULES",
    "scan_config",
]

FORBIDDEN_CLASSES: dict[str, str] = {
    "Lambda": "a Lambda layer runs Python code stored in the file",
    "__lambda__": "a serialised Python lambda runs code stored in the file",
    "TFOpLambda": "a TFOpLambda layer calls a TensorFlow function named in the file",
    "SlicingOpLambda": "a SlicingOpLambda layer calls a TensorFlow function named in the file",
    "TFSMLayer": "a TFSMLayer loads and runs a TensorFlow SavedModel program",
    "TorchModuleWrapper": "a TorchModuleWrapper unpickles a PyTorch module",
    "JaxLayer": "a JaxLayer runs a JAX function",
    "FlaxLayer": "a FlaxLayer runs a Flax module",
}
"""Class names refused whatever their module, with the reason."""

LAYER_FUNCTIONS = frozenset(
    {
        "Input",
        "add",
        "average",
        "concatenate",
        "deserialize",
        "dot",
        "maximum",
        "minimum",
        "multiply",
        "serialize",
        "subtract",
    }
)
"""The functions in `keras.layers` (Keras 3.12 to 3.15): a `class_name` naming one is refused,
since Keras's legacy reader looks a layer's `class_name` up in that namespace and calls what it
finds with the layer's configuration. Kept as data so the scan imports no Keras;
tests/io/test_io_safety.py checks it against the installed `keras.layers`."""

SAFE_FUNCTION_MODULES: tuple[str, ...] = (
    "keras.activations",
    "keras.losses",
    "keras.metrics",
    "keras.initializers",
    "keras.regularizers",
    *KERAS_PRIVATE_FUNCTION_MODULES,
)
"""Modules a serialised plain function (`class_name: "function"`) may come from."""

_REPLACED_CLASSES = frozenset(row.class_name for row in CLASS_ROWS if row.new_class)
"""Keras 2 classes (the applications' helper layers) that are rebuilt as kerasx's safe layers."""

_PATH_KEYS = frozenset(
    {
        "vocabulary",
        "vocabulary_file",
        "idf_weights",
        "filepath",
        "file_path",
        "filename",
        "path",
        "saved_model",
        "saved_model_dir",
    }
)
_PATH_PATTERN = re.compile(r"^(/|~|\./|\.\./|[A-Za-z]:[\\/]|\\\\)|://")
_NOT_PATH_KEYS = frozenset({"name", "class_name", "registered_name", "module"})


KERASX_REGISTERED_NAMES = frozenset(
    {"kerasx>ResidualBlock", "kerasx>ScaleSum", "kerasx>LayerScale", "kerasx>TensorOp"}
)
"""kerasx's own serialisable classes (in `kerasx.layers._blocks` and `kerasx.layers._keras2`):
as trusted as Keras's own."""


def scan_config(config: Any, allowed_names: Iterable[str] = ()) -> list[str]:
    """Return every unsafe finding in a model, layer, loss or optimizer configuration.

    Args:
        config: the parsed JSON configuration (dicts, lists and scalars).
        allowed_names: names of custom objects the caller vouches for (keys of
            `custom_objects` and names registered with `keras.saving.register_keras_serializable`).
            An object whose `registered_name` or `class_name` is in this set may come from a
            module outside Keras. Defaults to `()`.

    Returns:
        One human-readable line per finding, naming the layer it is in. Empty when safe.
    """
    findings: list[str] = []
    allowed = frozenset(allowed_names) | KERASX_REGISTERED_NAMES
    _walk(config, "<model>", allowed, findings, key=None)
    return findings


def _layer_name(node: dict[str, Any], current: str) -> str:
    inner = node.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("name"), str):
        return inner["name"]
    if isinstance(node.get("name"), str) and "class_name" not in node:
        return node["name"]
    return current


def _walk(
    node: Any, layer: str, allowed: frozenset[str], findings: list[str], key: str | None
) -> None:
    if isinstance(node, dict):
        if "class_name" in node:
            layer = _layer_name(node, layer)
            _check_object(node, layer, allowed, findings)
        for child_key, child in node.items():
            if child_key == "function" and _is_keras2_code(child):
                findings.append(
                    f"layer '{layer}': key 'function' holds Python byte code "
                    "(Keras 2 lambda form [code, defaults, closure])"
                )
                continue
            if child_key == "function_type" and child == "lambda":
                findings.append(f"layer '{layer}': function_type 'lambda' (Keras 2 Lambda layer)")
                continue
            _walk(child, layer, allowed, findings, key=str(child_key))
    elif isinstance(node, list | tuple):
        # Strings inside lists are data (an inline vocabulary), not a path to open.
        for child in node:
            _walk(child, layer, allowed, findings, key=None)
    elif isinstance(node, str) and key is not None:
        _check_string(node, layer, key, findings)


def _check_object(
    node: dict[str, Any], layer: str, allowed: frozenset[str], findings: list[str]
) -> None:
    class_name = node.get("class_name")
    module = node.get("module")
    registered = node.get("registered_name")
    vouched = class_name in allowed or (registered is not None and registered in allowed)
    if class_name in _REPLACED_CLASSES and (module is None or _is_keras_module(str(module))):
        vouched = True  # Keras's own helper layer, replaced by kerasx's safe equivalent
    if class_name == "TFOpLambda" and not _has_code(node):
        problem = tf_op_problem(node)
        if problem is not None:
            findings.append(f"layer '{layer}': TFOpLambda refused: {problem}")
        return
    if module == TF_INITIALIZER_MODULE and class_name in INITIALIZER_CLASSES:
        return
    if isinstance(class_name, str) and class_name in FORBIDDEN_CLASSES:
        findings.append(f"layer '{layer}': {class_name} ({FORBIDDEN_CLASSES[class_name]})")
        return
    if isinstance(class_name, str) and class_name in LAYER_FUNCTIONS and not vouched:
        findings.append(
            f"layer '{layer}': class_name '{class_name}' is not a layer class: "
            f"keras.layers.{class_name} is a function, which Keras's legacy reader would call "
            "with the layer's configuration (name the layer's class instead, for example "
            "'Concatenate' or 'InputLayer')"
        )
        return
    if class_name == "function":
        name = node.get("config")
        if vouched:
            return
        if module not in SAFE_FUNCTION_MODULES:
            findings.append(
                f"layer '{layer}': function '{name}' from module '{module}' "
                "(only Keras activations, losses, metrics, initializers and regularizers "
                "may be named as functions)"
            )
        elif isinstance(name, str) and name in FORBIDDEN_CLASSES:
            findings.append(f"layer '{layer}': function '{name}' ({FORBIDDEN_CLASSES[name]})")
        return
    if isinstance(module, str) and not _is_keras_module(module) and not vouched:
        findings.append(
            f"layer '{layer}': {class_name} from module '{module}', which is outside Keras"
        )
    if registered is not None and not isinstance(registered, str):
        findings.append(f"layer '{layer}': malformed registered_name {registered!r}")
    elif isinstance(registered, str) and registered != class_name and not vouched:
        findings.append(
            f"layer '{layer}': registered_name '{registered}' is not registered in this "
            "process and not in custom_objects"
        )


def _has_code(node: dict[str, Any]) -> bool:
    """Whether a TFOpLambda carries anything beyond what an allow-listed one may hold: a
    configuration key other than its name, dtype and op, or a module or registered name
    other than Keras's own (which Keras 3 would import or look up)."""
    inner = node.get("config")
    allowed = {"name", "trainable", "dtype", "function"}
    module = node.get("module")
    if module is not None and not _is_keras_module(str(module)):
        return True
    if node.get("registered_name") not in (None, "TFOpLambda"):
        return True
    return not isinstance(inner, dict) or bool(set(inner) - allowed)


def _is_keras_module(module: str) -> bool:
    return module == "keras" or module.startswith("keras.")


def _is_keras2_code(value: Any) -> bool:
    """Keras 2 stored a lambda as `[base64 marshal code, defaults, closure]`."""
    return (
        isinstance(value, list | tuple)
        and len(value) == 3
        and isinstance(value[0], str)
        and len(value[0]) > 8
    )


def _check_string(value: str, layer: str, key: str, findings: list[str]) -> None:
    if key in _NOT_PATH_KEYS or not value:
        return
    if key in _PATH_KEYS or _PATH_PATTERN.search(value):
        findings.append(f"layer '{layer}': '{key}' names a file path {value!r}")
