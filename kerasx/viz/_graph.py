"""Read a Keras model into a plain graph: one node per layer, one edge per connection.

Both diagram engines (Graphviz and the built-in matplotlib renderer) and the summary read the
model through this module, so they always show the same layers and the same connections.

- Functional models: every operation of the model, connected along the model's own nodes (a
  layer shared by two branches is one box with several arrows).
- Sequential models: the layers in order, with the `InputLayer` first when the model has one.
- Subclassed models: their graph is Python code, not data; they are drawn as a single box.

With `expand_nested=True` a nested Functional or Sequential model is replaced by its own layers,
and the arrows go to the layers inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kerasx.errors import ConfigurationError
from kerasx.viz._graph_calls import ModelCalls, is_functional, is_sequential, layers_in_order

__all__ = [
    "GraphNode",
    "ModelCalls",
    "ModelGraph",
    "build_if_needed",
    "count_weights",
    "format_shape",
    "is_built",
    "is_nested_model",
    "layer_output_shape",
    "model_graph",
]


@dataclass
class GraphNode:
    """One box of a diagram: a layer (or a whole nested model when it is not expanded)."""

    id: str
    name: str
    class_name: str
    output_shape: str
    dtype: str
    params: int
    trainable: bool
    depth: int = 0


@dataclass
class ModelGraph:
    """The boxes and arrows of a model, in the model's own layer order."""

    name: str
    class_name: str
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add_edge(self, source: str, target: str) -> None:
        """Add the arrow `source -> target` once (repeated connections are drawn once)."""
        if source != target and (source, target) not in self.edges:
            self.edges.append((source, target))


def is_nested_model(layer: Any) -> bool:
    """Whether `layer` is a Functional or Sequential model (one `expand_nested` opens)."""
    return is_functional(layer) or is_sequential(layer)


def count_weights(variables: Any) -> int:
    """The number of scalars in a list of Keras variables, each variable counted once."""
    seen: set[int] = set()
    total = 0
    for variable in variables:
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        total += math.prod(int(d) for d in variable.shape)
    return total


def is_built(model: Any) -> bool:
    """Whether a model and all its layers are built (have their weights and shapes)."""
    if not getattr(model, "built", False):
        return False
    if is_nested_model(model):
        return True
    # A subclassed model marked built by `build()` without running `call` has unbuilt layers.
    return all(getattr(layer, "built", True) for layer in getattr(model, "layers", []))


def build_if_needed(model: Any, input_shape: Any = None) -> None:
    """Build `model` from `input_shape` when needed; raise a clear error when that is impossible.

    Sequential models are built with `model.build((None, *input_shape))`. Other models (for
    example subclassed ones, whose `build()` cannot know their layers) are called once on a
    batch of one zero sample, which builds every layer.

    Args:
        model: a Keras model.
        input_shape: the shape of one sample without the batch dimension, e.g. `(28, 28, 1)`,
            or a list of such shapes for a model with several inputs. Defaults to `None`.

    Raises:
        ConfigurationError: the model is not built and `input_shape` is missing or does not fit.
    """
    if is_built(model):
        return
    name = getattr(model, "name", type(model).__name__)
    if input_shape is None:
        raise ConfigurationError(
            f"Model {name!r} ({type(model).__name__}) is not built yet, so its layers have no "
            "weights or shapes to show. Received: input_shape=None. Pass input_shape= (one "
            "sample's shape without the batch dimension, e.g. input_shape=(784,)), or call the "
            "model once on a batch of data before asking for its summary or diagram."
        )
    try:
        shapes = _as_shape_list(input_shape)
        if is_sequential(model) and len(shapes) == 1:
            model.build((None, *shapes[0]))
        else:
            import numpy as np

            arrays = [
                np.zeros((1, *(1 if d is None else int(d) for d in shape)), dtype="float32")
                for shape in shapes
            ]
            model(arrays[0] if len(arrays) == 1 else arrays)
    except Exception as error:
        raise ConfigurationError(
            f"Could not build model {name!r} from the given input shape. "
            f"Received: input_shape={input_shape!r}. Pass the shape of one sample without the "
            f"batch dimension (a list of shapes for several inputs). Keras said: {error}"
        ) from error


