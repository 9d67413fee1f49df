"""One-call training with a run directory: checkpoints, logs and exact resume.

- `fit(model, x, y=None, *, epochs, run_dir=None, ...)`: `model.fit` with kerasx's default
  callbacks; with a `run_dir`, every epoch ends with an atomic resume state, and calling `fit`
  again after a crash, SIGKILL or SIGTERM continues exactly where the run stopped.
- `History`: the history `fit` returns, with `.plot()` and the epochs of resumed runs.
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

_OWN = {
    "fit": "kerasx.training._fit:fit",
    "History": "kerasx.training._history:History",
    "last_seed": "kerasx.training._history:last_seed",
    "seed_everything": "kerasx.training._history:seed_everything",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))

__all__ = ["History", "fit", "last_seed", "seed_everything"]

_facade = Facade(__name__, _OWN)
__getattr__, __dir__ = module_functions(_facade, globals())
