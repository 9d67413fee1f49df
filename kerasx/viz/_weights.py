"""Weight statistics and histograms, from a live model or straight from a saved file.

`weight_stats(model)` gives one row (a dict) per weight variable:

- `layer`: the layer's name; layers inside a nested `Sequential`/functional model are
  `outer/inner`.
- `variable`: the variable's path below its layer: `kernel`, `bias`, `lstm_cell/kernel`, ...
- `shape` (tuple of ints) and `count` (number of values).
- `mean`, `std`, `min`, `max`: over the finite values (float, or None when there is none).
- `zero_fraction`: fraction of values exactly 0; `nan_count`, `inf_count`: NaN and +-Inf values.
- `dead_fraction`: on the kernel of a `Dense`/`Conv1D`/`Conv2D`/`Conv3D` layer with a ReLU
  activation whose inputs are provably non-negative, the fraction of units that can never
  activate; None otherwise (see below).

Dead units. A unit `j` of a ReLU layer computes `relu(sum_i w_ij * x_i + b_j)`. When every input
`x_i` is `>= 0` and every `w_ij <= 0` and `b_j <= 0`, the sum is `<= 0` for every possible input,
so the unit outputs 0 forever and gets no gradient: it is dead. kerasx decides this only when it
can prove the inputs are non-negative from the model's configuration: the layer's inputs come
from layers whose activation is `relu`, `relu6`, `sigmoid`, `hard_sigmoid`, `softmax`,
`softplus` or `exponential` (or a `ReLU`/`Softmax` layer), possibly through layers that keep
signs (`Flatten`, `Reshape`, `Dropout`, max/average pooling, padding, cropping, `Concatenate`,
`Add`, ...). A layer fed by the model's `Input` is undecidable (the data may be negative), and so
is everything in a nested or subclassed model: `dead_fraction` is None there, on a kernel or
bias holding NaN or Inf, and on every variable that is not such a kernel.

`weight_stats_from_file(path)` reads the same rows from a `.keras` zip, a Keras 3
`.weights.h5` file or a legacy `.h5` file with h5py, without deserialising anything (no layer,
no Lambda, no custom object is built, so a downloaded file can be checked safely). Numbers are
the same as `weight_stats(load(path))`. Names follow these rules:

- legacy `.h5`: the file stores `layer_names` and `weight_names` (`dense/kernel:0`), so layer
  and variable names, and their order, are exact.
- `.keras` and `.weights.h5`: Keras 3 stores variables by position (`layers/dense_1/vars/0`)
  with the real layer name as an attribute. kerasx names the positions for the built-in layers
  it knows (`Dense`, convolutions, normalisations, `Embedding`, recurrent cells, ...; see
  `_KNOWN_VARIABLES`) and calls the others `vars/0`, `vars/1`, ... Layers come in the order of
  `config.json` in a `.keras` file; a bare `.weights.h5` has no configuration, so its layers come
  in the order Keras wrote them, recovered from the file offsets of their data (HDF5 allocates
  raw data sequentially); compare rows by `(layer, variable)` if you need certainty.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kerasx.errors import ConfigurationError, CorruptFileError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import numpy as np
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_MAX_PANELS",
    "STAT_KEYS",
    "format_weight_stats",
    "plot_weights",
    "weight_stats",
    "weight_stats_from_file",
]

STAT_KEYS: tuple[str, ...] = (
    "layer",
    "variable",
    "shape",
    "count",
    "mean",
    "std",
    "min",
    "max",
    "zero_fraction",
    "nan_count",
    "inf_count",
    "dead_fraction",
)
"""The keys of every row, in display order."""

DEFAULT_MAX_PANELS = 24
"""How many histograms `plot_weights` draws at most, unless told otherwise."""

_CHUNK = 1 << 20  # values per chunk: bounds the temporaries of the streaming statistics

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

_CONV_VARIABLES = ("kernel", "bias")
_RECURRENT_VARIABLES = ("kernel", "recurrent_kernel", "bias")
_KNOWN_VARIABLES: dict[str, tuple[str, ...]] = {
    "dense": _CONV_VARIABLES,
    "einsum_dense": _CONV_VARIABLES,
    "conv1d": _CONV_VARIABLES,
    "conv2d": _CONV_VARIABLES,
    "conv3d": _CONV_VARIABLES,
    "conv1d_transpose": _CONV_VARIABLES,
    "conv2d_transpose": _CONV_VARIABLES,
    "conv3d_transpose": _CONV_VARIABLES,
    "depthwise_conv1d": _CONV_VARIABLES,
    "depthwise_conv2d": _CONV_VARIABLES,
    "separable_conv1d": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "separable_conv2d": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "embedding": ("embeddings",),
    "p_re_lu": ("alpha",),
    "lstm_cell": _RECURRENT_VARIABLES,
    "gru_cell": _RECURRENT_VARIABLES,
    "simple_rnn_cell": _RECURRENT_VARIABLES,
}
"""Snake-case class name -> variable names in creation order; trailing ones may be absent
(`use_bias=False`), so a layer with fewer datasets takes the first names."""

_RECURRENT_LAYERS = frozenset({"lstm", "gru", "simple_rnn"})
_NORMALIZATION_LAYERS = frozenset({"batch_normalization", "layer_normalization"})


# --------------------------------------------------------------------------------------------
# Streaming statistics


class Moments:
    """Count, mean, sum of squared deviations, min, max, zeros, NaN and Inf of a stream of values.

    Chunks are merged with Chan et al.'s parallel formula, so one pass over the values gives a
    numerically sound mean and variance, and temporaries never exceed one chunk.
    """

    __slots__ = ("count", "finite", "inf", "m2", "maximum", "mean", "minimum", "nan", "zeros")

    def __init__(self) -> None:
        self.count = 0
        self.finite = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.zeros = 0
        self.nan = 0
        self.inf = 0

    def add_array(self, values: np.ndarray) -> None:
        import numpy as np

        flat = values.reshape(-1)
        for start in range(0, flat.size, _CHUNK):
            chunk = flat[start : start + _CHUNK]
            if chunk.dtype.kind not in "fiub":
                chunk = chunk.astype(np.float64)
            self._add_chunk(chunk)

    def _add_chunk(self, chunk: np.ndarray) -> None:
        import numpy as np

        self.count += int(chunk.size)
        self.zeros += int(np.count_nonzero(chunk == 0))
        if chunk.dtype.kind == "f":
            finite_mask = np.isfinite(chunk)
            n_finite = int(np.count_nonzero(finite_mask))
            if n_finite != chunk.size:
                n_nan = int(np.count_nonzero(np.isnan(chunk)))
                self.nan += n_nan
                self.inf += int(chunk.size) - n_finite - n_nan
                chunk = chunk[finite_mask]
        if chunk.size == 0:
            return
        data = chunk.astype(np.float64, copy=False)
        n = int(data.size)
        mean = float(data.mean())
        m2 = float(np.square(data - mean).sum())
        self.minimum = min(self.minimum, float(data.min()))
        self.maximum = max(self.maximum, float(data.max()))
        self._merge(n, mean, m2)

    def _merge(self, n: int, mean: float, m2: float) -> None:
        total = self.finite + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.finite * n / total
        self.finite = total

    def merge(self, other: Moments) -> None:
        """Fold another accumulator into this one (used for per-layer totals)."""
        self.count += other.count
        self.zeros += other.zeros
        self.nan += other.nan
        self.inf += other.inf
        if other.finite:
            self.minimum = min(self.minimum, other.minimum)
            self.maximum = max(self.maximum, other.maximum)
            self._merge(other.finite, other.mean, other.m2)

    @property
    def std(self) -> float | None:
        return math.sqrt(self.m2 / self.finite) if self.finite else None

    def summary(self) -> dict[str, Any]:
        has = self.finite > 0
        return {
            "count": self.count,
            "mean": self.mean if has else None,
            "std": self.std,
            "min": self.minimum if has else None,
            "max": self.maximum if has else None,
            "zero_fraction": self.zeros / self.count if self.count else 0.0,
            "nan_count": self.nan,
            "inf_count": self.inf,
        }


def _moments(values: np.ndarray) -> Moments:
    moments = Moments()
    moments.add_array(values)
    return moments


def _row(layer: str, variable: str, values: np.ndarray) -> dict[str, Any]:
    row: dict[str, Any] = {"layer": layer, "variable": variable, "shape": tuple(values.shape)}
    row.update(_moments(values).summary())
    row["dead_fraction"] = None
    return row


def _dead_fraction(kernel: np.ndarray, bias: np.ndarray | None) -> float | None:
    """Fraction of output units whose weights and bias are all `<= 0` (last kernel axis = units)."""
    import numpy as np

    if kernel.ndim < 2 or kernel.shape[-1] == 0:
        return None
    if not np.isfinite(kernel).all() or (bias is not None and not np.isfinite(bias).all()):
        return None  # NaN weights make every unit's output NaN: "dead" means nothing then
    units = kernel.shape[-1]
    never_positive = np.all(kernel.reshape(-1, units) <= 0, axis=0)
    if bias is not None:
        if bias.shape != (units,):
            return None
        never_positive &= bias <= 0
    return float(np.count_nonzero(never_positive)) / units


# --------------------------------------------------------------------------------------------
# Which layers have provably non-negative inputs (from a model configuration)


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


def _relu_layers_with_nonnegative_inputs(config: Any) -> set[str]:
    """Names of top-level ReLU kernel layers whose inputs are provably `>= 0`.

    Args:
        config: the model's configuration (`model.get_config()`, or the `"config"` entry of a
            saved `config.json`).

    Returns:
        A set of layer names; layers not in it are undecidable or not ReLU kernel layers.
    """
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return set()
    entries = [e for e in config["layers"] if isinstance(e, dict)]
    info: dict[str, tuple[str, dict[str, Any]]] = {}
    parents: dict[str, list[str]] = {}
    previous: str | None = None
    for entry in entries:
        raw_config = entry.get("config")
        layer_config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        name = entry.get("name") or layer_config.get("name")
        if not isinstance(name, str):
            return set()
        info[name] = (str(entry.get("class_name")), layer_config)
        if "inbound_nodes" in entry:
            parents[name] = list(_tensor_sources(entry["inbound_nodes"]))
        else:  # Sequential: each layer reads the previous one
            parents[name] = [previous] if previous is not None else []
        previous = name

    memo: dict[str, bool] = {}

    def output_nonnegative(name: str, depth: int = 0) -> bool:
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
            result = bool(sources) and all(output_nonnegative(s, depth + 1) for s in sources)
        memo[name] = result
        return result

    decided = set()
    for name, (class_name, layer_config) in info.items():
        if class_name not in _KERNEL_LAYERS:
            continue
        if _activation_name(layer_config.get("activation")) != "relu":
            continue
        sources = parents.get(name, [])
        if sources and all(output_nonnegative(s) for s in sources):
            decided.add(name)
    return decided


# --------------------------------------------------------------------------------------------
# weight_stats on a live model


def _is_container(layer: Any) -> bool:
    """Sequential and functional models, whose layers kerasx lists one by one."""
    import keras

    return isinstance(layer, keras.Model) and type(layer).__name__ in ("Sequential", "Functional")


def _leaf_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if not _is_container(model):
        yield prefix + model.name, model
        return
    for layer in model.layers:
        if _is_container(layer):
            yield from _leaf_layers(layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer


def _variable_label(layer: Any, variable: Any) -> str:
    layer_path = getattr(layer, "path", None)
    path = getattr(variable, "path", None)
    if isinstance(layer_path, str) and isinstance(path, str) and path.startswith(layer_path + "/"):
        return path[len(layer_path) + 1 :]
    return str(variable.name)


def _layer_matches(name: str, layer: Any, selectors: Sequence[Any]) -> bool:
    for selector in selectors:
        if isinstance(selector, str):
            if selector in (name, layer.name, type(layer).__name__):
                return True
        elif isinstance(selector, type) and isinstance(layer, selector):
            return True
    return False


def _normalize_selectors(layers: Any) -> list[Any] | None:
    if layers is None:
        return None
    selectors = [layers] if isinstance(layers, (str, type)) else list(layers)
    for selector in selectors:
        if not isinstance(selector, (str, type)):
            raise ConfigurationError(
                "`layers` must be a layer name, a layer class, or a list of them. "
                f"Received: layers={layers!r}."
            )
    return selectors


def _selected_layers(model: Any, layers: Any) -> list[tuple[str, Any]]:
    selectors = _normalize_selectors(layers)
    leaves = list(_leaf_layers(model))
    if selectors is None:
        return leaves
    chosen = [(name, layer) for name, layer in leaves if _layer_matches(name, layer, selectors)]
    if not chosen:
        available = ", ".join(repr(name) for name, _ in leaves) or "(none)"
        raise ConfigurationError(
            f"No layer of model {model.name!r} matches `layers`. Received: layers={layers!r}. "
            f"Available layers: {available}. Pass layer names or classes such as "
            "`keras.layers.Dense`."
        )
    return chosen


def _model_dead_candidates(model: Any) -> set[str]:
    if not _is_container(model):
        return set()
    try:
        config = model.get_config()
    except Exception:  # a custom layer without get_config: undecidable, not an error
        return set()
    return _relu_layers_with_nonnegative_inputs(config)


def _model_rows(model: Any, layers: Any = None) -> Iterator[dict[str, Any]]:
    """Rows of `weight_stats`, computed lazily, one variable at a time."""
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise ConfigurationError(
            "weight_stats expects a Keras model or layer. "
            f"Received: model of type {type(model).__name__}. Pass a `keras.Model`."
        )
    selected = _selected_layers(model, layers)
    dead_candidates = _model_dead_candidates(model)
    for name, layer in selected:
        arrays = [(_variable_label(layer, v), keras.ops.convert_to_numpy(v)) for v in layer.weights]
        yield from _layer_rows(name, arrays, dead=name in dead_candidates)


def _layer_rows(
    name: str, arrays: list[tuple[str, np.ndarray]], *, dead: bool
) -> Iterator[dict[str, Any]]:
    rows = [_row(name, label, values) for label, values in arrays]
    if dead:
        by_label = dict(arrays)
        kernel = by_label.get("kernel")
        if kernel is not None:
            fraction = _dead_fraction(kernel, by_label.get("bias"))
            for row in rows:
                if row["variable"] == "kernel":
                    row["dead_fraction"] = fraction
    yield from rows


def weight_stats(model: Any, *, layers: Any = None) -> list[dict[str, Any]]:
    """Statistics of every weight variable of a model, one row (a dict) per variable.

    Each variable is copied once into a NumPy array and read in one streaming pass; mean, std,
    min and max are over its finite values, and NaN and Inf are counted. See the module
    docstring for every key and for exactly when `dead_fraction` is decided.

    Args:
        model: a Keras model (or a single layer). Layers of nested `Sequential` and functional
            models are listed as `outer/inner`.
        layers: only these layers: a name (also matches `outer/inner` names and class names such
            as `"Dense"`), a layer class (`keras.layers.Dense`, subclasses included) or a list of
            them. Defaults to `None`, every layer.

    Returns:
        A list of dicts with the keys of `STAT_KEYS`, in the model's layer and variable order.

    Raises:
        ConfigurationError: `model` is not a Keras layer or model, or `layers` matches nothing
            (the message lists the layer names).

    Example:

    >>> import keras
    >>> from kerasx.viz import weight_stats
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> [(r["layer"], r["variable"], r["count"]) for r in weight_stats(model)]
    [('d', 'kernel', 6), ('d', 'bias', 2)]
    """
    return list(_model_rows(model, layers))


# --------------------------------------------------------------------------------------------
# weight_stats_from_file


def _variable_names(class_key: str, count: int, layer_config: dict[str, Any] | None) -> list[str]:
    """Names for the `count` positional datasets of a layer saved as `class_key` (snake case)."""
    positional = [f"vars/{i}" for i in range(count)]
    if class_key in _KNOWN_VARIABLES:
        names = _KNOWN_VARIABLES[class_key]
        return list(names[:count]) if count <= len(names) else positional
    if class_key in _NORMALIZATION_LAYERS:
        moving = ("moving_mean", "moving_variance") if class_key == "batch_normalization" else ()
        if layer_config is not None:
            scale = layer_config.get("scale", True)
            center = layer_config.get("center", True)
            names_list = (["gamma"] if scale else []) + (["beta"] if center else []) + list(moving)
            if len(names_list) == count:
                return names_list
        full = ("gamma", "beta", *moving)
        if count == len(full):
            return list(full)
        if count == len(moving) and moving:
            return list(moving)
    return positional


def _class_key(group_key: str) -> str:
    """`dense_3` -> `dense`: Keras 3 names saved layers after their class, with a counter."""
    return re.sub(r"_\d+$", "", group_key)


def _write_order(obj: Any) -> tuple[int, int]:
    """A key that sorts HDF5 groups in the order Keras wrote them.

    HDF5 keeps no creation order unless asked (Keras does not ask), but raw data is allocated
    sequentially and never reused for metadata (the default free-list map keeps them apart), so
    the file offset of a group's first dataset follows the write order. Groups without data
    (layers without weights, which give no rows) fall back to their object address.
    """
    import h5py

    offsets: list[int] = []

    def visit(_name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            offset = item.id.get_offset()
            if offset is not None:
                offsets.append(int(offset))

    if isinstance(obj, h5py.Group):
        obj.visititems(visit)
    if offsets:
        return (0, min(offsets))
    try:
        return (1, int(h5py.h5o.get_info(obj.id).addr))
    except Exception:  # pragma: no cover - HDF5 builds without addresses
        return (1, 0)


def _dataset_array(dataset: Any) -> np.ndarray:
    import numpy as np

    values = np.asarray(dataset[()])
    if dataset.attrs.get("dtype") == "bfloat16":
        import ml_dtypes

        values = values.view(ml_dtypes.bfloat16)
    return values


def _numbered(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: (0, int(k)) if k.isdigit() else (1, k))


def _saveable_arrays(
    group: Any, class_key: str, label_prefix: str, layer_config: dict[str, Any] | None
) -> Iterator[tuple[str, np.ndarray]]:
    """The variables saved under one Keras 3 layer group: its own `vars`, then sub-objects."""
    import h5py

    vars_group = group.get("vars")
    if isinstance(vars_group, h5py.Group):
        keys = [k for k in _numbered(vars_group.keys()) if isinstance(vars_group[k], h5py.Dataset)]
        names = _variable_names(class_key, len(keys), layer_config)
        for key, name in zip(keys, names):
            yield label_prefix + name, _dataset_array(vars_group[key])
    children = [
        (key, child)
        for key, child in group.items()
        if key != "vars" and isinstance(child, h5py.Group)
    ]
    children.sort(key=lambda item: _write_order(item[1]))
    for key, child in children:
        child_name = _group_display_name(child, key)
        child_key = _class_key(key)
        if key == "cell" and class_key in _RECURRENT_LAYERS:
            child_key = class_key + "_cell"
        yield from _saveable_arrays(child, child_key, f"{label_prefix}{child_name}/", None)


def _group_display_name(group: Any, key: str) -> str:
    import h5py

    vars_group = group.get("vars")
    if isinstance(vars_group, h5py.Group):
        name = vars_group.attrs.get("name")
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if isinstance(name, str) and name:
            return name
    return key


def _config_layers(config: Any) -> dict[str, dict[str, Any]]:
    """Layer name -> that layer's serialized entry (top level of a model config)."""
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return {}
    result = {}
    for entry in layers:
        if isinstance(entry, dict):
            name = entry.get("name") or (entry.get("config") or {}).get("name")
            if isinstance(name, str):
                result[name] = entry
    return result


