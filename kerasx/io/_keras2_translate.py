"""Translate a Keras 2 model configuration into one Keras 3's legacy reader rebuilds exactly.

Driven by the table in `kerasx.io._keras2_table`; runs after the safety scan, on plain JSON,
and never imports or calls anything the file names. It:

- applies the key rows (drop a key Keras 3 lacks when its value is Keras 2's default, refuse
  it otherwise; rename) and class rows (`ThresholdedReLU` -> `ReLU`, the applications'
  helper layers -> kerasx's safe layers) at every depth: `Bidirectional`, `TimeDistributed`,
  RNN cells, stacked cells and sub-models;
- gives nested Keras 2 layers without a `module` Keras 3's (`keras.layers`), so the new-style
  deserialiser nested layers go through finds them;
- maps TensorFlow's own initializers (`init_ops_v2.Constant`; the module path is in
  `kerasx._compat.file_modules`) to Keras's;
- rebuilds each `TFOpLambda` that calls an allow-listed op as a Keras 3 layer
  (`kerasx.io._keras2_ops`);
- renames layers whose names contain `/` (Keras 3 forbids it): `/` becomes `_`, with `_2`,
  `_3`, ... appended if that name is taken. Weights follow, since legacy weights are matched
  by layer order. The map is returned and logged.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kerasx._compat.file_modules import TF_INITIALIZER_MODULE
from kerasx.errors import SerializationError
from kerasx.io._keras2_ops import translate_tf_op
from kerasx.io._keras2_table import (
    ANY,
    CLASS_ROWS,
    INITIALIZER_CLASSES,
    key_rows_for,
)

__all__ = ["translate_keras2_config"]

logger = logging.getLogger(__name__)

_MODELS = ("Functional", "Model", "Sequential")
_SHOWN = 8
"""How many renames the warning lists by name."""
_NESTED_KEYS = ("layer", "backward_layer", "cell", "cells", "forward_layer")


def translate_keras2_config(config: Any) -> tuple[Any, dict[str, str]]:
    """A Keras 3 readable copy of a Keras 2 model configuration, and the layer renames.

    Args:
        config: the parsed Keras 2 configuration (`{"class_name": ..., "config": ...}`).

    Returns:
        `(translated copy, {old layer name: new name})`; `config` is left unchanged.

    Raises:
        SerializationError: a layer or argument Keras 3 cannot honour (named in the message).
    """
    renames: dict[str, str] = {}
    translated = _object(copy.deepcopy(config), renames, nested=False)
    if renames:
        pairs = list(renames.items())
        shown = ", ".join(f"{old!r} -> {new!r}" for old, new in pairs[:_SHOWN])
        if len(pairs) > _SHOWN:
            shown += f", and {len(pairs) - _SHOWN} more ('/' -> '_')"
        logger.warning(
            "Keras 3 forbids '/' in layer names; renamed %d layer(s): %s", len(renames), shown
        )
    return translated, renames


def _object(node: Any, renames: dict[str, str], nested: bool) -> Any:
    """Translate one `{"class_name", "config"}` object (a model or a layer)."""
    if not isinstance(node, dict) or "class_name" not in node:
        return node
    class_name = node["class_name"]
    inner = node.get("config")
    if class_name in _MODELS and isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        _model(inner, renames)
    elif isinstance(inner, dict):
        node = _layer(node, renames)
    if nested and "module" not in node and "class_name" in node:
        node["module"] = "keras.layers" if node["class_name"] not in _MODELS else "keras"
        node.setdefault("registered_name", None)
    return node


def _layer(node: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """Apply the class and key rows to a layer, then translate what it holds."""
    node = _class_row(node)
    inner = node["config"]
    class_name = node["class_name"]
    for row in key_rows_for(class_name):
        if row.key not in inner:
            continue
        if row.action == "rename":
            inner[row.new_key or row.key] = inner.pop(row.key)
        elif row.action == "batch_to_input_shape":
            shape = inner.pop(row.key)
            if isinstance(shape, list) and shape:
                inner["input_shape"] = shape[1:]
        elif row.action == "drop":
            value = inner.pop(row.key)
            if row.expected != ANY and value != row.expected:
                raise SerializationError(
                    f"Layer {inner.get('name')!r} ({class_name}) sets `{row.key}={value!r}`, "
                    f"which Keras 3 cannot honour ({row.why}). Received: {row.key}={value!r}. "
                    f"Keras 3 supports only {row.key}={row.expected!r}: rebuild the layer."
                )
    for key in _NESTED_KEYS:
        value = inner.get(key)
        if isinstance(value, list):
            inner[key] = [_object(item, renames, nested=True) for item in value]
        elif isinstance(value, dict):
            inner[key] = _object(value, renames, nested=True)
    for key, value in list(inner.items()):
        if key not in _NESTED_KEYS:
            inner[key] = _initializers(value)
    return node


def _class_row(node: dict[str, Any]) -> dict[str, Any]:
    for row in CLASS_ROWS:
        if row.class_name != node["class_name"]:
            continue
        if row.new_class is None:
            raise SerializationError(
                f"Layer {node['config'].get('name')!r} is a Keras 2 {row.class_name}, which "
                f"Keras 3 does not have ({row.why}). Received: class_name={row.class_name!r}. "
                "Rebuild the model in code without it and load the other weights by name."
            )
        node["class_name"] = row.new_class
        node.pop("module", None)
        node.pop("registered_name", None)
        for old, new in row.renamed_keys:
            if old in node["config"]:
                node["config"][new] = node["config"].pop(old)
    return node


def _initializers(value: Any) -> Any:
    """Map TensorFlow's own initializer objects inside a layer argument to Keras's."""
    if isinstance(value, list):
        return [_initializers(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("module") == TF_INITIALIZER_MODULE and value.get("class_name") in (
        INITIALIZER_CLASSES
    ):
        return {
            "module": "keras.initializers",
            "class_name": INITIALIZER_CLASSES[value["class_name"]],
            "config": value.get("config") or {},
            "registered_name": None,
        }
    return {key: _initializers(item) for key, item in value.items()}


def _model(inner: dict[str, Any], renames: dict[str, str]) -> None:
    """Translate a Functional or Sequential configuration's layers in place."""
    local = _new_names(inner["layers"])
    renames.update({old: new for old, new in local.items() if old not in renames})
    layers = []
    for layer in inner["layers"]:
        if local:
            _rename_layer(layer, local)
        if layer.get("class_name") in ("TFOpLambda", "SlicingOpLambda"):
            layer = translate_tf_op(layer)
        layers.append(_object(layer, renames, nested=False))
    inner["layers"] = layers
    if local:
        for key in ("input_layers", "output_layers"):
            if key in inner:
                inner[key] = _renamed_refs(inner[key], local)
    _shift_nested_model_refs(inner)


