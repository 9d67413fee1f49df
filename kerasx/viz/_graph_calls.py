"""The calls of every layer inside one model: who feeds whom, and the shapes that flow.

Two readers give the same answer for layers called once:

- Keras's live layer graph (`kerasx._compat.graph`, the fast path `live_model_graph`), which
  also knows every call of a shared layer;
- on the public path, the model's own configuration (`model.get_config()`: each layer's
  inbound calls name the layer, call and output that made each input tensor, with its shape),
  and where that has no graph (a subclassed Functional model), the layers' public `input` and
  `output`, which give each layer's first call.
"""

from __future__ import annotations

from typing import Any

from kerasx._compat import fast_path_enabled
from kerasx._compat.graph import (
    LIVE_MODEL_GRAPH,
    LayerCall,
    layer_calls,
    sequence_layers,
    tensor_origin,
)

__all__ = ["LayerCall", "ModelCalls", "is_functional", "is_sequential", "layers_in_order"]


def is_functional(model: Any) -> bool:
    """Whether `model` is a Functional model (built from `keras.Input` tensors)."""
    import keras

    return isinstance(model, keras.Model) and isinstance(model, keras.Function)


def is_sequential(model: Any) -> bool:
    """Whether `model` is a `keras.Sequential`."""
    import keras

    return isinstance(model, keras.Sequential)


def layers_in_order(model: Any) -> tuple[tuple[str, Any] | None, list[Any]]:
    """A Sequential model's `(input, layers)`.

    On the fast path the `InputLayer` itself leads the layers and `input` is None. The public
    path cannot reach the `InputLayer`, so `input` stands for it: `(name, tensor)`, the name
    from the model's configuration and the model's input tensor, or None without an input.
    """
    if fast_path_enabled(LIVE_MODEL_GRAPH):
        return None, sequence_layers(model)
    try:
        inputs = _flat_inputs(model)
    except (AttributeError, ValueError):
        inputs = []
    if len(inputs) != 1:
        return None, list(model.layers)
    return (_input_layer_name(model) or inputs[0].name, inputs[0]), list(model.layers)


def _flat_inputs(model: Any) -> list[Any]:
    """The model's input tensors, flattened (`model.inputs` may be a dict or nested)."""
    import keras

    return list(keras.tree.flatten(model.inputs))


def _input_layer_name(model: Any) -> str | None:
    """The name of a Sequential model's `InputLayer`, from its configuration, or None."""
    try:
        entries = model.get_config().get("layers") or []
    except Exception:  # a layer that cannot serialise itself: the tensor's name will do
        return None
    first = entries[0] if entries else {}
    if isinstance(first, dict) and first.get("class_name") == "InputLayer":
        name = (first.get("config") or {}).get("name")
        return name if isinstance(name, str) else None
    return None


class ModelCalls:
    """Every call of every operation in `owner`'s graph, read once.

    Attributes:
        inputs: `(operation, index)` of each of the model's input tensors (Functional only).
        outputs: `(operation, index)` of each of the model's output tensors (Functional only).
    """

    def __init__(self, owner: Any = None) -> None:
        self._owner = owner
        self._live = fast_path_enabled(LIVE_MODEL_GRAPH)
        self._calls: dict[int, list[LayerCall]] = {}
        self.inputs: list[tuple[Any, int]] = []
        self.outputs: list[tuple[Any, int]] = []
        if owner is not None and is_functional(owner):
            if self._live:
                self._read_live(owner)
            elif not _read_config(self, owner):
                _read_first_calls(self, owner)

    def of(self, operation: Any) -> list[LayerCall]:
        """The calls of `operation` in the owner's graph (all its calls when there is no owner;
        on the public path, outside a Functional owner, its first call)."""
        calls = self._calls.get(id(operation))
        if calls is None:
            calls = layer_calls(operation, self._owner) if self._live else _first_call(operation)
            self._calls[id(operation)] = calls
        return calls

    def record(self, operation: Any, calls: list[LayerCall]) -> None:
        """Set the calls of `operation` (the public readers fill the table this way)."""
        self._calls[id(operation)] = calls

    def _read_live(self, owner: Any) -> None:
        import keras

        for operation in owner.operations:
            self.record(operation, layer_calls(operation, owner))
        self.inputs = [tensor_origin(t) for t in keras.tree.flatten(owner.inputs)]
        self.outputs = [tensor_origin(t) for t in keras.tree.flatten(owner.outputs)]


# --------------------------------------------------------------------------------------------
# The public path


def _shapes_and_dtypes(tensors: Any) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    import keras

    flat = keras.tree.flatten(tensors)
    return tuple(tuple(t.shape) for t in flat), tuple(str(t.dtype) for t in flat)


def _first_call(operation: Any) -> list[LayerCall]:
    """The first call of `operation`, from its public `output`; none if it was never called."""
    try:
        output = operation.output
    except (AttributeError, ValueError, IndexError):
        return []
    shapes, dtypes = _shapes_and_dtypes(output)
    return [LayerCall(sources=(), output_shapes=shapes, output_dtypes=dtypes)]


