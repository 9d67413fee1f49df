"""Save and load every Keras format, safely and atomically.

Filled in by the kerasx.io work (see DESIGN.md): `save`, `load`, `save_weights`,
`load_weights`, `to_json`, `from_json`, `export`, `inspect`, `convert`, `save_history`,
`load_history`.
"""

from __future__ import annotations

__all__: list[str] = []
