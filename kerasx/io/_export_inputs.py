"""The inputs `kerasx.io.export` checks an artifact on, and the comparison of outputs.

The inputs are the caller's `sample`, or arrays drawn with a fixed seed from the model's input
spec: a batch of `RANDOM_BATCH` (or the export's `batch_size`), standard normal values for float
inputs, 0 and 1 for integer inputs (valid indices for any `Embedding`), random booleans for bool
inputs. A dimension other than the batch that the model leaves open (`None`) has no size to
draw, so it needs a `sample`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasx.errors import ConfigurationError, ExportError

__all__ = [
    "RANDOM_BATCH",
    "RANDOM_SEED",
    "Probe",
    "compare_outputs",
    "export_signature",
    "probe_inputs",
]

RANDOM_BATCH = 2
"""Batch size of the random inputs when neither `sample` nor `batch_size` gives one."""

RANDOM_SEED = 0
"""Seed of the NumPy generator that draws the random inputs."""


@dataclass(frozen=True)
class Probe:
    """The inputs an export is checked on, and the model's own outputs on them.

    Attributes:
        inputs: the input arrays, flat, in the order of `model.inputs`.
        names: the name of each input (the Keras input's name), or None when unknown.
        outputs: the model's outputs, flat (dict outputs in sorted key order).
        output_names: a name for each output, for messages.
        description: what the inputs are, for messages: "the sample", or "2 random inputs
            drawn with seed 0".
    """

    inputs: list[np.ndarray]
    names: list[str | None]
    outputs: list[np.ndarray]
    output_names: list[str]
    description: str


def _symbolic_inputs(model: Any) -> list[Any] | None:
    """`model.inputs` (Sequential and Functional models), or None for a subclassed model."""
    try:
        inputs = model.inputs
    except AttributeError:  # a subclassed model has no symbolic inputs
        return None
    return list(inputs) if inputs else None


def _input_structure(model: Any) -> Any:
    """The structure the model is called with: one input, or the functional input structure."""
    import keras

    if isinstance(model, keras.Sequential):
        return model.inputs[0]
    return model.input


def export_signature(model: Any, batch_size: int | None) -> list[Any] | None:
    """The `input_signature` for `model.export`, with the batch dimension set to `batch_size`.

    It is the signature Keras infers by itself (one `InputSpec` per input, the batch left open),
    built from public attributes, so that exporting never depends on the model having been
    called. None for a subclassed model: Keras infers that one from the model's first call.
    """
    import keras

    inputs = _symbolic_inputs(model)
    if inputs is None:
        return None

    def spec(tensor: Any) -> Any:
        shape = (batch_size, *tuple(tensor.shape)[1:])
        return keras.InputSpec(shape=shape, dtype=tensor.dtype, name=tensor.name)

    if isinstance(model, keras.Sequential):
        return [spec(tensor) for tensor in inputs]
    return [keras.tree.map_structure(spec, model.input)]


def probe_inputs(model: Any, sample: Any, batch_size: int | None) -> Probe:
    """The inputs to check an export on (the sample, or seeded random arrays) and the model's
    outputs on them.

    Raises:
        ConfigurationError: no sample for a subclassed model or for an input with an open
            dimension besides the batch; a sample that does not fit the model's inputs.
    """
    import keras

    inputs = _symbolic_inputs(model)
    if sample is None:
        flat = _random_inputs(inputs, batch_size)
        structured = keras.tree.pack_sequence_as(_input_structure(model), flat)
        rows = flat[0].shape[0]
        description = f"{rows} random input{'s' if rows > 1 else ''} drawn with seed {RANDOM_SEED}"
    else:
        flat = _sample_arrays(sample, inputs, batch_size)
        structured = keras.tree.pack_sequence_as(sample, flat)
        description = "the sample"
    names = [tensor.name for tensor in inputs] if inputs else [None] * len(flat)
    try:
        result = model(structured, training=False)
    except Exception as error:
        if sample is None:
            raise
        said = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split())  # one line, no colour
        raise ConfigurationError(
            f"The model cannot be called on the sample: {said} Received: sample with shapes "
            f"{[array.shape for array in flat]}. Pass the inputs as the model is called."
        ) from error
    outputs = [np.asarray(keras.ops.convert_to_numpy(v)) for v in keras.tree.flatten(result)]
    return Probe(flat, names, outputs, _output_names(model, result, len(outputs)), description)


def _random_inputs(inputs: list[Any] | None, batch_size: int | None) -> list[np.ndarray]:
    if inputs is None:
        raise ConfigurationError(
            "`export` checks the exported artifact on inputs, and a subclassed model does not "
            "say what its inputs look like. Received: sample=None. Pass `sample=` with a batch "
            "of real inputs, or `verify=False` to write the artifact unchecked."
        )
    rng = np.random.default_rng(RANDOM_SEED)
    batch = batch_size or RANDOM_BATCH
    arrays = []
    for tensor in inputs:
        shape = tuple(tensor.shape)
        if any(size is None for size in shape[1:]):
            raise ConfigurationError(
                f"Input {tensor.name!r} has shape {shape}: a dimension besides the batch is "
                "open (None), so kerasx cannot draw random inputs to check the export on. "
                "Received: sample=None. Pass `sample=` with a batch of the sizes you serve, "
                "or `verify=False` to write the artifact unchecked."
            )
        arrays.append(_draw(rng, (batch, *shape[1:]), str(tensor.dtype), tensor.name))
    return arrays


def _draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, name: str) -> np.ndarray:
    kind = np.dtype(dtype).kind if dtype not in ("string", "str") else "U"
    if kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if kind in "iu":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if kind == "b":
        return rng.random(shape) < 0.5
    raise ConfigurationError(
        f"Input {name!r} has dtype {dtype}, for which kerasx draws no random values. "
        "Received: sample=None. Pass `sample=` with a batch of real inputs."
    )


def _sample_arrays(
    sample: Any, inputs: list[Any] | None, batch_size: int | None
) -> list[np.ndarray]:
    import keras

    flat = [np.asarray(value) for value in keras.tree.flatten(sample)]
    if inputs is not None:
        if len(flat) != len(inputs):
            raise ConfigurationError(
                f"The model has {len(inputs)} input(s) but the sample holds {len(flat)} "
                f"array(s). Received: sample with shapes {[a.shape for a in flat]}. Pass one "
                "array per input, in the structure the model is called with."
            )
        flat = [_fit(array, tensor) for array, tensor in zip(flat, inputs)]
    batches = {array.shape[0] for array in flat if array.ndim}
    if batch_size is not None and batches != {batch_size}:
        raise ConfigurationError(
            f"The export's batch size is fixed to {batch_size}, but the sample's batch is "
            f"{sorted(batches)}. Received: batch_size={batch_size}. Pass a sample of "
            f"{batch_size} rows."
        )
    return flat


def _fit(array: np.ndarray, tensor: Any) -> np.ndarray:
    """`array` as the input `tensor`'s dtype, after checking its fixed dimensions."""
    shape = tuple(tensor.shape)
    fits = array.ndim == len(shape) and all(
        expected is None or expected == actual
        for expected, actual in zip(shape[1:], array.shape[1:])
    )
    if not fits:
        raise ConfigurationError(
            f"The sample for input {tensor.name!r} has shape {array.shape}, but the input "
            f"takes {shape}. Received: sample of shape {array.shape}. Pass a batch of the "
            "model's input shape."
        )
    return array.astype(str(tensor.dtype), copy=False)


def _output_names(model: Any, result: Any, count: int) -> list[str]:
    """A name per flat output: the dict keys, else the model's output names, else positions."""
    flat_dict = isinstance(result, dict) and not any(
        isinstance(value, dict | list | tuple) for value in result.values()
    )
    if flat_dict:
        return sorted(result)
    import keras

    if isinstance(model, keras.Sequential) and count == 1 and model.layers:
        return [model.layers[-1].name]
    names = list(getattr(model, "output_names", None) or [])
    if len(names) == count and len(set(names)) == count:
        return names
    return [f"output_{index}" for index in range(count)]


def compare_outputs(
    probe: Probe, outputs: list[np.ndarray], *, format: str, label: str, atol: float,
    path: str | os.PathLike[str],
) -> dict[str, float]:
    """The largest absolute difference per output; `ExportError` above `atol`.

    NaN in the same place in both counts as equal; NaN in one only counts as infinitely far.
    """
    if len(outputs) != len(probe.outputs):
        raise ExportError(
            f"The {label} artifact has {len(outputs)} output(s) but the model has "
            f"{len(probe.outputs)}. Received: format={format!r}, path={str(path)!r}. "
            "Nothing was written.",
            format=format,
        )
    differences = {}
    for name, expected, got in zip(probe.output_names, probe.outputs, outputs):
        got = np.asarray(got)
        if got.shape != expected.shape:
            raise ExportError(
                f"The {label} artifact's output {name!r} has shape {got.shape}, but the "
                f"model's has {expected.shape} on {probe.description}. Received: "
                f"format={format!r}, path={str(path)!r}. Nothing was written.",
                format=format,
                output=name,
            )
        differences[name] = _max_abs_diff(expected, got)
    name, worst = max(differences.items(), key=lambda item: item[1])
    if worst > atol:
        raise ExportError(_mismatch_message(name, worst, probe, format, label, atol, path),
                          format=format, output=name, max_abs_diff=worst)
    return differences


def _max_abs_diff(expected: np.ndarray, got: np.ndarray) -> float:
    if expected.size == 0:
        return 0.0
    a = expected.astype(np.float64)
    b = got.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    difference = np.where(both_nan, 0.0, np.abs(a - b))
    difference = np.where(np.isnan(difference), np.inf, difference)
    return float(difference.max())


def _mismatch_message(
    name: str, worst: float, probe: Probe, format: str, label: str, atol: float,
    path: str | os.PathLike[str],
) -> str:
    shown = "inf" if math.isinf(worst) else f"{worst:.3g}"
    return (
        f"The {label} artifact does not compute what the model computes: output {name!r} "
        f"differs by up to {shown} (atol={atol:g}) on {probe.description}. Received: "
        f"format={format!r}, path={str(path)!r}. Nothing was written. If the model draws "
        "random numbers at inference (a Dropout or noise layer called with training=True), "
        "the artifact cannot match it; if the difference is floating-point rounding, pass a "
        "larger `atol`."
    )