def _keras3_rows(root: Any, config: Any) -> Iterator[dict[str, Any]]:
    """Rows from the Keras 3 layout (`layers/<key>/vars/<i>`), `.keras` and `.weights.h5`."""
    import h5py

    entries = _config_layers(config)
    order = {name: index for index, name in enumerate(entries)}
    dead_candidates = _relu_layers_with_nonnegative_inputs(config)

    def walk(container: Any, prefix: str, top: bool) -> Iterator[dict[str, Any]]:
        layers_group = container.get("layers")
        if not isinstance(layers_group, h5py.Group):
            return
        items = [(k, g) for k, g in layers_group.items() if isinstance(g, h5py.Group)]
        named = [(_group_display_name(g, k), k, g) for k, g in items]
        if top and order:
            named.sort(key=lambda t: (order.get(t[0], len(order)), _write_order(t[2])))
        else:
            named.sort(key=lambda t: _write_order(t[2]))
        for name, key, group in named:
            if isinstance(group.get("layers"), h5py.Group):  # a nested Sequential/functional
                yield from walk(group, prefix + name + "/", False)
                continue
            layer_config = None
            if top and name in entries:
                layer_config = entries[name].get("config")
            arrays = list(_saveable_arrays(group, _class_key(key), "", layer_config))
            dead = top and name in dead_candidates
            yield from _layer_rows(prefix + name, arrays, dead=dead)

    if isinstance(root.get("layers"), h5py.Group):
        yield from walk(root, "", True)
    else:  # a subclassed model: its layers are saved under their attribute names
        for key, group in sorted(root.items(), key=lambda kv: _write_order(kv[1])):
            if key in ("vars", "optimizer") or not isinstance(group, h5py.Group):
                continue
            name = _group_display_name(group, key)
            arrays = list(_saveable_arrays(group, _class_key(key), "", None))
            yield from _layer_rows(name, arrays, dead=False)
        vars_group = root.get("vars")
        if isinstance(vars_group, h5py.Group) and len(vars_group):
            arrays = list(_saveable_arrays(root, "", "", None))
            yield from _layer_rows(_group_display_name(root, "model"), arrays, dead=False)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _legacy_rows(weights_group: Any, config: Any) -> Iterator[dict[str, Any]]:
    """Rows from the legacy HDF5 layout (`layer_names`, `<layer>/weight_names`)."""
    entries = _config_layers(config)
    dead_candidates = _relu_layers_with_nonnegative_inputs(config)
    for layer_name in (_text(n) for n in weights_group.attrs.get("layer_names", [])):
        if layer_name not in weights_group:
            continue
        layer_group = weights_group[layer_name]
        weight_names = [_text(n) for n in layer_group.attrs.get("weight_names", [])]
        entry = entries.get(layer_name, {})
        is_container = entry.get("class_name") in ("Sequential", "Functional", "Model")
        nested = _config_layers(entry.get("config")) if is_container else {}
        current: str | None = None
        arrays: list[tuple[str, np.ndarray]] = []
        for weight_name in weight_names:
            values = _dataset_array(layer_group[weight_name])
            parts = weight_name.removesuffix(":0").split("/")
            if parts and parts[0] == layer_name:
                parts = parts[1:]
            row_layer = layer_name
            if nested and len(parts) > 1 and parts[0] in nested:
                row_layer = f"{layer_name}/{parts[0]}"
                parts = parts[1:]
            if row_layer != current and arrays and current is not None:
                yield from _layer_rows(current, arrays, dead=current in dead_candidates)
                arrays = []
            current = row_layer
            arrays.append(("/".join(parts), values))
        if arrays and current is not None:
            yield from _layer_rows(current, arrays, dead=current in dead_candidates)


