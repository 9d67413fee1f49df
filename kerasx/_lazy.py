"""Lazy attribute tables for kerasx's facade modules (PEP 562).

A facade module (`kerasx.layers`, `kerasx.models`, `kerasx.callbacks`) hands on every public
name of one Keras module by identity, plus kerasx's own names, which live in private modules.
Nothing is imported until a name is first asked for.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Facade", "public_names"]


def public_names(module: Any) -> list[str]:
    """The public names of a module: `__all__` if it has one, else its non-underscore names."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in dir(module) if not name.startswith("_")]
    return sorted(names)


def _resolve(target: str) -> Any:
    """Import `"package.module:attr"` (or a whole module when there is no `:attr`)."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


class Facade:
    """The attribute table behind one facade module.

    Args:
        module_name: `__name__` of the facade module.
        own: kerasx's own names, mapped to `"module:attr"` targets. These win over Keras names.
        keras_module: dotted name of the Keras module re-exported by identity, or None.
    """

    def __init__(
        self,
        module_name: str,
        own: Mapping[str, str],
        keras_module: str | None = None,
    ) -> None:
        self.module_name = module_name
        self.own = dict(own)
        self.keras_module = keras_module

    def keras_names(self) -> list[str]:
        if self.keras_module is None:
            return []
        return public_names(importlib.import_module(self.keras_module))

    def all_names(self) -> list[str]:
        return sorted(set(self.own) | set(self.keras_names()))

    def getattr(self, name: str, namespace: dict[str, Any]) -> Any:
        """Resolve `name`, cache it in the module's namespace and return it."""
        if name == "__all__":
            value: Any = self.all_names()
        elif name in self.own:
            value = _resolve(self.own[name])
        elif name.startswith("__"):
            raise AttributeError(f"module {self.module_name!r} has no attribute {name!r}")
        elif self.keras_module is not None and name in self.keras_names():
            value = getattr(importlib.import_module(self.keras_module), name)
        else:
            raise AttributeError(self._unknown_message(name, namespace))
        namespace[name] = value
        return value

    def dir(self, namespace: Iterable[str]) -> list[str]:
        return sorted(set(namespace) | set(self.all_names()))

    def _unknown_message(self, name: str, namespace: Iterable[str]) -> str:
        candidates = [n for n in self.dir(namespace) if not n.startswith("_")]
        matches = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        if not matches:
            # Case-insensitive fallback catches `dense` -> `Dense`.
            lowered = {c.lower(): c for c in candidates}
            matches = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=3)]
        source = f" (nor in {self.keras_module})" if self.keras_module else ""
        message = f"module {self.module_name!r} has no attribute {name!r}{source}."
        if matches:
            message += " Did you mean: " + ", ".join(repr(m) for m in matches) + "?"
        return message


def module_functions(facade: Facade, namespace: dict[str, Any]) -> tuple[Callable[..., Any], ...]:
    """The `__getattr__` and `__dir__` functions a facade module assigns at its end."""

    def __getattr__(name: str) -> Any:
        return facade.getattr(name, namespace)

    def __dir__() -> list[str]:
        return facade.dir(namespace)

    return __getattr__, __dir__
