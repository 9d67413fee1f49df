"""Skipping the random initial values of a model that is about to receive a file's weights.

Keras's loaders build the model with its initializers, then overwrite every variable with the
file's values, so the random numbers are drawn for nothing. Keras has no public switch for
this, so `random_initializers_give_zeros` replaces one private method for the length of the
load only: `Variable._initialize_with_initializer` (on the class of `keras.Variable`'s MRO that
defines it: `keras.src.backend.tensorflow.core.Variable`, checked on Keras 3.12.0 and 3.15.1).

The replacement is safe across threads:

- it changes what happens only in the threads inside the scope (a thread-local count); every
  other thread's variables are initialised exactly as before;
- a lock and a process-wide count make the first thread to enter install it and the last to
  leave put the original back, whatever order concurrent loads finish in;
- it is removed in `finally`, so after the load returns or raises the class holds its own
  method again (the same object).

This is the fast path `zero_initial_values_on_load`: without the internals, or with
`KERASX_DISABLE_FAST_PATHS=1`, the scope does nothing and Keras draws the random values.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import threading
from collections.abc import Iterator
from typing import Any

from kerasx._compat import fast_path_enabled, register_fast_path

__all__ = ["ZERO_INITIAL_VALUES", "random_initializers_give_zeros"]

_log = logging.getLogger(__name__)

_METHOD = "_initialize_with_initializer"
_RANDOM_INITIALIZERS = "keras.src.initializers.random_initializers"


def _defining_class() -> type:
    """The class in `keras.Variable`'s MRO that defines `_initialize_with_initializer`."""
    import keras

    for cls in keras.Variable.__mro__:
        if _METHOD in vars(cls):
            return cls
    raise AttributeError(f"keras.Variable has no {_METHOD}")


def _random_initializer_class() -> Any:
    return importlib.import_module(_RANDOM_INITIALIZERS).RandomInitializer


def _probe() -> bool:
    method = vars(_defining_class())[_METHOD]
    parameters = list(inspect.signature(method).parameters)
    return parameters == ["self", "initializer"] and isinstance(_random_initializer_class(), type)


ZERO_INITIAL_VALUES = register_fast_path(
    "zero_initial_values_on_load",
    "while kerasx rebuilds a model whose weights a file then fills, Keras's random "
    "initializers give zeros instead of drawing numbers that are overwritten at once; the "
    "public path lets Keras draw them (a load then takes longer, with the same result).",
    _probe,
).name

_LOCK = threading.Lock()
_THREAD = threading.local()


class _Installed:
    """The one installed replacement: where it went, what it replaced, how many threads use it."""

    users = 0
    owner: type | None = None
    original: Any = None
    replacement: Any = None


def _install() -> None:
    """Replace the method (called with `_LOCK` held, by the first thread to enter)."""
    owner = _defining_class()
    original = vars(owner)[_METHOD]
    zeros = importlib.import_module("keras").initializers.Zeros()
    random_initializer = _random_initializer_class()

    def initialize_with_initializer(self: Any, initializer: Any) -> Any:
        if getattr(_THREAD, "depth", 0) and isinstance(initializer, random_initializer):
            initializer = zeros
        return original(self, initializer)

    setattr(owner, _METHOD, initialize_with_initializer)
    _Installed.owner, _Installed.original = owner, original
    _Installed.replacement = initialize_with_initializer


def _uninstall() -> None:
    """Put the original back (called with `_LOCK` held, by the last thread to leave)."""
    owner = _Installed.owner
    if owner is not None and vars(owner).get(_METHOD) is _Installed.replacement:
        setattr(owner, _METHOD, _Installed.original)
    elif owner is not None:  # someone replaced it over ours: theirs stays, ours is inert now
        _log.debug("%s.%s was replaced during a kerasx load; left as it is", owner, _METHOD)
    _Installed.owner = _Installed.original = _Installed.replacement = None


@contextlib.contextmanager
def random_initializers_give_zeros() -> Iterator[None]:
    """While the scope lasts, in this thread only, Keras's random initializers give zeros.

    For rebuilding a model whose every variable is then filled from a file: a variable the
    file does not fill makes Keras's loader raise, so the zeros never reach a model a load
    returns. The layers keep their initializer objects, so `get_config()` and later
    re-initialisation are unchanged. Does nothing when the fast path
    `zero_initial_values_on_load` is off.
    """
    if not fast_path_enabled(ZERO_INITIAL_VALUES):
        yield
        return
    with _LOCK:
        if _Installed.users == 0:
            _install()
        _Installed.users += 1
    _THREAD.depth = getattr(_THREAD, "depth", 0) + 1
    try:
        yield
    finally:
        _THREAD.depth -= 1
        with _LOCK:
            _Installed.users -= 1
            if _Installed.users == 0:
                _uninstall()
