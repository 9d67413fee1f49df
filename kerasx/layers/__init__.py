"""Every Keras layer, by identity, plus kerasx's building blocks.

`kerasx.layers.Dense is keras.layers.Dense`: any public name of `keras.layers` is handed on
unchanged, so kerasx and Keras code mix freely. kerasx adds `dense_block`, `conv_block` and
`residual_block`, callables usable in the functional API and in `Sequential`.

Nothing is imported until a name is first used.

Example:

>>> import keras
>>> from kerasx import layers
>>> layers.Dense is keras.layers.Dense
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from keras.layers import *

    from kerasx.layers._blocks import conv_block, dense_block, residual_block

_OWN = {
    "dense_block": "kerasx.layers._blocks:dense_block",
    "conv_block": "kerasx.layers._blocks:conv_block",
    "residual_block": "kerasx.layers._blocks:residual_block",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))
"""kerasx's own additions to this module (the rest is `keras.layers`)."""

_facade = Facade(__name__, _OWN, keras_module="keras.layers")
__getattr__, __dir__ = module_functions(_facade, globals())
__all__: list[str]  # resolved lazily: kerasx's names and every public name of keras.layers

