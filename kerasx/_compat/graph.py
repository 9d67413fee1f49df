"""Keras's live layer graph (private node lists), for kerasx's diagrams and summaries.

A Functional or Sequential model records every call of a layer as a node in the layer's
private `_inbound_nodes`; the model keeps the keys of its own nodes in `_nodes` (a Sequential
in its inner `_functional`), and every symbolic tensor knows the call that made it through
its private `_keras_history`. Reading them gives every call of a shared layer, with the shapes
and dtypes of its outputs. Checked on Keras 3.12.0 and 3.15.1.

This is the fast path `live_model_graph`. `kerasx.viz` reads the graph here only when
`fast_path_enabled(LIVE_MODEL_GRAPH)` is True; otherwise it reads the same connections from
`model.get_config()` and the layers' public `input` / `output`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from kerasx._compat import register_fast_path

__all__ = ["LIVE_MODEL_GRAPH", "LayerCall", "layer_calls", "sequence_layers", "tensor_origin"]


@dataclass(frozen=True)
class LayerCall:
    """One call of an operation (a layer, a nested model, a Keras op) in a model's graph.

    Attributes:
        sources: for each input tensor, in order, `(operation, index)`: the operation whose
            call made it and which of that call's outputs it is.
        output_shapes: the shape of each output tensor, as tuples (`None` for unknown sizes).
        output_dtypes: the dtype name of each output tensor.
    """

    sources: tuple[tuple[Any, int], ...]
    output_shapes: tuple[tuple[int | None, ...], ...]
    output_dtypes: tuple[str, ...]


def _probe() -> bool:
    """Build one `keras.Input` (explicitly named: no automatic name is used up) and check
    that its layer, node and tensor carry the private links read here."""
    import keras

    function = importlib.import_module("keras.src.ops.function")
    tensor = keras.Input((1,), name="kerasx_live_graph_probe")
    history = tensor._keras_history
    layer = history.operation
    node = layer._inbound_nodes[history.node_index]
    return (
        history.tensor_index == 0
        and list(node.input_tensors) == []
        and node.outputs[0] is tensor
        and function.make_node_key(layer, history.node_index) is not None
    )


LIVE_MODEL_GRAPH = register_fast_path(
    "live_model_graph",
    "kerasx reads a model's connections, shapes and dtypes from Keras's live layer graph, "
    "which knows every call of a shared layer; the public path reads them from "
    "`model.get_config()` and each layer's `input` / `output`, the same for layers called once.",
    _probe,
).name


def _own_node_keys(owner: Any) -> Any:
    """The keys of the nodes in `owner`'s graph (`_nodes`; a Sequential's `_functional`)."""
    keys = getattr(owner, "_nodes", None)
    if keys is None:
        keys = getattr(getattr(owner, "_functional", None), "_nodes", None)
    return keys


def _call(node: Any) -> LayerCall:
    import keras

    outputs = keras.tree.flatten(node.outputs)
    return LayerCall(
        sources=tuple(tensor_origin(tensor) for tensor in node.input_tensors),
        output_shapes=tuple(tuple(tensor.shape) for tensor in outputs),
        output_dtypes=tuple(str(tensor.dtype) for tensor in outputs),
    )


def layer_calls(operation: Any, owner: Any = None) -> list[LayerCall]:
    """The calls of `operation` that belong to `owner`'s graph (every call without an owner).

    Reads `operation._inbound_nodes`, `owner._nodes` (or `owner._functional._nodes`),
    `keras.src.ops.function.make_node_key` and each node's `input_tensors` and `outputs`
    (Keras 3.12.0, 3.15.1). An owner without a graph of its own (a subclassed model) gets
    every call.

    Args:
        operation: a layer or operation.
        owner: the model whose graph to read, or None. Defaults to `None`.

    Returns:
        The calls, in the order Keras recorded them.
    """
    nodes = list(getattr(operation, "_inbound_nodes", []))
    keys = _own_node_keys(owner) if owner is not None else None
    if keys is not None:
        make_node_key = importlib.import_module("keras.src.ops.function").make_node_key
        nodes = [node for i, node in enumerate(nodes) if make_node_key(operation, i) in keys]
    return [_call(node) for node in nodes]


def tensor_origin(tensor: Any) -> tuple[Any, int]:
    """`(operation, index)`: the operation whose call made the symbolic `tensor`, and which of
    its outputs `tensor` is (`tensor._keras_history`, Keras 3.12.0 and 3.15.1)."""
    history = tensor._keras_history
    return history.operation, history.tensor_index


def sequence_layers(model: Any) -> list[Any]:
    """A Sequential model's layers with its `InputLayer` first when it has one (`_layers`).

    Checked on Keras 3.12.0 and 3.15.1, where the public `model.layers` leaves the
    `InputLayer` out.
    """
    return list(getattr(model, "_layers", None) or model.layers)