def _shift_nested_model_refs(inner: dict[str, Any]) -> None:
    """Renumber calls of a nested model that Keras 2 counted from its own first node.

    Keras 2 gave a model built from an input (a `Sequential` with an input, or a functional
    model such as an application base) its own node 0, so the outer model's first call of it
    is node 1; Keras 3 has no such node. A reference past the nodes the file lists for that
    layer shows the offset.
    """
    counts = {
        layer.get("name"): len(layer.get("inbound_nodes") or [])
        for layer in inner["layers"]
        if isinstance(layer, dict) and layer.get("class_name") in _MODELS
    }
    refs: list[list[Any]] = []
    _collect_refs([layer.get("inbound_nodes") for layer in inner["layers"]], refs)
    _collect_refs(inner.get("output_layers"), refs)
    shifted = {
        name
        for name, count in counts.items()
        if any(ref[0] == name and ref[1] >= count for ref in refs)
    }
    for ref in refs:
        if ref[0] in shifted and ref[1] > 0:
            ref[1] -= 1


def _collect_refs(node: Any, found: list[list[Any]]) -> None:
    """Every `[layer name, node index, tensor index, ...]` list at any depth, in place."""
    if isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            found.append(node)
            for item in node[3:]:
                _collect_refs(item, found)
            return
        for item in node:
            _collect_refs(item, found)
    elif isinstance(node, dict):
        for value in node.values():
            _collect_refs(value, found)


def _layer_name(layer: dict[str, Any]) -> Any:
    inner = layer.get("config")
    if isinstance(inner, dict) and "name" in inner:
        return inner["name"]
    return layer.get("name")


def _new_names(layers: list[Any]) -> dict[str, str]:
    """`{old: new}` for the names containing `/`, collision-free and in layer order."""
    taken = {_layer_name(layer) for layer in layers if isinstance(layer, dict)}
    renames: dict[str, str] = {}
    for layer in layers:
        name = _layer_name(layer) if isinstance(layer, dict) else None
        if not isinstance(name, str) or "/" not in name or name in renames:
            continue
        base = name.replace("/", "_")
        candidate, suffix = base, 2
        while candidate in taken:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        renames[name] = candidate
    return renames


def _rename_layer(layer: dict[str, Any], renames: dict[str, str]) -> None:
    inner = layer.get("config")
    if isinstance(inner, dict) and inner.get("name") in renames:
        inner["name"] = renames[inner["name"]]
    if layer.get("name") in renames:
        layer["name"] = renames[layer["name"]]
    if "inbound_nodes" in layer:
        layer["inbound_nodes"] = _renamed_refs(layer["inbound_nodes"], renames)


def _renamed_refs(node: Any, renames: dict[str, str]) -> Any:
    """Rename `[layer name, node index, tensor index, ...]` references at any depth."""
    if isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            head = renames.get(node[0], node[0])
            return [head, *(_renamed_refs(item, renames) for item in node[1:])]
        return [_renamed_refs(item, renames) for item in node]
    if isinstance(node, dict):
        return {key: _renamed_refs(value, renames) for key, value in node.items()}
    return node
