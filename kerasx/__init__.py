"""kerasx: a thin, opinionated layer over tf.keras.

TensorFlow does the math, the devices and the distribution; kerasx does the ergonomics.
`import kerasx` is cheap: TensorFlow, Keras and matplotlib load on first use of a facade or
shortcut below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions
from kerasx._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from kerasx import (
        callbacks,
        data,
        datasets,
        errors,
        io,
        layers,
        models,
        runtime,
        testing,
        training,
        viz,
    )
    from kerasx.data import DataGenerator
    from kerasx.io import load, save
    from kerasx.training import History, LRFinderResult, fit, lr_find, seed_everything
    from kerasx.viz import plot_history, plot_model, summary

_LAZY = {
    # facades and modules
    "callbacks": "kerasx.callbacks",
    "data": "kerasx.data",
    "datasets": "kerasx.datasets",
    "errors": "kerasx.errors",
    "io": "kerasx.io",
    "layers": "kerasx.layers",
    "models": "kerasx.models",
    "runtime": "kerasx.runtime",
    "testing": "kerasx.testing",
    "training": "kerasx.training",
    "viz": "kerasx.viz",
    # top-level shortcuts
    "fit": "kerasx.training:fit",
    "History": "kerasx.training:History",
    "seed_everything": "kerasx.training:seed_everything",
    "lr_find": "kerasx.training:lr_find",
    "LRFinderResult": "kerasx.training:LRFinderResult",
    "DataGenerator": "kerasx.data:DataGenerator",
    "load": "kerasx.io:load",
    "save": "kerasx.io:save",
    "plot_history": "kerasx.viz:plot_history",
    "summary": "kerasx.viz:summary",
    "plot_model": "kerasx.viz:plot_model",
}

__all__ = ["__version__", *sorted(_LAZY)]

_facade = Facade(__name__, _LAZY)
__getattr__, __dir__ = module_functions(_facade, globals())
