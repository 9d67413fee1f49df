"""How Keras lays weights out in HDF5, and reading them layer by layer, with their names.

`kerasx.io._reader.ModelFile.layers` reads through these functions; plain h5py and NumPy,
nothing is deserialised.

- Legacy HDF5 (Keras 2, tf-keras, Keras 3's `.h5` writer): the file stores `layer_names` and,
  per layer, `weight_names` (`dense/kernel:0`), so layer and variable names, and their order,
  are exact.
- Keras 3 (`.weights.h5`, and `model.weights.h5` inside a `.keras` file): variables are stored
  by position (`layers/dense_1/vars/0`) with the layer's own name as an attribute of `vars`.
  The positions of the built-in layers kerasx knows (`Dense`, convolutions, normalisations,
  `Embedding`, recurrent cells, ...; see `_KNOWN_VARIABLES`) get their variable names; other
  layers' are `vars/0`, `vars/1`, ... Layers come in the order of the model's configuration
  when there is one; a bare `.weights.h5` has none, so its layers come in the order Keras wrote
  them, recovered from the file offsets of their data (HDF5 allocates raw data sequentially):
  compare rows by `(layer, variable)` if you need certainty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "SavedLayer",
    "attribute_list",
    "has_attribute_list",
    "keras_layers",
    "legacy_layers",
    "text_attribute",
]

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
_CONTAINER_CLASSES = ("Sequential", "Functional", "Model")


class SavedLayer(NamedTuple):
    """The weights a file holds for one layer."""

    name: str
    """The layer's name; `outer/inner` for a layer of a nested model."""
    arrays: list[tuple[str, Any]]
    """`(variable name, NumPy array)` pairs, in saved order."""
    top_level: bool
    """Whether it is one of the model's own layers, which `ModelFile.architecture` describes."""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def text_attribute(node: Any, name: str) -> str | None:
    """The text of an HDF5 attribute, or None when it is absent."""
    value = node.attrs.get(name)
    if value is None:
        return None
    return value.decode("utf-8") if hasattr(value, "decode") else str(value)


def has_attribute_list(node: Any, name: str) -> bool:
    """Whether an HDF5 node has the list attribute `name`, whole or in chunks."""
    return name in node.attrs or f"{name}0" in node.attrs


def attribute_list(node: Any, name: str) -> list[str]:
    """A list attribute of an HDF5 node, as text; empty when absent.

    HDF5 limits an attribute's size, so Keras splits long lists in chunks named `<name>0`,
    `<name>1`, ...
    """
    if name in node.attrs:
        return [_text(item) for item in node.attrs[name]]
    items: list[str] = []
    chunk = 0
    while f"{name}{chunk}" in node.attrs:
        items += [_text(item) for item in node.attrs[f"{name}{chunk}"]]
        chunk += 1
    return items


def _dataset_array(dataset: Any) -> Any:
    import numpy as np

    values = np.asarray(dataset[()])
    if dataset.attrs.get("dtype") == "bfloat16":
        import ml_dtypes

        values = values.view(ml_dtypes.bfloat16)
    return values


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


# --------------------------------------------------------------------------------------------
# Legacy layout: names stored in the file


def legacy_layers(weights_group: Any, config: Any) -> Iterator[SavedLayer]:
    """The layers of the legacy layout (`layer_names`, `<layer>/weight_names`).

    Args:
        weights_group: the group holding `layer_names` (`model_weights`, or the file's top).
        config: the model's configuration (the `config` entry), or None; a nested model's
            layers are named `outer/inner` from it.
    """
    entries = _config_layers(config)
    for layer_name in attribute_list(weights_group, "layer_names"):
        if layer_name not in weights_group:
            continue
        layer_group = weights_group[layer_name]
        entry = entries.get(layer_name, {})
        nested = (
            _config_layers(entry.get("config"))
            if entry.get("class_name") in _CONTAINER_CLASSES
            else {}
        )
        current: str | None = None
        arrays: list[tuple[str, Any]] = []
        for weight_name in attribute_list(layer_group, "weight_names"):
            values = _dataset_array(layer_group[weight_name])
            parts = weight_name.removesuffix(":0").split("/")
            if parts and parts[0] == layer_name:
                parts = parts[1:]
            row_layer = layer_name
            if nested and len(parts) > 1 and parts[0] in nested:
                row_layer = f"{layer_name}/{parts[0]}"
                parts = parts[1:]
            if row_layer != current and arrays and current is not None:
                yield SavedLayer(current, arrays, current == layer_name)
                arrays = []
            current = row_layer
            arrays.append(("/".join(parts), values))
        if arrays and current is not None:
            yield SavedLayer(current, arrays, current == layer_name)


# --------------------------------------------------------------------------------------------
# Keras 3 layout: names recovered from positions


def keras_layers(root: Any, config: Any) -> Iterator[SavedLayer]:
    """The layers of the Keras 3 layout (`layers/<key>/vars/<i>`), `.keras` and `.weights.h5`.

    Args:
        root: the HDF5 file (or the `model.weights.h5` of an archive).
        config: the model's configuration (the `config` entry), or None; it gives the layer
            order and the names of normalisation variables.
    """
    import h5py

    if isinstance(root.get("layers"), h5py.Group):
        yield from _container_layers(root, "", _config_layers(config))
        return
    # A subclassed model: its layers are saved under their attribute names.
    for key, group in sorted(root.items(), key=lambda item: _write_order(item[1])):
        if key in ("vars", "optimizer") or not isinstance(group, h5py.Group):
            continue
        arrays = list(_saveable_arrays(group, _class_key(key), "", None))
        if arrays:
            yield SavedLayer(_group_display_name(group, key), arrays, False)
    vars_group = root.get("vars")
    if isinstance(vars_group, h5py.Group) and len(vars_group):
        arrays = list(_saveable_arrays(root, "", "", None))
        if arrays:
            yield SavedLayer(_group_display_name(root, "model"), arrays, False)


def _container_layers(
    container: Any, prefix: str, entries: dict[str, dict[str, Any]]
) -> Iterator[SavedLayer]:
    """The layers under `container/layers`; `entries` is the configuration's, top level only."""
    import h5py

    top = not prefix
    layers_group = container.get("layers")
    if not isinstance(layers_group, h5py.Group):
        return
    named = [
        (_group_display_name(group, key), key, group)
        for key, group in layers_group.items()
        if isinstance(group, h5py.Group)
    ]
    if top and entries:
        order = {name: index for index, name in enumerate(entries)}
        named.sort(key=lambda item: (order.get(item[0], len(order)), _write_order(item[2])))
    else:
        named.sort(key=lambda item: _write_order(item[2]))
    for name, key, group in named:
        if isinstance(group.get("layers"), h5py.Group):  # a nested Sequential/functional
            yield from _container_layers(group, prefix + name + "/", {})
            continue
        layer_config = entries[name].get("config") if top and name in entries else None
        if not isinstance(layer_config, dict):
            layer_config = None
        arrays = list(_saveable_arrays(group, _class_key(key), "", layer_config))
        if arrays:
            yield SavedLayer(prefix + name, arrays, top)


def _saveable_arrays(
    group: Any, class_key: str, label_prefix: str, layer_config: dict[str, Any] | None
) -> Iterator[tuple[str, Any]]:
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


def _numbered(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: (0, int(k)) if k.isdigit() else (1, k))


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
