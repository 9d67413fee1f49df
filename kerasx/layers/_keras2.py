"""Safe stand-ins for layers that Keras 2 model files name but Keras 3 does not register.

Reading a Keras 2 file (see `kerasx.io._keras2_translate`) replaces:

- `CustomScaleLayer` of `tf.keras.applications.InceptionResNetV2` with `ScaleSum`;
- `LayerScale` of `tf.keras.applications.ConvNeXt*` with `LayerScale` below;
- a `TFOpLambda` calling an allow-listed TensorFlow op that has no Keras 3 built-in (a division
  by a tensor, `reduce_mean` over some axes, ...) with `TensorOp`, which calls a `keras.ops`
  function chosen from a fixed table by a name it validates.

All three are registered with Keras under the package `kerasx`, hold only numbers in their
configuration, and never import or call anything named in a file.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["TENSOR_OPS", "LayerScale", "ScaleSum", "TensorOp"]


@keras.saving.register_keras_serializable(package="kerasx")
class ScaleSum(keras.layers.Layer):
    """`inputs[0] + inputs[1] * scale`: InceptionResNetV2's residual sum (`CustomScaleLayer`).

    Args:
        scale: the factor of the residual branch.
        **kwargs: the base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(self, scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs: Any) -> Any:
        return inputs[0] + inputs[1] * self.scale

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="kerasx")
class LayerScale(keras.layers.Layer):
    """`x * gamma`, one trained factor per channel: ConvNeXt's layer scale.

    Args:
        init_values: the initial value of every factor.
        projection_dim: the number of channels.
        **kwargs: the base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(self, init_values: float, projection_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_values = float(init_values)
        self.projection_dim = int(projection_dim)

    def build(self, input_shape: Any) -> None:
        self.gamma = self.add_weight(
            shape=(self.projection_dim,),
            initializer=keras.initializers.Constant(self.init_values),
            trainable=True,
            name="gamma",
        )

    def call(self, inputs: Any) -> Any:
        return inputs * self.gamma

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "init_values": self.init_values,
            "projection_dim": self.projection_dim,
        }


def _binary(name: str) -> Any:
    return lambda inputs, **_: getattr(keras.ops, name)(inputs[0], inputs[1])


TENSOR_OPS: dict[str, Any] = {
    "add": _binary("add"),
    "subtract": _binary("subtract"),
    "multiply": _binary("multiply"),
    "divide": _binary("divide"),
    "maximum": _binary("maximum"),
    "minimum": _binary("minimum"),
    "mean": lambda x, axis=None, keepdims=False: keras.ops.mean(x, axis=axis, keepdims=keepdims),
    "sum": lambda x, axis=None, keepdims=False: keras.ops.sum(x, axis=axis, keepdims=keepdims),
    "max": lambda x, axis=None, keepdims=False: keras.ops.max(x, axis=axis, keepdims=keepdims),
    "min": lambda x, axis=None, keepdims=False: keras.ops.min(x, axis=axis, keepdims=keepdims),
    "square": lambda x: keras.ops.square(x),
    "sqrt": lambda x: keras.ops.sqrt(x),
    "abs": lambda x: keras.ops.abs(x),
    "exp": lambda x: keras.ops.exp(x),
    "negative": lambda x: keras.ops.negative(x),
}
"""The `keras.ops` computations `TensorOp` may run, by the name its configuration holds."""


def _check_axis(axis: Any) -> Any:
    if axis is None or isinstance(axis, int):
        return axis
    if isinstance(axis, list | tuple) and all(isinstance(a, int) for a in axis):
        return list(axis)
    raise ValueError(f"`axis` must be None, an int or a list of ints. Received: axis={axis!r}")


@keras.saving.register_keras_serializable(package="kerasx")
class TensorOp(keras.layers.Layer):
    """One `keras.ops` computation named by `op`, from the fixed table `TENSOR_OPS`.

    Two-tensor ops (`add`, `divide`, ...) take a list of two inputs; reductions (`mean`, `sum`,
    `max`, `min`) take `axis` and `keepdims`.

    Args:
        op: a key of `TENSOR_OPS`.
        axis: the reduction axis (an int, a list of ints or None). Defaults to `None`.
        keepdims: keep reduced axes as size 1. Defaults to `False`.
        **kwargs: the base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: `op` is not in the table, or `axis`/`keepdims` is malformed.
    """

    def __init__(self, op: str, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(op, str) or op not in TENSOR_OPS:
            raise ValueError(f"`op` must be one of {sorted(TENSOR_OPS)}. Received: op={op!r}.")
        if not isinstance(keepdims, bool):
            raise ValueError(f"`keepdims` must be a bool. Received: keepdims={keepdims!r}")
        self.op = op
        self.axis = _check_axis(axis)
        self.keepdims = keepdims

    def call(self, inputs: Any) -> Any:
        function = TENSOR_OPS[self.op]
        if self.op in ("mean", "sum", "max", "min"):
            return function(inputs, axis=self.axis, keepdims=self.keepdims)
        return function(inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "op": self.op,
            "axis": self.axis,
            "keepdims": self.keepdims,
        }
