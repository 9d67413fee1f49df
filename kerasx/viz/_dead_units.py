"""Dead ReLU units: units that provably output 0 for every input, from weights and configuration.

A unit `j` of a ReLU layer computes `relu(sum_i w_ij * x_i + b_j)`. When every input `x_i` is
`>= 0` and every `w_ij <= 0` and `b_j <= 0`, the sum is `<= 0` for every possible input, so the
unit outputs 0 forever and gets no gradient: it is dead. This is decided only when the inputs
are provably non-negative from the model's configuration: the layer's inputs come from layers
whose activation is `relu`, `relu6`, `sigmoid`, `hard_sigmoid`, `softmax`, `softplus` or
`exponential` (or a `ReLU`/`Softmax` layer), possibly through layers that keep signs
(`Flatten`, `Reshape`, `Dropout`, max/average pooling, padding, cropping, `Concatenate`, `Add`,
...). A layer fed by the model's `Input` is undecidable (the data may be negative), and so is
everything in a nested or subclassed model.

Only plain JSON configurations are read here, so this works on a configuration read from a
file without building anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import numpy as np

__all__ = ["dead_fraction", "relu_layers_with_nonnegative_inputs"]

_KERNEL_LAYERS = frozenset({"Dense", "Conv1D", "Conv2D", "Conv3D"})

_NONNEGATIVE_ACTIVATIONS = frozenset(
    {"relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "softplus", "exponential"}
)

_SIGN_PRESERVING_LAYERS = frozenset(
    {
        "Flatten",
        "Reshape",
        "Permute",
        "RepeatVector",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "AlphaDropout",
        "ActivityRegularization",
        "Identity",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "GlobalMaxPooling3D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalAveragePooling3D",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "ZeroPadding3D",
        "Cropping1D",
        "Cropping2D",
        "Cropping3D",
        "UpSampling1D",
        "UpSampling2D",
        "UpSampling3D",
        "Concatenate",
        "Add",
        "Multiply",
        "Maximum",
        "Minimum",
        "Average",
    }
)
"""Layers whose output is non-negative whenever all their inputs are."""


def dead_fraction(kernel: np.ndarray, bias: np.ndarray | None) -> float | None:
    """Fraction of output units whose weights and bias are all `<= 0` (last kernel axis = units).

    Args:
        kernel: the layer's kernel; its last axis indexes the output units.
        bias: the layer's bias, or None.

    Returns:
        The fraction, or None when it means nothing: NaN or Inf weights (every unit's output is
        NaN then), a kernel of rank < 2 or without units, or a bias of another length.
    """
    import numpy as np

    if kernel.ndim < 2 or kernel.shape[-1] == 0:
        return None
    if not np.isfinite(kernel).all() or (bias is not None and not np.isfinite(bias).all()):
        return None
    units = kernel.shape[-1]
    never_positive = np.all(kernel.reshape(-1, units) <= 0, axis=0)
    if bias is not None:
        if bias.shape != (units,):
            return None
        never_positive &= bias <= 0
    return float(np.count_nonzero(never_positive)) / units


def relu_layers_with_nonnegative_inputs(config: Any) -> set[str]:
    """Names of top-level ReLU kernel layers whose inputs are provably `>= 0`.

    Args:
        config: the model's configuration (`model.get_config()`, or the `"config"` entry of a
            saved `config.json`); anything else gives an empty set.

    Returns:
        A set of layer names; layers not in it are undecidable or not ReLU kernel layers.
    """
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return set()
    graph = _layer_graph(config["layers"])
    if graph is None:
        return set()
    info, parents = graph
    memo: dict[str, bool] = {}
    decided = set()
    for name, (class_name, layer_config) in info.items():
        if class_name not in _KERNEL_LAYERS:
            continue
        if _activation_name(layer_config.get("activation")) != "relu":
            continue
        sources = parents.get(name, [])
        if sources and all(_output_nonnegative(s, info, parents, memo) for s in sources):
            decided.add(name)
    return decided


_Info = dict[str, tuple[str, dict[str, Any]]]


def _layer_graph(layers: list[Any]) -> tuple[_Info, dict[str, list[str]]] | None:
    """Layer name -> (class name, config), and layer name -> the layers it reads from."""
    info: _Info = {}
    parents: dict[str, list[str]] = {}
    previous: str | None = None
    for entry in (e for e in layers if isinstance(e, dict)):
        raw_config = entry.get("config")
        layer_config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        name = entry.get("name") or layer_config.get("name")
        if not isinstance(name, str):
            return None
        info[name] = (str(entry.get("class_name")), layer_config)
        if "inbound_nodes" in entry:
            parents[name] = list(_tensor_sources(entry["inbound_nodes"]))
        else:  # Sequential: each layer reads the previous one
            parents[name] = [previous] if previous is not None else []
        previous = name
    return info, parents


def _output_nonnegative(
    name: str,
    info: _Info,
    parents: dict[str, list[str]],
    memo: dict[str, bool],
    depth: int = 0,
) -> bool:
    if name in memo:
        return memo[name]
    memo[name] = False  # guards against cycles in a malformed file
    if name not in info or depth > 1000:
        return False
    class_name, layer_config = info[name]
    result = False
    if class_name in ("ReLU", "Softmax"):
        slope = layer_config.get("negative_slope", 0.0) or 0.0
        threshold = layer_config.get("threshold", 0.0) or 0.0
        result = class_name == "Softmax" or (slope == 0 and threshold >= 0)
    elif "activation" in layer_config and class_name not in _SIGN_PRESERVING_LAYERS:
        result = _activation_name(layer_config["activation"]) in _NONNEGATIVE_ACTIVATIONS
    elif class_name in _SIGN_PRESERVING_LAYERS:
        sources = parents.get(name, [])
        result = bool(sources) and all(
            _output_nonnegative(s, info, parents, memo, depth + 1) for s in sources
        )
    memo[name] = result
    return result


def _activation_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        config = value.get("config")
        if isinstance(config, str):
            return config
        if isinstance(config, dict) and isinstance(config.get("name"), str):
            return str(config["name"])
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) else None


def _tensor_sources(node: Any) -> Iterator[str]:
    """Names of the layers a serialized functional inbound node reads from."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            history = node.get("config", {}).get("keras_history")
            if isinstance(history, (list, tuple)) and history and isinstance(history[0], str):
                yield history[0]
            return
        for value in node.values():
            yield from _tensor_sources(value)
    elif isinstance(node, (list, tuple)):
        # Keras 2 style: [["dense", 0, 0, {}], ...]
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            yield node[0]
            return
        for value in node:
            yield from _tensor_sources(value)
