"""Batch loading from Python: `DataGenerator`, a `keras.utils.PyDataset` that is hard to misuse.

Filled in by the kerasx.data work (see DESIGN.md).
"""

from __future__ import annotations

__all__: list[str] = []
