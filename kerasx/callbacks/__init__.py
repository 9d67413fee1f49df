"""Every Keras callback, by identity, plus kerasx's own callbacks.

`kerasx.callbacks.EarlyStopping is keras.callbacks.EarlyStopping`. kerasx adds:

- `defaults(run_dir, ...)`: the callbacks `kerasx.fit` uses.
- `Checkpoint`: best and last checkpoints, written atomically, with what exact resume needs.
- `HistoryLogger`: CSV and JSON logs, one row per epoch, appended across resumed runs.
- `TensorBoardLogger`: TensorBoard scalars per epoch, each epoch exactly once across resumes.
- `ProgressBar`: tqdm bars in terminals and notebooks, plain lines in CI logs.
- `LivePlot`: loss and metric curves redrawn after each epoch.
- `WeightMonitor`: per-layer weight statistics, and a stop on NaN or Inf weights.

Nothing is imported until a name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from keras.callbacks import *

    from kerasx.callbacks._checkpoint import Checkpoint
    from kerasx.callbacks._defaults import defaults
    from kerasx.callbacks._history_logger import HistoryLogger
    from kerasx.callbacks._live_plot import LivePlot
    from kerasx.callbacks._progress import ProgressBar
    from kerasx.callbacks._tensorboard import TensorBoardLogger
    from kerasx.callbacks._weight_monitor import WeightMonitor

_OWN = {
    "defaults": "kerasx.callbacks._defaults:defaults",
    "Checkpoint": "kerasx.callbacks._checkpoint:Checkpoint",
    "HistoryLogger": "kerasx.callbacks._history_logger:HistoryLogger",
    "TensorBoardLogger": "kerasx.callbacks._tensorboard:TensorBoardLogger",
    "ProgressBar": "kerasx.callbacks._progress:ProgressBar",
    "LivePlot": "kerasx.callbacks._live_plot:LivePlot",
    "WeightMonitor": "kerasx.callbacks._weight_monitor:WeightMonitor",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))
"""kerasx's own additions to this module (the rest is `keras.callbacks`)."""

_facade = Facade(__name__, _OWN, keras_module="keras.callbacks")
__getattr__, __dir__ = module_functions(_facade, globals())
