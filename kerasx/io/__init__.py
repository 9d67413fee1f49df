"""Save and load every Keras format, safely and atomically.

- `save(model, path)`, `load(path, *, custom_objects=None, compile=True, trusted=False)`:
  whole models as `.keras` or legacy `.h5` (Keras 2 files included).
- `save_weights(model, path)`, `load_weights(model, path, *, skip_mismatch=False)`: any
  `*.h5` name; `load_weights` also reads the weights of a full-model `.h5` or `.keras`.
- `to_json(model, path=None)`, `from_json(text_or_path, *, custom_objects=None,
  trusted=False)`: the architecture alone.
- `export(model, path, *, format="saved_model", verify=True, ...)`: a SavedModel, ONNX or
  LiteRT artifact for serving, read back with its own runtime and checked against the model;
  it returns an `ExportReport`.
- `inspect(path)`: describe a file without deserialising it (safe on malicious files).
- `convert(src, dst)`: migrate a file to another format.
- `save_history(history, path)`, `load_history(path)`: histories as JSON or CSV.

Loading is safe by default: a file is read once into memory, its configuration is scanned
for anything that could run code (and refused with `UnsafeModelError`), and deserialisation
runs in Keras's safe mode. Every write goes through a temporary file, fsync and `os.replace`.
Nothing heavy is imported until a function is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from kerasx.io._convert import convert
    from kerasx.io._dispatch import load, save
    from kerasx.io._export import ExportReport, export
    from kerasx.io._format_json import from_json, to_json
    from kerasx.io._format_weights import load_weights, save_weights
    from kerasx.io._history import load_history, save_history
    from kerasx.io._inspect import inspect

_OWN = {
    "save": "kerasx.io._dispatch:save",
    "load": "kerasx.io._dispatch:load",
    "save_weights": "kerasx.io._format_weights:save_weights",
    "load_weights": "kerasx.io._format_weights:load_weights",
    "to_json": "kerasx.io._format_json:to_json",
    "from_json": "kerasx.io._format_json:from_json",
    "export": "kerasx.io._export:export",
    "ExportReport": "kerasx.io._export:ExportReport",
    "convert": "kerasx.io._convert:convert",
    "inspect": "kerasx.io._inspect:inspect",
    "save_history": "kerasx.io._history:save_history",
    "load_history": "kerasx.io._history:load_history",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))

__all__ = [
    "ExportReport",
    "convert",
    "export",
    "from_json",
    "inspect",
    "load",
    "load_history",
    "load_weights",
    "save",
    "save_history",
    "save_weights",
    "to_json",
]

_facade = Facade(__name__, _OWN)
__getattr__, __dir__ = module_functions(_facade, globals())
