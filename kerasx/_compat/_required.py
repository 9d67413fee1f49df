"""Reaching one attribute of a private Keras module that a feature cannot do without."""

from __future__ import annotations

import importlib
from typing import Any

from kerasx._compat import internal_module

__all__ = ["has_attributes", "required_attribute"]


def required_attribute(module: str, name: str, *, needed_for: str) -> Any:
    """The attribute `name` of the private module `module`, or a clear error.

    Args:
        module: the dotted module name, e.g. `"keras.src.saving.serialization_lib"`.
        name: the attribute, e.g. `"SafeModeScope"`.
        needed_for: what the caller does with it, for the message.

    Returns:
        The attribute.

    Raises:
        MissingDependencyError: this Keras has no such module or no such attribute; the
            message names the installed Keras, the tested range and the fix.
    """
    owner = internal_module(module, needed_for=needed_for)
    try:
        return getattr(owner, name)
    except AttributeError:
        # Not a module either, so this raises the same message `internal_module` gives for a
        # missing module, naming `module.name`.
        internal_module(f"{module}.{name}", needed_for=needed_for)
        raise  # pragma: no cover - `internal_module` raised above


def has_attributes(module: str, *names: str) -> bool:
    """Whether the private module `module` imports and has every attribute in `names`."""
    try:
        owner = importlib.import_module(module)
    except ImportError:
        return False
    return all(hasattr(owner, name) for name in names)
