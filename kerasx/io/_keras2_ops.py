"""Keras 2 `TFOpLambda` layers as Keras 3 layers, for the allow-listed ops in `TF_OPS`.

Keras 2 saved a TensorFlow op called on Keras tensors (`x + y`, `tf.nn.relu6(x)`) as a
`TFOpLambda` layer naming the op (`"__operators__.add"`) with the call's arguments in its
inbound node. The op's name is data: kerasx looks it up in the fixed table
`kerasx.io._keras2_table.TF_OPS`, checks every argument, and writes an equivalent Keras 3 layer
(`Add`, `Rescaling`, `ReLU`, `Reshape`, `Permute`, `Concatenate`, or `kerasx>TensorOp` for
the few without a built-in); a number as the first operand (`1 - x`) makes a `Rescaling` of the
tensor. Nothing named in the file is imported or called. `tf_op_problem`
is what the safety scan asks; a layer it objects to is refused, naming the op.
"""

from __future__ import annotations

from typing import Any

from kerasx.errors import SerializationError
from kerasx.io._keras2_table import TF_OPS, OpRow

__all__ = ["tf_op_problem", "translate_tf_op"]

_BINARY_LAYERS = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply"}

_CONSTANT = "_CONSTANT_VALUE"
"""The layer name Keras 2 wrote for a first operand that is a constant, not a tensor: `1 - x`
is stored as `["_CONSTANT_VALUE", -1, 1, {"y": ["x", 0, 0], ...}]`."""


class _Refused(ValueError):
    """The call cannot be rebuilt safely and exactly."""


def tf_op_problem(layer: dict[str, Any]) -> str | None:
    """Why a `TFOpLambda` layer configuration cannot be rebuilt from the table, or None.

    Args:
        layer: the layer's configuration (`class_name`, `config`, `inbound_nodes`).

    Returns:
        None if the op is allow-listed and its arguments check out, else the reason.
    """
    try:
        _rebuilt(layer)
    except _Refused as error:
        return str(error)
    return None


def translate_tf_op(layer: dict[str, Any]) -> dict[str, Any]:
    """The Keras 3 layer configuration (with its inbound node) replacing a `TFOpLambda`.

    Args:
        layer: the Keras 2 `TFOpLambda` layer configuration, as in a Functional model.

    Returns:
        The replacing layer's configuration, under the same name.

    Raises:
        SerializationError: the op is not allow-listed or its arguments do not check out
            (the safety scan refuses such files first, unless `trusted=True`).
    """
    try:
        return _rebuilt(layer)
    except _Refused as error:
        raise SerializationError(
            f"Cannot rebuild the Keras 2 TensorFlow-op layer: {error}. Received: layer "
            f"{_name(layer)!r}. Rebuild the model in code and load its weights."
        ) from error


def _inner(layer: dict[str, Any]) -> dict[str, Any]:
    inner = layer.get("config")
    return inner if isinstance(inner, dict) else {}


def _name(layer: dict[str, Any]) -> Any:
    return _inner(layer).get("name", layer.get("name"))


def _rebuilt(layer: dict[str, Any]) -> dict[str, Any]:
    inner = _inner(layer)
    function = inner.get("function")
    if layer.get("class_name") != "TFOpLambda" or not isinstance(function, str):
        raise _Refused(f"{layer.get('class_name')} calling {function!r} is not translated")
    row = TF_OPS.get(function)
    if row is None:
        raise _Refused(f"the TensorFlow op 'tf.{function}' is not on kerasx's allow-list")
    nodes = layer.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1:
        raise _Refused(f"'tf.{function}' must be called exactly once")
    if _is_constant(nodes[0]):
        target, inbound = _constant_first(row, nodes[0], function)
    else:
        entries, arguments = _entries(nodes[0])
        _check_arguments(row, arguments, function)
        target, inbound = _target(row, entries, arguments, function)
    name = _name(layer)
    config = {"name": name, "trainable": inner.get("trainable", True), **target["config"]}
    if "dtype" in inner:
        config["dtype"] = inner["dtype"]
    return {
        "class_name": target["class_name"],
        "config": config,
        "name": name,
        "inbound_nodes": [inbound],
    }


def _check_arguments(row: OpRow, arguments: dict[str, Any], function: str) -> None:
    """Refuse an argument the row does not list, or a `fixed` one with another value."""
    unknown = sorted(set(arguments) - set(row.arguments))
    if unknown:
        raise _Refused(f"'tf.{function}' called with unexpected arguments {unknown}")
    for key, expected in row.fixed:
        value = arguments.get(key, expected)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != expected:
            raise _Refused(
                f"'tf.{function}' with {key}={value!r}: its Keras 3 equivalent has no "
                f"`{key}`, so only {key}={expected!r} is translated"
            )


def _is_ref(value: Any) -> bool:
    """Whether `value` is `[layer name, node index, tensor index(, arguments)]`."""
    return (
        isinstance(value, list)
        and len(value) in (3, 4)
        and isinstance(value[0], str)
        and value[0] != _CONSTANT
        and isinstance(value[1], int)
        and isinstance(value[2], int)
    )


def _is_constant(value: Any) -> bool:
    """Whether `value` is Keras 2's `["_CONSTANT_VALUE", -1, constant(, arguments)]`."""
    return isinstance(value, list) and len(value) in (3, 4) and value[0] == _CONSTANT