def _json_attr(group: Any, name: str) -> Any:
    raw = group.attrs.get(name)
    if raw is None:
        return None
    try:
        parsed = json.loads(_text(raw))
    except ValueError:
        return None
    return parsed.get("config") if isinstance(parsed, dict) else None


def _rows_from_h5(h5: Any, config: Any) -> list[dict[str, Any]]:
    import h5py

    if isinstance(h5.get("model_weights"), h5py.Group):
        return list(_legacy_rows(h5["model_weights"], _json_attr(h5, "model_config")))
    if "layer_names" in h5.attrs:
        return list(_legacy_rows(h5, None))
    if isinstance(h5.get("layers"), h5py.Group) or isinstance(h5.get("vars"), h5py.Group):
        return list(_keras3_rows(h5, config))
    raise ValueError("no `model_weights`, `layer_names` or `layers`/`vars` entry")


def _read_keras_zip(path: Path) -> list[dict[str, Any]]:
    import h5py

    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "model.weights.h5" not in names:
            raise KeyError(
                "the archive has no `model.weights.h5` member"
                + (" (sharded weights are not supported)" if "model.weights.json" in names else "")
            )
        config = None
        if "config.json" in names:
            try:
                parsed = json.loads(archive.read("config.json"))
                config = parsed.get("config") if isinstance(parsed, dict) else None
            except ValueError:
                config = None
        data = archive.read("model.weights.h5")
    with h5py.File(io.BytesIO(data), "r") as h5:
        return _rows_from_h5(h5, config)


