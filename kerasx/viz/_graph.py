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

__all__ = [
    "GraphNode",
    "ModelGraph",
    "build_if_needed",
    "count_weights",
    "format_shape",
    "is_built",
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


def _model_kinds() -> tuple[Any, Any]:
    from keras.src.models.functional import Functional
    from keras.src.models.sequential import Sequential

    return Functional, Sequential


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
    Functional, Sequential = _model_kinds()
    if isinstance(model, Functional | Sequential):
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
    Sequential: Any
    _, Sequential = _model_kinds()
    try:
        shapes = _as_shape_list(input_shape)
        if isinstance(model, Sequential) and len(shapes) == 1:
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


def _owning_nodes(layer: Any, owner: Any) -> list[Any]:
    """The Keras nodes (calls) of `layer` that belong to `owner`'s graph."""
    from keras.src.ops.function import make_node_key

    nodes = list(getattr(layer, "_inbound_nodes", []))
    graph_nodes = getattr(owner, "_nodes", None)
    if graph_nodes is None:
        functional = getattr(owner, "_functional", None)
        graph_nodes = getattr(functional, "_nodes", None)
    if graph_nodes is None:
        return nodes
    return [n for i, n in enumerate(nodes) if make_node_key(layer, i) in graph_nodes]


def _tensor_shapes(tensors: Any) -> Any:
    from keras import tree

    shapes = [tuple(t.shape) for t in tree.flatten(tensors)]
    return shapes[0] if len(shapes) == 1 else shapes


def layer_output_shape(layer: Any, owner: Any = None) -> str:
    """The output shape of `layer` as text, read from the model graph or the build shapes."""
    nodes = _owning_nodes(layer, owner) if owner is not None else []
    if not nodes:
        nodes = list(getattr(layer, "_inbound_nodes", []))
    shapes = []
    for node in nodes:
        text = format_shape(_tensor_shapes(node.outputs))
        if text not in shapes:
            shapes.append(text)
    if len(shapes) == 1:
        return shapes[0]
    if len(shapes) > 1:
        return "multiple"
    return _shape_from_build(layer)


def _shape_from_build(layer: Any) -> str:
    """Output shape of a layer of a subclassed model, from the shape it was built with."""
    build_shapes = getattr(layer, "_build_shapes_dict", None)
    if not build_shapes or len(build_shapes) != 1:
        return "?"
    (input_shape,) = build_shapes.values()
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


def _layer_dtype(layer: Any, owner: Any) -> str:
    from keras import tree

    for node in _owning_nodes(layer, owner):
        dtypes = sorted({str(t.dtype) for t in tree.flatten(node.outputs)})
        if dtypes:
            return ", ".join(dtypes)
    return str(getattr(layer, "compute_dtype", None) or getattr(layer, "dtype", "?"))


def _describe(layer: Any, owner: Any, node_id: str, name: str, depth: int) -> GraphNode:
    return GraphNode(
        id=node_id,
        name=name,
        class_name=type(layer).__name__,
        output_shape=layer_output_shape(layer, owner),
        dtype=_layer_dtype(layer, owner),
        params=count_weights(getattr(layer, "weights", [])),
        trainable=bool(getattr(layer, "trainable", False)),
        depth=depth,
    )


def _sequence_layers(model: Any) -> list[Any]:
    """A Sequential model's layers, with its InputLayer first when it has one."""
    layers = list(getattr(model, "_layers", None) or model.layers)
    return layers


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
    Functional, Sequential = _model_kinds()
    if isinstance(model, Sequential):
        return _add_sequential(graph, model, prefix, expand_nested, depth)
    if isinstance(model, Functional):
        return _add_functional(graph, model, prefix, expand_nested, depth)
    node_id = f"{prefix}{id(model)}"
    graph.nodes.append(_describe(model, None, node_id, prefix_name(prefix, model.name), depth))
    return [node_id], [node_id]


def prefix_name(prefix: str, name: str) -> str:
    """`outer/inner` names for layers of an expanded nested model."""
    return f"{prefix.rstrip(':').replace(':', '/')}/{name}" if prefix else name


def _add_child(
    graph: ModelGraph,
    layer: Any,
    owner: Any,
    prefix: str,
    expand_nested: bool,
    depth: int,
) -> tuple[list[str], list[str]]:
    Functional, Sequential = _model_kinds()
    if expand_nested and isinstance(layer, Functional | Sequential):
        child_prefix = f"{prefix}{layer.name}:"
        return _add_model(graph, layer, prefix=child_prefix, expand_nested=True, depth=depth + 1)
    node_id = f"{prefix}{id(layer)}"
    graph.nodes.append(_describe(layer, owner, node_id, prefix_name(prefix, layer.name), depth))
    return [node_id], [node_id]


def _add_sequential(
    graph: ModelGraph, model: Any, prefix: str, expand_nested: bool, depth: int
) -> tuple[list[str], list[str]]:
    entries: list[str] = []
    previous_exits: list[str] = []
    for layer in _sequence_layers(model):
        layer_entries, layer_exits = _add_child(graph, layer, model, prefix, expand_nested, depth)
        if not entries:
            entries = layer_entries
        for source in previous_exits[:1]:
            graph.add_edge(source, layer_entries[0])
        previous_exits = layer_exits
    return entries, previous_exits


def _add_functional(
    graph: ModelGraph, model: Any, prefix: str, expand_nested: bool, depth: int
) -> tuple[list[str], list[str]]:
    ports: dict[int, tuple[list[str], list[str]]] = {}
    for operation in model.operations:
        ports[id(operation)] = _add_child(graph, operation, model, prefix, expand_nested, depth)
    for operation in model.operations:
        target_entries = ports[id(operation)][0]
        for node in _owning_nodes(operation, model):
            for input_index, tensor in enumerate(node.input_tensors):
                history = tensor._keras_history
                source = history.operation
                if source is None or id(source) not in ports:
                    continue
                source_exits = ports[id(source)][1]
                source_id = source_exits[min(history.tensor_index, len(source_exits) - 1)]
                target_id = target_entries[min(input_index, len(target_entries) - 1)]
                graph.add_edge(source_id, target_id)
    entries = [_port(ports, t, 0) for t in model.inputs]
    exits = [_port(ports, t, 1) for t in model.outputs]
    return entries, exits


def _port(ports: dict[int, tuple[list[str], list[str]]], tensor: Any, side: int) -> str:
    history = tensor._keras_history
    ids = ports[id(history.operation)][side]
    return ids[min(history.tensor_index, len(ids) - 1)] if side else ids[0]
