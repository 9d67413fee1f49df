"""Private helpers of `kerasx.data`: batch structure signatures, their comparison and description,
and the pickling check for process workers.

Imports only NumPy, so it is cheap to test on its own.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

__all__ = [
    "BatchSpec",
    "fast_key",
    "LeafSpec",
    "batch_spec",
    "describe_spec",
    "first_difference",
    "leading_sizes",
    "unpicklable_attributes",
]

LeafSpec = tuple[str, tuple[int, ...], str]
"""`(path, shape without the batch dimension, dtype name)` of one array in a batch."""

BatchSpec = tuple[str, tuple[LeafSpec, ...]]
"""`(structure, leaves)`: a text rendering of the nesting and the spec of every leaf."""

_TOP_NAMES = ("x", "y", "sample_weight")


def _walk(value: Any, path: str, leaves: list[tuple[str, Any]]) -> str:
    """Flatten `value` into `leaves` and return a text rendering of its structure."""
    if isinstance(value, dict):
        parts = []
        for key in sorted(value, key=str):
            parts.append(f"{key!r}: " + _walk(value[key], f"{path}[{key!r}]", leaves))
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, (list, tuple)):
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        parts = [_walk(item, f"{path}[{i}]", leaves) for i, item in enumerate(value)]
        return open_ + ", ".join(parts) + close
    leaves.append((path, value))
    return "array"


def _flatten_batch(batch: Any) -> tuple[str, list[tuple[str, Any]]]:
    """The structure and the `(path, leaf)` list of a batch, naming `x`, `y`, `sample_weight`."""
    leaves: list[tuple[str, Any]] = []
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 3:
        parts = [_walk(item, _TOP_NAMES[i], leaves) for i, item in enumerate(batch)]
        return "(" + ", ".join(parts) + ")", leaves
    return _walk(batch, "x", leaves), leaves


def fast_key(batch: Any) -> Any:
    """A cheap hashable summary of a batch: equal for batches with the same structure, dtypes,
    shapes beyond the batch dimension and one common batch dimension.

    Used to skip the full check for batches like the first one; `None` when the batch holds
    something other than NumPy arrays (the full check then runs).
    """
    if isinstance(batch, np.ndarray):
        return (batch.dtype, batch.shape[1:]), batch.shape[:1]
    if isinstance(batch, tuple):
        keys = []
        sizes = set()
        for item in batch:
            if not isinstance(item, np.ndarray):
                return None
            keys.append((item.dtype, item.shape[1:]))
            sizes.add(item.shape[:1])
        return (tuple(keys), len(sizes) == 1)
    return None


def _shape_and_dtype(leaf: Any) -> tuple[tuple[int, ...], str]:
    shape = getattr(leaf, "shape", None)
    dtype = getattr(leaf, "dtype", None)
    if shape is None or dtype is None:
        array = np.asarray(leaf)
        shape, dtype = array.shape, array.dtype
    name = getattr(dtype, "name", None) or np.dtype(dtype).name
    return tuple(int(d) if d is not None else -1 for d in shape), str(name)


def batch_spec(batch: Any) -> tuple[BatchSpec, dict[str, tuple[int, ...]]]:
    """The spec of a batch and the full shape of every leaf (by path).

    Args:
        batch: what `load_batch` returned.

    Returns:
        `(spec, full_shapes)`: the spec compares equal for batches that differ only in their
        batch dimension; `full_shapes` keeps the batch dimension for messages.
    """
    structure, leaves = _flatten_batch(batch)
    specs: list[LeafSpec] = []
    full_shapes: dict[str, tuple[int, ...]] = {}
    for path, leaf in leaves:
        shape, dtype = _shape_and_dtype(leaf)
        full_shapes[path] = shape
        specs.append((path, shape[1:], dtype))
    return (structure, tuple(specs)), full_shapes


def leading_sizes(full_shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """The batch dimension of every leaf; a scalar leaf has none and is left out."""
    return {path: shape[0] for path, shape in full_shapes.items() if shape}


def first_difference(
    spec: BatchSpec, reference: BatchSpec, full_shapes: dict[str, tuple[int, ...]]
) -> str | None:
    """A sentence saying how `spec` differs from `reference`, or `None` when they agree.

    Args:
        spec: the spec of the batch being checked.
        reference: the spec of the first batch.
        full_shapes: full leaf shapes of the batch being checked.

    Returns:
        A description of the first difference, or `None`.
    """
    if spec == reference:
        return None
    structure, leaves = spec
    ref_structure, ref_leaves = reference
    if structure != ref_structure:
        return f"its structure is {structure}, but the first batch's was {ref_structure}"
    for (path, shape, dtype), (_, ref_shape, ref_dtype) in zip(leaves, ref_leaves):
        if dtype != ref_dtype:
            return f"{path} has dtype {dtype}, but the first batch's had dtype {ref_dtype}"
        if shape != ref_shape:
            full = full_shapes.get(path, shape)
            return (
                f"{path} has shape {full}, which differs from the first batch's "
                f"(batch, *{ref_shape}) in more than the batch dimension"
            )
    return f"it differs from the first batch: {spec} != {reference}"  # pragma: no cover


def describe_spec(spec: BatchSpec, batch_size: int) -> list[str]:
    """Lines describing a batch spec: one per array, with its full shape and dtype."""
    structure, leaves = spec
    lines = [f"  structure: {structure}"]
    for path, shape, dtype in leaves:
        lines.append(f"  {path}: shape {(batch_size, *shape)} dtype {dtype}")
    return lines


class _NullWriter(io.RawIOBase):
    """A binary sink that only counts what is written."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(memoryview(data))


def _picklable(value: Any) -> BaseException | None:
    """`None` if `value` pickles, else the exception pickling raised.

    Large NumPy arrays are handed out of band (protocol 5), so this costs no copy of the data.
    """
    try:
        pickler = pickle.Pickler(_NullWriter(), protocol=5, buffer_callback=lambda _: None)
        pickler.dump(value)
    except Exception as error:
        return error
    return None


def unpicklable_attributes(
    obj: Any,
) -> tuple[list[tuple[str, BaseException]], BaseException | None]:
    """Which attributes of `obj` cannot be pickled.

    Args:
        obj: the object that process workers will receive.

    Returns:
        `(bad_attributes, whole_error)`: `(name, exception)` for each attribute that does not
        pickle, and the exception raised when pickling `obj` as a whole (`None` if it pickles).
    """
    whole = _picklable(obj)
    if whole is None:
        return [], None
    state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
    if not isinstance(state, dict):
        state = vars(obj)
    bad: list[tuple[str, BaseException]] = []
    for name, value in state.items():
        error = _picklable(value)
        if error is not None:
            bad.append((name, error))
    return bad, whole
