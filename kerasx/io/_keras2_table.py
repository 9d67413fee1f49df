"""The Keras 2 -> Keras 3 translation table: plain data, read by the scan and the translator.

Every difference kerasx knows between a Keras 2.15 layer configuration and what Keras 3
accepts is one row here; `kerasx.io._keras2_translate` applies them and the safety scan reads
`TF_OPS` to decide which `TFOpLambda` layers are data rather than code. Nothing here imports
Keras. tests/io/test_keras2_table.py checks the table against every Keras 2.15 layer's
configuration keys (tests/io/fixtures/legacy/keras2_layer_configs.json) and Keras 3's
constructors, and tests each row.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "ANY",
    "CLASS_ROWS",
    "INITIALIZER_CLASSES",
    "KEY_ROWS",
    "TF_OPS",
    "ClassRow",
    "KeyRow",
    "OpRow",
    "key_rows_for",
]

ANY = "<any value>"
"""`KeyRow.expected` for a key dropped whatever its value."""


class KeyRow(NamedTuple):
    """One configuration key of one Keras 2 layer class that Keras 3 does not take as is.

    `action` is one of:

    - `"drop"`: Keras 3 has no such argument; dropped when its value is `expected` (or any
      value when `expected` is `ANY`), refused otherwise, since Keras 3 cannot honour it;
    - `"rename"`: the argument is called `new_key` in Keras 3, with the same meaning;
    - `"keras3"`: Keras 3 itself still reads and discards the key; kept, listed for completeness;
    - `"batch_to_input_shape"`: a new meaning: Keras 2's `batch_input_shape` (batch dimension
      first) becomes `input_shape` without it; Keras 3's legacy reader would otherwise keep
      the batch dimension in the model's input shape. `class_name` `"*"`: every class but
      `InputLayer`.
    """

    class_name: str
    key: str
    action: str
    expected: Any = None
    new_key: str | None = None
    why: str = ""


_RNNS = ("LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
_TRANSPOSED = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
_SEPARABLE = ("SeparableConv1D", "SeparableConv2D")
_SPATIAL = ("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")
_LOOKUPS = ("IntegerLookup", "StringLookup", "TextVectorization")

KEY_ROWS: tuple[KeyRow, ...] = (
    *(KeyRow(c, "time_major", "drop", False, why="Keras 3 RNNs are batch-major") for c in _RNNS),
    *(KeyRow(c, "groups", "drop", 1, why="no grouped transposed conv") for c in _TRANSPOSED),
    *(KeyRow(c, "groups", "drop", 1, why="depthwise: no `groups`") for c in _DEPTHWISE),
    *(KeyRow(c, "groups", "drop", 1, why="separable: no `groups`") for c in _SEPARABLE),
    *(
        KeyRow(c, key, "drop", ANY, why="Keras 2 never used it (depthwise_/pointwise_ are used)")
        for c in _SEPARABLE
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint")
    ),
    *(KeyRow(c, "noise_shape", "drop", None, why="set by the layer itself") for c in _SPATIAL),
    *(
        KeyRow("MultiHeadAttention", key, "drop", ANY, why="Keras 3 builds on the first call")
        for key in ("query_shape", "key_shape", "value_shape")
    ),
    KeyRow("LeakyReLU", "alpha", "rename", new_key="negative_slope", why="renamed in Keras 3"),
    *(
        KeyRow(c, "implementation", "keras3", why="read and ignored")
        for c in ("LSTM", "GRU", "LSTMCell", "GRUCell")
    ),
    KeyRow("Embedding", "input_length", "keras3", why="read and ignored"),
    KeyRow(
        "*",
        "batch_input_shape",
        "batch_to_input_shape",
        new_key="input_shape",
        why="the first layer of a Sequential: its input shape, batch dimension first",
    ),
    KeyRow("InputLayer", "batch_input_shape", "keras3", why="read as `batch_shape`"),
    *(KeyRow(c, "vocabulary_size", "keras3", why="read and ignored") for c in _LOOKUPS),
)
"""Every key-level difference, one tested row each."""


class ClassRow(NamedTuple):
    """One Keras 2 class that Keras 3 lacks: replaced by `new_class`, or refused (None).

    `renamed_keys` maps the old class's keys to the new class's (dropping none).
    """

    class_name: str
    new_class: str | None
    renamed_keys: tuple[tuple[str, str], ...] = ()
    why: str = ""


CLASS_ROWS: tuple[ClassRow, ...] = (
    ClassRow("ThresholdedReLU", "ReLU", (("theta", "threshold"),), "ReLU(threshold=theta)"),
    ClassRow("CustomScaleLayer", "kerasx>ScaleSum", (), "InceptionResNetV2's residual sum"),
    ClassRow("LayerScale", "kerasx>LayerScale", (), "ConvNeXt's per-channel scale"),
    ClassRow("LocallyConnected1D", None, (), "removed in Keras 3; no equivalent layer"),
    ClassRow("LocallyConnected2D", None, (), "removed in Keras 3; no equivalent layer"),
    ClassRow("RandomHeight", None, (), "removed in Keras 3; use keras.layers.Resizing"),
    ClassRow("RandomWidth", None, (), "removed in Keras 3; use keras.layers.Resizing"),
    ClassRow("DenseFeatures", None, (), "feature columns are not part of Keras 3"),
    ClassRow("AbstractRNNCell", None, (), "an abstract base class, never in a saved model"),
)
"""Class-level differences."""

INITIALIZER_CLASSES: dict[str, str] = {
    name: name
    for name in (
        "Constant",
        "Zeros",
        "Ones",
        "GlorotUniform",
        "GlorotNormal",
        "HeNormal",
        "HeUniform",
        "LecunNormal",
        "LecunUniform",
        "RandomNormal",
        "RandomUniform",
        "TruncatedNormal",
        "VarianceScaling",
        "Orthogonal",
        "Identity",
    )
}
"""TensorFlow's own initializer classes (their module path is
`kerasx._compat.file_modules.TF_INITIALIZER_MODULE`) -> the `keras.initializers` class of the
same configuration."""


class OpRow(NamedTuple):
    """One TensorFlow op a Keras 2 `TFOpLambda` may call: how kerasx rebuilds it.

    `kind` says how the call's arguments are read:

    - `"binary"`: `x` and `y`, each a tensor or a number; `target` is `add`, `subtract`,
      `multiply` or `divide`;
    - `"unary"`: `x` alone; `target` is a Keras 3 layer configuration;
    - `"reduce"`: `x`, `axis`, `keepdims`; `target` is a `kerasx>TensorOp` op;
    - `"reshape"`, `"transpose"`, `"concat"`: the shape op of that name.

    `arguments` lists the keyword arguments the call may carry; any other one is refused.
    `fixed` pairs some of them with the only value the rebuilt layer honours (the op's
    default, for a parameter the Keras 3 layer lacks); a call with another value is refused.
    """

    kind: str
    target: Any
    arguments: tuple[str, ...]
    fixed: tuple[tuple[str, float], ...] = ()


_BINARY = ("y", "name")
_REDUCE = ("axis", "keepdims", "name")

TF_OPS: dict[str, OpRow] = {
    "__operators__.add": OpRow("binary", "add", _BINARY),
    "math.add": OpRow("binary", "add", _BINARY),
    "math.subtract": OpRow("binary", "subtract", _BINARY),
    "math.multiply": OpRow("binary", "multiply", _BINARY),
    "math.truediv": OpRow("binary", "divide", _BINARY),
    "math.divide": OpRow("binary", "divide", _BINARY),
    "nn.relu": OpRow("unary", {"class_name": "ReLU", "config": {}}, ("name",)),
    "nn.relu6": OpRow("unary", {"class_name": "ReLU", "config": {"max_value": 6.0}}, ("name",)),
    "math.sigmoid": OpRow(
        "unary", {"class_name": "Activation", "config": {"activation": "sigmoid"}}, ("name",)
    ),
    "math.tanh": OpRow(
        "unary", {"class_name": "Activation", "config": {"activation": "tanh"}}, ("name",)
    ),
    "nn.silu": OpRow(
        "unary",
        {"class_name": "Activation", "config": {"activation": "silu"}},
        ("name", "beta"),
        fixed=(("beta", 1.0),),  # Keras 3's silu is x * sigmoid(x): no beta
    ),
    "math.abs": OpRow("unary", {"class_name": "kerasx>TensorOp", "config": {"op": "abs"}}, ()),
    "math.square": OpRow(
        "unary", {"class_name": "kerasx>TensorOp", "config": {"op": "square"}}, ("name",)
    ),
    "math.sqrt": OpRow(
        "unary", {"class_name": "kerasx>TensorOp", "config": {"op": "sqrt"}}, ("name",)
    ),
    "math.reduce_mean": OpRow("reduce", "mean", _REDUCE),
    "math.reduce_sum": OpRow("reduce", "sum", _REDUCE),
    "math.reduce_max": OpRow("reduce", "max", _REDUCE),
    "math.reduce_min": OpRow("reduce", "min", _REDUCE),
    "reshape": OpRow("reshape", "Reshape", ("shape", "name")),
    "compat.v1.transpose": OpRow("transpose", "Permute", ("perm", "name", "conjugate")),
    "transpose": OpRow("transpose", "Permute", ("perm", "name", "conjugate")),
    "concat": OpRow("concat", "Concatenate", ("axis", "name")),
}
"""The allow-list: the TensorFlow ops (as Keras 2 names them) kerasx rebuilds without TF."""


def key_rows_for(class_name: str) -> tuple[KeyRow, ...]:
    """The `KEY_ROWS` of one Keras 2 layer class."""
    every = class_name != "InputLayer"
    return tuple(
        row for row in KEY_ROWS if row.class_name == class_name or (every and row.class_name == "*")
    )