def weight_stats_from_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Statistics of the weights stored in a saved file, read directly and safely.

    Reads the HDF5 data with h5py (from the zip's `model.weights.h5` member for `.keras`
    files); the optimizer's state is skipped. Nothing is deserialised: no Keras load function
    runs, so a downloaded, possibly malicious, checkpoint can be checked for NaN and Inf
    without executing it. The format is recognised from the content, not the suffix.

    Args:
        path: a `.keras` file, a Keras 3 `.weights.h5` file, or a legacy `.h5`/`.hdf5` file
            (full model or weights only, as written by Keras 2, tf-keras or Keras 3).

    Returns:
        The rows `weight_stats` gives for the loaded model (same keys, same numbers); see the
        module docstring for how layer and variable names are recovered from each format.

    Raises:
        MissingFileError: `path` does not exist.
        CorruptFileError: `path` is a folder, empty, truncated, or not a Keras weights file.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise MissingFileError(
            f"No model or weights file at this path. Received: path={str(path)!r}. "
            "Check the path, or list the folder to see what was saved."
        )
    if path.is_dir():
        raise CorruptFileError(
            "weight_stats_from_file reads a `.keras`, `.h5` or `.weights.h5` file, not a folder "
            f"(a SavedModel is not supported). Received: path={str(path)!r}."
        )
    try:
        if zipfile.is_zipfile(path):
            return _read_keras_zip(path)
        with h5py.File(path, "r") as h5:
            return _rows_from_h5(h5, None)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, TypeError) as error:
        raise CorruptFileError(
            f"Cannot read weights from this file: {error}. Received: path={str(path)!r} "
            f"({path.stat().st_size} bytes). Expected a Keras `.keras` zip, a `.weights.h5` "
            "file or a legacy `.h5` model/weights file; the file may be truncated or in another "
            "format: save it again or download it again."
        ) from error