def _as_shape_list(input_shape: Any) -> list[tuple[int | None, ...]]:
    if isinstance(input_shape, int):
        return [(input_shape,)]
    items = list(input_shape)
    if items and all(isinstance(d, int) or d is None for d in items):
        return [tuple(items)]
    return [tuple(shape) for shape in items]


def format_shape(shape: Any) -> str:
    """`(None, 784)` for one shape, `[(None, 3), (None, 2)]` for several, `?` if unknown."""
    if shape is None:
        return "?"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in shape.items()) + "}"
    if isinstance(shape, list) or (
        isinstance(shape, tuple) and shape and not all(_is_dim(d) for d in shape)
    ):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    dims = tuple(None if d is None else int(d) for d in shape)
    return str(dims) if len(dims) != 1 else f"({dims[0]},)"


def _is_dim(value: Any) -> bool:
    return value is None or isinstance(value, int) or type(value).__name__.startswith("int")


def _tensor_shapes(tensors: Any) -> Any:
    from keras import tree

    shapes = [tuple(t.shape) for t in tree.flatten(tensors)]
    return shapes[0] if len(shapes) == 1 else shapes


def layer_output_shape(layer: Any, calls: ModelCalls | None = None) -> str:
    """The output shape of `layer` as text, read from the model graph or the build shapes.

    Args:
        layer: a layer of the model.
        calls: the calls in the model's graph (`ModelCalls(model)`), or None to read all the
            layer's calls. Defaults to `None`.

    Returns:
        `"(None, 10)"`, `"multiple"` when the layer's calls give different shapes, or `"?"`.
    """
    found = calls.of(layer) if calls is not None else []
    if not found:
        found = ModelCalls().of(layer)
    shapes = []
    for call in found:
        outputs = list(call.output_shapes)
        text = format_shape(outputs[0] if len(outputs) == 1 else outputs)
        if text not in shapes:
            shapes.append(text)
    if len(shapes) == 1:
        return shapes[0]
    if len(shapes) > 1:
        return "multiple"
    return _shape_from_build(layer)


def _shape_from_build(layer: Any) -> str:
    """Output shape of a layer of a subclassed model, from the shape it was built with."""
    try:
        build_config = layer.get_build_config() or {}
    except Exception:
        return "?"
    input_shape = build_config.get("input_shape")
    if input_shape is None:
        return "?"
    input_shape = tuple(input_shape)
    try:
        shape = layer.compute_output_shape(input_shape)
    except Exception:
        try:
            import keras

            spec = layer.compute_output_spec(keras.KerasTensor((None, *input_shape[1:])))
            shape = _tensor_shapes(spec)
        except Exception:
            return "?"
    return format_shape(_unbatched(shape))


def _unbatched(shape: Any) -> Any:
    """Replace the batch size of a build shape (the model may have been built on 1 sample)."""
    if isinstance(shape, tuple) and shape and all(_is_dim(d) for d in shape):
        return (None, *shape[1:])
    if isinstance(shape, list | tuple):
        return [_unbatched(s) for s in shape]
    return shape


def _layer_dtype(layer: Any, calls: ModelCalls) -> str:
    for call in calls.of(layer):
        dtypes = sorted(set(call.output_dtypes))
        if dtypes:
            return ", ".join(dtypes)
    return str(getattr(layer, "compute_dtype", None) or getattr(layer, "dtype", "?"))


def _describe(layer: Any, calls: ModelCalls, node_id: str, name: str, depth: int) -> GraphNode:
    return GraphNode(
        id=node_id,
        name=name,
        class_name=type(layer).__name__,
        output_shape=layer_output_shape(layer, calls),
        dtype=_layer_dtype(layer, calls),
        params=count_weights(getattr(layer, "weights", [])),
        trainable=bool(getattr(layer, "trainable", False)),
        depth=depth,
    )


def _describe_input(tensor: Any, node_id: str, name: str, depth: int) -> GraphNode:
    """The box of a Sequential model's input, from its input tensor (the public path)."""
    return GraphNode(
        id=node_id,
        name=name,
        class_name="InputLayer",
        output_shape=format_shape(tuple(tensor.shape)),
        dtype=str(tensor.dtype),
        params=0,
        trainable=True,
        depth=depth,
    )


