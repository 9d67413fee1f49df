"""One-call training with a run directory: checkpoints, logs and exact resume.

- `fit(model, x, y=None, *, epochs, run_dir=None, ...)`: `model.fit` with kerasx's default
  callbacks; with a `run_dir`, every epoch ends with an atomic resume state, and calling `fit`
  again after a crash, SIGKILL or SIGTERM continues exactly where the run stopped.
- `History`: the history `fit` returns, with `.plot()` and the epochs of resumed runs.
- `lr_find(model, x, y=None, ...)`: the learning-rate range test; returns an `LRFinderResult`
  with the losses, a suggested learning rate and `.plot()`, and leaves the model, its optimizer
  and its learning rate exactly as they were.
- `seed_everything(seed, deterministic=False)`, `last_seed()`: one seed for Python, NumPy,
  TensorFlow and Keras.

Nothing heavy (TensorFlow, Keras) is imported until a name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from kerasx.training._fit import fit
    from kerasx.training._history import History, last_seed, seed_everything
    from kerasx.training._lr_find import lr_find
    from kerasx.training._lr_result import LRFinderResult

_OWN = {
    "fit": "kerasx.training._fit:fit",
    "History": "kerasx.training._history:History",
    "last_seed": "kerasx.training._history:last_seed",
    "lr_find": "kerasx.training._lr_find:lr_find",
    "LRFinderResult": "kerasx.training._lr_result:LRFinderResult",
    "seed_everything": "kerasx.training._history:seed_everything",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))

__all__ = ["History", "LRFinderResult", "fit", "last_seed", "lr_find", "seed_everything"]

_facade = Facade(__name__, _OWN)
__getattr__, __dir__ = module_functions(_facade, globals())
