"""Weight statistics, from a live model or straight from a saved file.

`weight_stats(model)` gives one row (a dict) per weight variable:

- `layer`: the layer's name; layers inside a nested `Sequential`/functional model are
  `outer/inner`.
- `variable`: the variable's path below its layer: `kernel`, `bias`, `lstm_cell/kernel`, ...
- `shape` (tuple of ints) and `count` (number of values).
- `mean`, `std`, `min`, `max`: over the finite values (float, or None when there is none).
- `zero_fraction`: fraction of values exactly 0; `nan_count`, `inf_count`: NaN and +-Inf values.
- `dead_fraction`: on the kernel of a `Dense`/`Conv1D`/`Conv2D`/`Conv3D` layer with a ReLU
  activation whose inputs are provably non-negative, the fraction of units that can never
  activate (see `kerasx.viz._dead_units`); None otherwise: on a layer fed by the model's
  `Input`, in a nested or subclassed model, on a kernel or bias holding NaN or Inf, and on
  every variable that is not such a kernel.

`weight_stats_from_file(path)` reads the same rows from a `.keras` zip, a Keras 3 `.weights.h5`
file or a legacy `.h5` file, without deserialising anything (no layer, no Lambda, no custom
object is built, so a downloaded file can be checked safely). Numbers are the same as
`weight_stats(load(path))`; how the layer and variable names are recovered from each format is
described in `kerasx.io._weight_layout`, which `kerasx.io._reader` reads the files with.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kerasx.errors import ConfigurationError, CorruptFileError, KerasxError, MissingFileError
from kerasx.io._reader import open_model_file
from kerasx.viz._dead_units import dead_fraction, relu_layers_with_nonnegative_inputs

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import numpy as np

__all__ = [
    "STAT_KEYS",
    "Moments",
    "moments_of",
    "select_layers",
    "variable_label",
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

_CHUNK = 1 << 20  # values per chunk: bounds the temporaries of the streaming statistics


class Moments:
    """Count, mean, sum of squared deviations, min, max, zeros, NaN and Inf of a stream of values.

    Chunks are merged with Chan et al.'s parallel formula, so one pass over the values gives a
    numerically sound mean and variance, and temporaries never exceed one chunk.

    Example:

    >>> import numpy as np
    >>> moments = Moments()
    >>> moments.add_array(np.array([1.0, 2.0, np.nan, 3.0]))
    >>> moments.summary()["mean"], moments.summary()["nan_count"]
    (2.0, 1)
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
        """Fold every value of an array in, one chunk at a time."""
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
        """The standard deviation of the finite values, or None when there is none."""
        return math.sqrt(self.m2 / self.finite) if self.finite else None

    def summary(self) -> dict[str, Any]:
        """`count`, `mean`, `std`, `min`, `max`, `zero_fraction`, `nan_count`, `inf_count`."""
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


def moments_of(values: np.ndarray) -> Moments:
    """The `Moments` of one array."""
    moments = Moments()
    moments.add_array(values)
    return moments


def _row(layer: str, variable: str, values: np.ndarray) -> dict[str, Any]:
    row: dict[str, Any] = {"layer": layer, "variable": variable, "shape": tuple(values.shape)}
    row.update(moments_of(values).summary())
    row["dead_fraction"] = None
    return row


def _layer_rows(
    name: str, arrays: list[tuple[str, np.ndarray]], *, dead: bool
) -> Iterator[dict[str, Any]]:
    """The rows of one layer's variables; `dead` decides `dead_fraction` on its kernel."""
    rows = [_row(name, label, values) for label, values in arrays]
    if dead:
        by_label = dict(arrays)
        kernel = by_label.get("kernel")
        if kernel is not None:
            fraction = dead_fraction(kernel, by_label.get("bias"))
            for row in rows:
                if row["variable"] == "kernel":
                    row["dead_fraction"] = fraction
    yield from rows


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


def variable_label(layer: Any, variable: Any) -> str:
    """A variable's path below its layer (`kernel`, `lstm_cell/kernel`), else its name."""
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


def select_layers(model: Any, layers: Any) -> list[tuple[str, Any]]:
    """The `(name, layer)` pairs of a model's leaf layers that `layers` selects.

    Args:
        model: a Keras model or layer.
        layers: a name (`outer/inner`, the layer's own or its class's), a layer class, a list
            of them, or None for every layer.

    Returns:
        The pairs, in model order; names of layers in nested models are `outer/inner`.

    Raises:
        ConfigurationError: `layers` is of another type or matches nothing.
    """
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
    return relu_layers_with_nonnegative_inputs(config)


def _model_rows(model: Any, layers: Any = None) -> Iterator[dict[str, Any]]:
    """Rows of `weight_stats`, computed lazily, one variable at a time."""
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise ConfigurationError(
            "weight_stats expects a Keras model or layer. "
            f"Received: model of type {type(model).__name__}. Pass a `keras.Model`."
        )
    selected = select_layers(model, layers)
    dead_candidates = _model_dead_candidates(model)
    for name, layer in selected:
        arrays = [(variable_label(layer, v), keras.ops.convert_to_numpy(v)) for v in layer.weights]
        yield from _layer_rows(name, arrays, dead=name in dead_candidates)


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

_EXPECTED = (
    "Expected a Keras `.keras` zip, a `.weights.h5` file or a legacy `.h5` model/weights file; "
    "the file may be truncated or in another format: save it again or download it again."
)


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
        The rows `weight_stats` gives for the loaded model (same keys, same numbers). A bare
        `.weights.h5` file has no configuration, so its `dead_fraction` is always None.

    Raises:
        MissingFileError: `path` does not exist.
        CorruptFileError: `path` is a folder, empty, truncated, or not a Keras weights file.

    Example:

    >>> import keras, os, tempfile
    >>> from kerasx.viz._weight_stats import weight_stats_from_file
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> [(r["layer"], r["variable"], r["nan_count"]) for r in weight_stats_from_file(path)]
    [('d', 'kernel', 0), ('d', 'bias', 0)]
    """
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
        with open_model_file(path) as model_file:
            candidates = relu_layers_with_nonnegative_inputs(model_file.architecture())
            rows: list[dict[str, Any]] = []
            for layer in model_file.layers():
                dead = layer.top_level and layer.name in candidates
                rows += _layer_rows(layer.name, layer.arrays, dead=dead)
            return rows
    except KerasxError as error:  # the reader's message already names the file
        message = f"Cannot read weights from this file: {error} {_EXPECTED}"
        # The cause is h5py's or zipfile's own error when there is one.
        raise CorruptFileError(message) from (error.__cause__ or error)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise CorruptFileError(
            f"Cannot read weights from this file: {error}. Received: path={str(path)!r} "
            f"({path.stat().st_size} bytes). {_EXPECTED}"
        ) from error