def model_graph(model: Any, *, expand_nested: bool = False) -> ModelGraph:
    """Read `model` into a `ModelGraph`.

    Args:
        model: a built Keras model.
        expand_nested: replace nested Functional and Sequential models by their layers.
            Defaults to `False`.

    Returns:
        The graph: nodes in the model's layer order, and the connections between them.
    """
    graph = ModelGraph(name=model.name, class_name=type(model).__name__)
    _add_model(graph, model, prefix="", expand_nested=expand_nested, depth=0)
    return graph


def _add_model(
    graph: ModelGraph, model: Any, *, prefix: str, expand_nested: bool, depth: int
) -> tuple[list[str], list[str]]:
    """Add the layers of `model` to `graph`; return the node ids of its entries and exits."""
    if is_sequential(model):
        return _add_sequential(graph, model, prefix, expand_nested, depth)
    if is_functional(model):
        return _add_functional(graph, model, prefix, expand_nested, depth)
    node_id = f"{prefix}{id(model)}"
    name = prefix_name(prefix, model.name)
    graph.nodes.append(_describe(model, ModelCalls(), node_id, name, depth))
    return [node_id], [node_id]


def prefix_name(prefix: str, name: str) -> str:
    """`outer/inner` names for layers of an expanded nested model."""
    return f"{prefix.rstrip(':').replace(':', '/')}/{name}" if prefix else name


def _add_child(
    graph: ModelGraph,
    layer: Any,
    calls: ModelCalls,
    prefix: str,
    expand_nested: bool,
    depth: int,
) -> tuple[list[str], list[str]]:
    if expand_nested and is_nested_model(layer):
        child_prefix = f"{prefix}{layer.name}:"
        return _add_model(graph, layer, prefix=child_prefix, expand_nested=True, depth=depth + 1)
    node_id = f"{prefix}{id(layer)}"
    graph.nodes.append(_describe(layer, calls, node_id, prefix_name(prefix, layer.name), depth))
    return [node_id], [node_id]


def _add_sequential(
    graph: ModelGraph, model: Any, prefix: str, expand_nested: bool, depth: int
) -> tuple[list[str], list[str]]:
    calls = ModelCalls(model)
    entries: list[str] = []
    previous_exits: list[str] = []
    model_input, layers = layers_in_order(model)
    if model_input is not None:
        input_name, input_tensor = model_input
        node_id = f"{prefix}{id(input_tensor)}"
        name = prefix_name(prefix, input_name)
        graph.nodes.append(_describe_input(input_tensor, node_id, name, depth))
        entries = previous_exits = [node_id]
    for layer in layers:
        layer_entries, layer_exits = _add_child(graph, layer, calls, prefix, expand_nested, depth)
        if not entries:
            entries = layer_entries
        for source in previous_exits[:1]:
            graph.add_edge(source, layer_entries[0])
        previous_exits = layer_exits
    return entries, previous_exits


def _add_functional(
    graph: ModelGraph, model: Any, prefix: str, expand_nested: bool, depth: int
) -> tuple[list[str], list[str]]:
    calls = ModelCalls(model)
    ports: dict[int, tuple[list[str], list[str]]] = {}
    for operation in model.operations:
        ports[id(operation)] = _add_child(graph, operation, calls, prefix, expand_nested, depth)
    for operation in model.operations:
        target_entries = ports[id(operation)][0]
        for call in calls.of(operation):
            for input_index, (source, tensor_index) in enumerate(call.sources):
                if source is None or id(source) not in ports:
                    continue
                source_exits = ports[id(source)][1]
                source_id = source_exits[min(tensor_index, len(source_exits) - 1)]
                target_id = target_entries[min(input_index, len(target_entries) - 1)]
                graph.add_edge(source_id, target_id)
    entries = [ports[id(op)][0][0] for op, _ in calls.inputs if id(op) in ports]
    exits = [_exit(ports[id(op)][1], index) for op, index in calls.outputs if id(op) in ports]
    return entries, exits


def _exit(ids: list[str], tensor_index: int) -> str:
    return ids[min(tensor_index, len(ids) - 1)]