def _tensors(node: Any) -> list[tuple[tuple[str, int, int], dict[str, Any]]]:
    """`((layer, call, output), tensor config)` of every tensor a serialised call names, in
    the order Keras flattens them (lists in order, dicts by sorted key)."""
    if isinstance(node, dict):
        if node.get("class_name") != "__keras_tensor__":
            return [found for key in sorted(node) for found in _tensors(node[key])]
        config = node.get("config") or {}
        history = config.get("keras_history")
        if isinstance(history, list | tuple) and len(history) == 3:
            return [((str(history[0]), int(history[1]), int(history[2])), config)]
        return []
    if isinstance(node, list | tuple):
        return [found for item in node for found in _tensors(item)]
    return []


def _endpoints(value: Any) -> list[tuple[str, int, int]]:
    """`input_layers` / `output_layers` of a Functional config: one `[name, call, output]`,
    or a list or dict of them."""
    if isinstance(value, list | tuple) and len(value) == 3 and isinstance(value[0], str):
        return [(value[0], int(value[1]), int(value[2]))]
    if isinstance(value, dict):
        return [e for key in sorted(value) for e in _endpoints(value[key])]
    if isinstance(value, list | tuple):
        return [e for item in value for e in _endpoints(item)]
    return []


def _read_config(calls: ModelCalls, model: Any) -> bool:
    """Fill `calls` from `model.get_config()`; False when the configuration has no graph."""
    import keras

    try:
        config = model.get_config()
    except Exception:  # a layer that cannot serialise itself: use the first calls instead
        return False
    entries = config.get("layers") if isinstance(config, dict) else None
    operations = list(model.operations)
    if not isinstance(entries, list) or len(entries) != len(operations):
        return False
    if any(entry.get("name") != op.name for entry, op in zip(entries, operations, strict=True)):
        return False
    by_name = {op.name: op for op in operations}
    produced: dict[tuple[str, int], dict[int, tuple[Any, str]]] = {}
    inbound: dict[str, list[list[tuple[str, int, int]]]] = {}
    for entry in entries:
        inbound[entry["name"]] = []
        for node in entry.get("inbound_nodes") or []:
            tensors = _tensors(node)
            inbound[entry["name"]].append([history for history, _ in tensors])
            for (name, call, index), tensor in tensors:
                shape = tuple(tensor.get("shape") or ())
                produced.setdefault((name, call), {})[index] = (shape, str(tensor.get("dtype")))
    ends = _endpoints(config.get("output_layers"))
    calls.outputs = _located(ends, by_name)
    calls.inputs = _located(_endpoints(config.get("input_layers")), by_name)
    for (name, call, index), tensor in zip(ends, keras.tree.flatten(model.outputs), strict=False):
        produced.setdefault((name, call), {})[index] = (tuple(tensor.shape), str(tensor.dtype))
    for op in operations:
        nodes = inbound[op.name] or ([[]] if (op.name, 0) in produced else [])
        made = [
            _config_call(node, produced.get((op.name, i), {}), by_name)
            for i, node in enumerate(nodes)
        ]
        calls.record(op, made)
    return True


def _located(ends: list[tuple[str, int, int]], by_name: dict[str, Any]) -> list[tuple[Any, int]]:
    return [(by_name[name], index) for name, _, index in ends if name in by_name]


def _config_call(
    histories: list[tuple[str, int, int]],
    outputs: dict[int, tuple[Any, str]],
    by_name: dict[str, Any],
) -> LayerCall:
    ordered = [outputs[index] for index in sorted(outputs)]
    return LayerCall(
        sources=tuple((by_name[name], index) for name, _, index in histories if name in by_name),
        output_shapes=tuple(shape for shape, _ in ordered),
        output_dtypes=tuple(dtype for _, dtype in ordered),
    )


def _read_first_calls(calls: ModelCalls, model: Any) -> None:
    """Fill `calls` from each operation's public `input` and `output` (its first call)."""
    import keras

    made_by: dict[int, tuple[Any, int]] = {}
    for op in model.operations:
        if _first_call(op):
            for index, tensor in enumerate(keras.tree.flatten(op.output)):
                made_by[id(tensor)] = (op, index)
    for op in model.operations:
        first = _first_call(op)
        if not first:
            calls.record(op, [])
            continue
        try:
            inputs = keras.tree.flatten(op.input)
        except (AttributeError, ValueError, IndexError):
            inputs = []
        sources = tuple(made_by[id(t)] for t in inputs if id(t) in made_by)
        calls.record(op, [LayerCall(sources, first[0].output_shapes, first[0].output_dtypes)])
    calls.inputs = [made_by[id(t)] for t in keras.tree.flatten(model.inputs) if id(t) in made_by]
    calls.outputs = [made_by[id(t)] for t in keras.tree.flatten(model.outputs) if id(t) in made_by]
