"""Every Keras model name, by identity, plus builders, `compile` and Keras 2 style save/load.

`kerasx.models.Sequential is keras.models.Sequential` and likewise `Model` and `clone_model`;
`Input` is `keras.Input`. kerasx adds:

- `mlp`, `cnn`, `rnn`: builders returning a `keras.Model`.
- `compile(model, task="auto", ...)`: loss and metrics inferred, fast defaults.
- `load_model`, `save_model`, `model_from_json`: the Keras 2 style calls, working on Keras 3 for
  every format and safe by default. They are `kerasx.io.load`, `kerasx.io.save` and
  `kerasx.io.from_json` under the names Keras users know, and so they are *not* the
  Keras functions of the same names.

Nothing is imported until a name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from keras import Input
    from keras.models import Model, Sequential, clone_model

    from kerasx.io import from_json as model_from_json
    from kerasx.io import load as load_model
    from kerasx.io import save as save_model
    from kerasx.models._builders import cnn, mlp, rnn
    from kerasx.models._compile import compile

_OWN = {
    "Input": "keras:Input",
    "mlp": "kerasx.models._builders:mlp",
    "cnn": "kerasx.models._builders:cnn",
    "rnn": "kerasx.models._builders:rnn",
    "compile": "kerasx.models._compile:compile",
    "load_model": "kerasx.io:load",
    "save_model": "kerasx.io:save",
    "model_from_json": "kerasx.io:from_json",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))
"""Names this module defines itself; all other names are `keras.models`'s, by identity."""

OVERRIDDEN_KERAS_NAMES: tuple[str, ...] = ("load_model", "model_from_json", "save_model")
"""Keras names this module deliberately replaces with kerasx's safe versions."""

_facade = Facade(__name__, _OWN, keras_module="keras.models")
__getattr__, __dir__ = module_functions(_facade, globals())