# --------------------------------------------------------------------------------------------
# Text table


def _format_number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if 1e-3 <= abs(value) < 1e4:
            return f"{value:.4f}"
        return f"{value:.3e}"
    return str(value)


def format_weight_stats(rows: Sequence[dict[str, Any]]) -> str:
    """An aligned text table of `weight_stats` rows, for a terminal.

    Rows whose variable holds NaN or Inf values are marked with `!` in the first column, and a
    last line counts them, so a broken checkpoint is obvious at a glance.

    Args:
        rows: rows from `weight_stats` or `weight_stats_from_file`.

    Returns:
        The table as one string (no trailing newline); `"(no weights)"` for no rows.
    """
    if not rows:
        return "(no weights)"
    headers = ["", "layer", "variable", "shape", "count", "mean", "std", "min", "max",
               "zeros", "nan", "inf", "dead"]  # fmt: skip
    table = [headers]
    flagged = 0
    for row in rows:
        bad = bool(row.get("nan_count") or row.get("inf_count"))
        flagged += bad
        dead = row.get("dead_fraction")
        table.append(
            [
                "!" if bad else "",
                str(row.get("layer", "")),
                str(row.get("variable", "")),
                "x".join(str(d) for d in row.get("shape", ())) or "scalar",
                str(row.get("count", "")),
                _format_number(row.get("mean")),
                _format_number(row.get("std")),
                _format_number(row.get("min")),
                _format_number(row.get("max")),
                f"{row.get('zero_fraction', 0.0):.1%}",
                str(row.get("nan_count", 0)) + ("!" if row.get("nan_count") else ""),
                str(row.get("inf_count", 0)) + ("!" if row.get("inf_count") else ""),
                "-" if dead is None else f"{dead:.0%}",
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    left = {1, 2}
    lines = []
    for line in table:
        cells = [
            cell.ljust(widths[i]) if i in left or i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append(" ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    total = sum(int(row.get("count", 0)) for row in rows)
    summary = f"{len(rows)} variables, {total:,} values"
    if flagged:
        summary += f"; {flagged} with NaN or Inf (marked !)"
    else:
        summary += "; no NaN or Inf"
    lines.append(summary)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Histograms


def _axes_list(ax: Any) -> list[Any]:
    import numpy as np

    if hasattr(ax, "hist") and hasattr(ax, "figure"):
        return [ax]
    try:
        return [a for a in np.asarray(ax, dtype=object).reshape(-1)]
    except Exception as error:  # pragma: no cover - exotic containers
        raise ConfigurationError(
            f"`ax` must be a matplotlib Axes or an array of them. Received: ax={ax!r}."
        ) from error


def _draw_panel(
    axes: Any, layer: str, variable: str, values: np.ndarray, *, bins: int, log: bool
) -> None:
    import numpy as np

    moments = _moments(values)
    summary = moments.summary()
    flat = values.reshape(-1)
    if flat.dtype.kind not in "fiub":
        flat = flat.astype(np.float64)
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    if finite.size:
        axes.hist(finite.astype(np.float64, copy=False), bins=bins, log=log, color="#4C72B0")
    else:
        axes.text(0.5, 0.5, "no finite values", ha="center", va="center",
                  transform=axes.transAxes)  # fmt: skip
    bad = summary["nan_count"] or summary["inf_count"]
    axes.set_title(f"{layer} / {variable}", fontsize=8, color="red" if bad else "black")
    note = f"mean {_format_number(summary['mean'])}\nstd {_format_number(summary['std'])}"
    axes.text(0.98, 0.95, note, ha="right", va="top", fontsize=7, transform=axes.transAxes,
              bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})  # fmt: skip
    if bad:
        axes.text(0.02, 0.95, f"NaN {summary['nan_count']}\nInf {summary['inf_count']}",
                  ha="left", va="top", fontsize=8, color="red", fontweight="bold",
                  transform=axes.transAxes)  # fmt: skip
    axes.tick_params(labelsize=6)


def plot_weights(
    model: Any,
    *,
    layers: Any = None,
    bins: int = 50,
    log: bool = False,
    ax: Any = None,
    max_panels: int = DEFAULT_MAX_PANELS,
) -> Figure:
    """Histograms of a model's weights: one panel per variable, kernel and bias side by side.

    Each layer gets one row of panels (a layer with more than 4 variables wraps onto more
    rows); each panel is titled `layer / variable` and annotated with the mean and std of the
    finite values. NaN and Inf counts are written in red and the title turns red. At most
    `max_panels` variables are drawn, in model order; when some are left out, a note at the
    top of the figure says how many and how to see them (`layers=[...]` or `max_panels=`).

    The figure is a `matplotlib.figure.Figure` built directly: no pyplot state is touched and
    nothing is shown; display it in Jupyter by leaving it as the cell's value, or save it with
    `fig.savefig("weights.png")`.

    Args:
        model: a Keras model or layer.
        layers: only these layers; a name, a class or a list of them (as in `weight_stats`).
            Defaults to `None`, every layer.
        bins: number of histogram bins. Defaults to `50`.
        log: use a logarithmic count axis. Defaults to `False`.
        ax: draw into existing axes instead of a new figure: a single `Axes` when exactly one
            variable is selected, or a sequence/array of `Axes` with at least one per panel
            (extra axes are hidden). Defaults to `None`, a new figure.
        max_panels: most panels drawn. Defaults to `24`.

    Returns:
        The `Figure` holding the panels (`ax`'s figure when `ax` is given).

    Raises:
        ConfigurationError: `bins` or `max_panels` is not a positive integer, `layers` matches
            nothing, the model has no weights (build it first), or `ax` has too few axes.
    """
    import keras

    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigurationError(f"`bins` must be a positive integer. Received: bins={bins!r}.")
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise ConfigurationError(
            f"`max_panels` must be a positive integer. Received: max_panels={max_panels!r}."
        )
    selected = _selected_layers(model, layers) if isinstance(model, keras.layers.Layer) else None
    if selected is None:
        raise ConfigurationError(
            "plot_weights expects a Keras model or layer. "
            f"Received: model of type {type(model).__name__}."
        )
    panels: list[tuple[str, Any, Any]] = []
    for name, layer in selected:
        for variable in layer.weights:
            panels.append((name, layer, variable))
    if not panels:
        raise ConfigurationError(
            f"Model {model.name!r} has no weights to plot (selected layers: "
            f"{[n for n, _ in selected]!r}). Build the model first (call it on data or give "
            "it an `Input`), or choose other `layers`."
        )
    total = len(panels)
    shown = panels[:max_panels]
    note = None
    if total > len(shown):
        last_layer = shown[-1][0]
        note = (
            f"Showing {len(shown)} of {total} weight variables (up to layer {last_layer!r}). "
            "Pass layers=[...] to choose layers, or max_panels= to draw more."
        )

    # Grid: rows per layer, up to 4 variables side by side.
    counts: dict[str, int] = {}
    for name, _, _ in shown:
        counts[name] = counts.get(name, 0) + 1
    ncols = min(4, max(counts.values()))
    positions: list[tuple[int, int]] = []
    row = 0
    for count in counts.values():
        for index in range(count):
            positions.append((row + index // ncols, index % ncols))
        row += -(-count // ncols)
    nrows = row

    if ax is None:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(3.2 * ncols, 2.3 * nrows + (0.5 if note else 0.2)))
        grid = figure.subplots(nrows, ncols, squeeze=False)
        axes_grid = [[grid[r][c] for c in range(ncols)] for r in range(nrows)]
        targets = [axes_grid[r][c] for r, c in positions]
        used = {id(a) for a in targets}
        for line in axes_grid:
            for axes in line:
                if id(axes) not in used:
                    axes.set_visible(False)
    else:
        given = _axes_list(ax)
        if len(given) < len(shown):
            raise ConfigurationError(
                f"`ax` has {len(given)} axes but {len(shown)} weight variables are selected. "
                f"Received: ax with {len(given)} axes. Pass one Axes per variable, choose fewer "
                "with `layers=`, or leave `ax=None` for a new figure."
            )
        targets = given[: len(shown)]
        for axes in given[len(shown) :]:
            axes.set_visible(False)
        figure = targets[0].figure

    for (name, layer, variable), axes in zip(shown, targets):
        values = keras.ops.convert_to_numpy(variable)
        _draw_panel(axes, name, _variable_label(layer, variable), values, bins=bins, log=log)

    if ax is None:
        if note:
            figure.suptitle(note, fontsize=9, color="darkred")
        figure.tight_layout(rect=(0, 0, 1, 0.97) if note else None)
    elif note:
        figure.suptitle(note, fontsize=9, color="darkred")
    return figure
