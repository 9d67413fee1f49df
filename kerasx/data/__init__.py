"""Batch loading from Python: `DataGenerator`, a `keras.utils.PyDataset` that is hard to misuse.

A subclass implements one method, `load_batch(indices)`, and kerasx does the rest: the number
of batches, a new permutation of the samples each epoch drawn from `(seed, epoch)` so that runs
are reproducible and resumable, the partial last batch (or dropping it), checks that every batch
has the structure, shapes and dtypes of the first one, and errors that name the batch.
`DataGenerator.from_arrays` and `DataGenerator.from_generator` build one from arrays or from a
Python generator function; `to_dataset()` hands it to plain `model.fit` as a `tf.data.Dataset`.

Nothing heavy (NumPy, Keras) is imported until a name is first used.

Example:

```python
import numpy as np
from kerasx.data import DataGenerator

class Squares(DataGenerator):
    def __init__(self, n, **kwargs):
        super().__init__(n, **kwargs)
        self.x = np.arange(n, dtype="float32")[:, None]

    def load_batch(self, indices):
        x = self.x[indices]
        return x, x**2

gen = Squares(100, batch_size=16, seed=0)
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from kerasx.data._sources import DataGenerator

# `DataGenerator` is defined in `_generator.py`; it is loaded through `_sources.py`, which
# names the subclasses its `from_arrays`, `from_generator` and `split` build.
_OWN = {
    "DataGenerator": "kerasx.data._sources:DataGenerator",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))

__all__ = ["DataGenerator"]

_facade = Facade(__name__, _OWN)
__getattr__, __dir__ = module_functions(_facade, globals())
