"""The table through which `DataGenerator`'s constructors reach the classes that build them.

`DataGenerator.from_arrays`, `from_generator` and `split` build subclasses that live in
`_sources.py`, a module that imports `_generator.py`; `_sources.py` names them here once, so
`_generator.py` reaches them without importing it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerasx.errors import MissingDependencyError

__all__ = ["constructor", "register_constructors"]

_CONSTRUCTORS: dict[str, Callable[..., Any]] = {}
"""What `DataGenerator.from_arrays`, `from_generator` and `split` call, by method name."""


def register_constructors(**constructors: Callable[..., Any]) -> None:
    """Name what `DataGenerator.from_arrays`, `from_generator` and `split` call.

    Args:
        **constructors: method name -> the class or function that builds its result.
    """
    _CONSTRUCTORS.update(constructors)


def constructor(name: str) -> Callable[..., Any]:
    """What the `DataGenerator` method `name` calls.

    Raises:
        MissingDependencyError: if `_sources.py`, which names it, was not imported.
    """
    found = _CONSTRUCTORS.get(name)
    if found is None:
        raise MissingDependencyError(
            f"DataGenerator.{name} is not available: the module that defines the generator "
            f"it builds was not imported. Received: a call to DataGenerator.{name} before "
            "kerasx.data loaded it. Import DataGenerator from kerasx.data "
            "(`from kerasx.data import DataGenerator`), which loads it."
        )
    return found