def _entries(node: Any) -> tuple[list[list[Any]], dict[str, Any]]:
    """The tensors a node passes (as references) and its keyword arguments."""
    if _is_ref(node):
        arguments = node[3] if len(node) == 4 else {}
        if not isinstance(arguments, dict):
            raise _Refused("malformed call arguments")
        return [list(node[:3])], dict(arguments)
    if isinstance(node, list) and any(_is_constant(item) for item in node):
        raise _Refused("a constant among several operands is not translated")
    if isinstance(node, list) and node and all(_is_ref(item) for item in node):
        merged: dict[str, Any] = {}
        for item in node:
            extra = item[3] if len(item) == 4 else {}
            if not isinstance(extra, dict) or any(merged.get(k, v) != v for k, v in extra.items()):
                raise _Refused("inconsistent call arguments")
            merged.update(extra)
        return [list(item[:3]) for item in node], merged
    raise _Refused("malformed inbound node")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused(f"{what} must be a number or a tensor, got {value!r}")
    return float(value)


def _ints(value: Any, what: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return list(value)
    raise _Refused(f"{what} must be an int or a list of ints, got {value!r}")


def _layer(class_name: str, **config: Any) -> dict[str, Any]:
    return {"class_name": class_name, "config": config}


def _target(
    row: OpRow, entries: list[list[Any]], arguments: dict[str, Any], function: str
) -> tuple[dict[str, Any], list[Any]]:
    """`(layer configuration, inbound node)` for one allow-listed call."""
    node = [[*entry, {}] for entry in entries]
    if row.kind == "concat":
        axis = arguments.get("axis", 0)
        if len(entries) < 2 or not isinstance(axis, int) or axis == 0:
            raise _Refused(f"'tf.{function}' needs two or more tensors and a non-batch axis")
        return _layer("Concatenate", axis=axis), node
    if len(entries) != 1:
        raise _Refused(f"'tf.{function}' takes one tensor, got {len(entries)}")
    if row.kind == "binary":
        return _binary(row.target, arguments, node, function)
    if row.kind == "unary":
        return dict(row.target, config=dict(row.target["config"])), node
    if row.kind == "reduce":
        axis = arguments.get("axis")
        keepdims = arguments.get("keepdims", False)
        if axis is None or 0 in _ints(axis, "axis") or not isinstance(keepdims, bool):
            raise _Refused(f"'tf.{function}' must keep the batch axis")
        return _layer("kerasx>TensorOp", op=row.target, axis=axis, keepdims=keepdims), node
    if row.kind == "reshape":
        shape = _ints(arguments.get("shape"), "shape")
        if not shape or shape[0] != -1:
            raise _Refused(f"'tf.{function}' must keep the batch axis (shape [-1, ...])")
        return _layer("Reshape", target_shape=shape[1:]), node
    perm = _ints(arguments.get("perm"), "perm")
    if not perm or perm[0] != 0 or sorted(perm) != list(range(len(perm))):
        raise _Refused(f"'tf.{function}' must keep the batch axis first")
    if arguments.get("conjugate", False) is not False:
        raise _Refused(f"'tf.{function}' with conjugate=True")
    return _layer("Permute", dims=perm[1:]), node


def _binary(
    op: str, arguments: dict[str, Any], node: list[Any], function: str
) -> tuple[dict[str, Any], list[Any]]:
    """`x (op) y`: a merge layer for two tensors, `Rescaling` for a tensor and a number."""
    if "y" not in arguments:
        raise _Refused(f"'tf.{function}' without its second operand")
    y = arguments["y"]
    if _is_ref(y):
        node = [*node, [*list(y[:3]), {}]]
        if op in _BINARY_LAYERS:
            return _layer(_BINARY_LAYERS[op]), node
        return _layer("kerasx>TensorOp", op=op), node
    number = _number(y, "the second operand")
    if op == "divide" and number == 0.0:
        raise _Refused(f"'tf.{function}' divides by zero")
    scale, offset = {
        "add": (1.0, number),
        "subtract": (1.0, -number),
        "multiply": (number, 0.0),
        "divide": (1.0 / number if number else 0.0, 0.0),
    }[op]
    return _layer("Rescaling", scale=scale, offset=offset), node


def _constant_first(row: OpRow, node: list[Any], function: str) -> tuple[dict[str, Any], list[Any]]:
    """`c (op) y` for a number `c` and a tensor `y`: `Rescaling` of `y`."""
    arguments = node[3] if len(node) == 4 else {}
    if not isinstance(arguments, dict):
        raise _Refused("malformed call arguments")
    _check_arguments(row, arguments, function)
    y: Any = arguments.get("y")
    if row.kind != "binary" or not _is_ref(y):
        raise _Refused(f"'tf.{function}' called on the constant {node[2]!r} without a tensor")
    number = _number(node[2], "the first operand")
    if row.target == "divide":
        raise _Refused(f"'tf.{function}' divides the constant {number!r} by a tensor")
    scale, offset = {
        "add": (1.0, number),
        "subtract": (-1.0, number),
        "multiply": (number, 0.0),
    }[row.target]
    return _layer("Rescaling", scale=scale, offset=offset), [[*list(y[:3]), {}]]
