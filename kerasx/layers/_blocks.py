"""Building blocks: `dense_block`, `conv_block`, `residual_block` (exposed as `kerasx.layers.*`).

Each block is a Keras layer, so it works in the functional API (`x = conv_block(32)(x)`) and
in `Sequential([...])`:

- `dense_block` and `conv_block` return a `keras.Sequential` of standard Keras layers, so a
  model using them saves and loads anywhere, without kerasx.
- `residual_block` returns a `ResidualBlock`, a Keras layer registered as
  `"kerasx>ResidualBlock"`. A residual connection cannot be written as a `Sequential`, and a
  functional sub-model needs its input shape when it is created, which a block placed in
  `Sequential([...])` does not know; a registered layer works in both places. Loading a model
  that contains one needs this module imported (`kerasx.io.load` does; with plain Keras,
  `import kerasx.layers._blocks` first, or pass `custom_objects`).
"""

from __future__ import annotations

from typing import Any

import keras

from kerasx.errors import ConfigurationError

__all__ = ["ResidualBlock", "conv_block", "dense_block", "residual_block"]


def _check_positive(value: Any, arg: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}.")


def _check_rate(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigurationError(
            f"`dropout` must be a rate in [0, 1). Received: dropout={value!r}."
        )


def _block_name(name: str | None, prefix: str) -> str:
    if name is None:
        return f"{prefix}_{keras.backend.get_uid(prefix)}"
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"`name` must be a non-empty string. Received: name={name!r}.")
    return name


def dense_block(
    units: int,
    *,
    activation: Any = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    name: str | None = None,
) -> Any:
    """Dense -> (BatchNormalization) -> activation -> (Dropout), as one `keras.Sequential`.

    Args:
        units: units of the Dense layer.
        activation: activation function. Defaults to `"relu"`.
        dropout: dropout rate; 0 adds no Dropout layer. Defaults to `0.0`.
        batch_norm: Dense without bias, then BatchNormalization, then the activation.
            Defaults to `False`.
        name: name of the block. Defaults to `None` (`"dense_block_<n>"`).

    Returns:
        A `keras.Sequential` of standard Keras layers, usable as a layer.

    Raises:
        ConfigurationError: if `units` is not a positive integer or `dropout` not in [0, 1).

    Example:

    >>> import keras
    >>> from kerasx.layers import dense_block
    >>> x = keras.Input((16,))
    >>> dense_block(8, dropout=0.1)(x).shape
    (None, 8)
    """
    _check_positive(units, "units")
    _check_rate(dropout)
    layers: list[Any] = []
    if batch_norm:
        layers.append(keras.layers.Dense(units, use_bias=False, name="dense"))
        layers.append(keras.layers.BatchNormalization(name="bn"))
        layers.append(keras.layers.Activation(activation, name="act"))
    else:
        layers.append(keras.layers.Dense(units, activation=activation, name="dense"))
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout"))
    return keras.Sequential(layers, name=_block_name(name, "dense_block"))


def conv_block(
    filters: int,
    *,
    kernel_size: int | tuple[int, int] = 3,
    pool_size: int | tuple[int, int] | None = 2,
    batch_norm: bool = False,
    dropout: float = 0.0,
    name: str | None = None,
) -> Any:
    """Conv2D ("same" padding, ReLU) -> (BatchNormalization) -> (MaxPooling2D) -> (Dropout).

    Args:
        filters: number of convolution filters.
        kernel_size: convolution kernel size. Defaults to `3`.
        pool_size: max-pooling size, or None for no pooling. Defaults to `2`.
        batch_norm: Conv2D without bias, then BatchNormalization, then ReLU. Defaults to
            `False`.
        dropout: dropout rate; 0 adds no Dropout layer. Defaults to `0.0`.
        name: name of the block. Defaults to `None` (`"conv_block_<n>"`).

    Returns:
        A `keras.Sequential` of standard Keras layers, usable as a layer.

    Raises:
        ConfigurationError: if `filters` is not a positive integer or `dropout` not in [0, 1).

    Example:

    >>> import keras
    >>> from kerasx.layers import conv_block
    >>> x = keras.Input((8, 8, 1))
    >>> conv_block(4)(x).shape
    (None, 4, 4, 4)
    """
    _check_positive(filters, "filters")
    _check_rate(dropout)
    layers: list[Any] = []
    if batch_norm:
        layers.append(
            keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name="conv")
        )
        layers.append(keras.layers.BatchNormalization(name="bn"))
        layers.append(keras.layers.Activation("relu", name="act"))
    else:
        layers.append(
            keras.layers.Conv2D(
                filters, kernel_size, padding="same", activation="relu", name="conv"
            )
        )
    if pool_size is not None and pool_size != 1:
        layers.append(keras.layers.MaxPooling2D(pool_size, name="pool"))
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout"))
    return keras.Sequential(layers, name=_block_name(name, "conv_block"))


@keras.saving.register_keras_serializable(package="kerasx")
class ResidualBlock(keras.layers.Layer):
    """`relu(shortcut(x) + conv_2(relu(conv_1(x))))`, both convolutions with "same" padding.

    The shortcut is the identity when `x` already has `filters` channels, else a 1x1 Conv2D
    (`shortcut`) that projects it.

    Args:
        filters: channels of both convolutions and of the output.
        kernel_size: convolution kernel size. Defaults to `3`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int] = 3, **kwargs: Any):
        super().__init__(**kwargs)
        _check_positive(filters, "filters")
        self.filters = filters
        self.kernel_size = kernel_size
        self.conv_1 = keras.layers.Conv2D(
            filters, kernel_size, padding="same", activation="relu", name="conv_1"
        )
        self.conv_2 = keras.layers.Conv2D(filters, kernel_size, padding="same", name="conv_2")
        self.shortcut: Any = None
        self.add = keras.layers.Add(name="add")
        self.activation = keras.layers.Activation("relu", name="act")

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != 4:
            raise ConfigurationError(
                "residual_block expects image feature maps (batch, height, width, channels). "
                f"Received: input_shape={tuple(input_shape)}. Use it after a Conv2D or on "
                "4-D inputs."
            )
        self.conv_1.build(input_shape)
        inner = (*input_shape[:-1], self.filters)
        self.conv_2.build(inner)
        if input_shape[-1] != self.filters:
            self.shortcut = keras.layers.Conv2D(self.filters, 1, name="shortcut")
            self.shortcut.build(input_shape)

    def call(self, inputs: Any) -> Any:
        x = self.conv_2(self.conv_1(inputs))
        skip = self.shortcut(inputs) if self.shortcut is not None else inputs
        return self.activation(self.add([skip, x]))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size})
        return config


def residual_block(
    filters: int, *, kernel_size: int | tuple[int, int] = 3, name: str | None = None
) -> Any:
    """A residual block of two convolutions and a skip connection (see `ResidualBlock`).

    Args:
        filters: channels of the convolutions and of the output.
        kernel_size: convolution kernel size. Defaults to `3`.
        name: name of the block. Defaults to `None` (`"residual_block_<n>"`).

    Returns:
        A `ResidualBlock` layer.

    Raises:
        ConfigurationError: if `filters` is not a positive integer.

    Example:

    >>> import keras
    >>> from kerasx.layers import residual_block
    >>> x = keras.Input((8, 8, 3))
    >>> residual_block(16)(x).shape
    (None, 8, 8, 16)
    """
    _check_positive(filters, "filters")
    return ResidualBlock(filters, kernel_size, name=_block_name(name, "residual_block"))
