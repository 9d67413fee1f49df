"""The one place where kerasx touches Keras's and TensorFlow's internals.

Keras's private modules (`keras.src...`), TensorFlow's (`tensorflow.python...`) and private
attributes of their objects change between minor releases. kerasx reaches them only through
the modules of this package, one small named function per touch, each documented with what it
does, the Keras versions it was checked on, and what happens on other versions:

- a *fast path* (a speed-up over a public API) switches off, with one warning, when the
  internals it needs are missing, and kerasx takes the public path instead;
- a *required* internal (no public API does the job) raises `MissingDependencyError`, which
  names the Keras version and the supported range.

Setting the environment variable `KERASX_DISABLE_FAST_PATHS=1` switches every fast path off,
as on a Keras newer than the tested range; `kerasx doctor` reports which are active.
`tests/test_architecture.py` checks that no other module imports `keras.src` or
`tensorflow.python`.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kerasx.errors import MissingDependencyError

__all__ = [
    "DISABLE_FAST_PATHS_ENV",
    "TESTED_KERAS",
    "TESTED_TENSORFLOW",
    "FastPath",
    "fast_path_enabled",
    "fast_paths",
    "fast_paths_disabled",
    "internal_module",
    "keras_version",
    "register_fast_path",
    "version_tuple",
]

TESTED_KERAS: tuple[str, str] = ("3.12.0", "3.15.1")
"""The oldest and newest Keras the test suite runs on in CI."""

TESTED_TENSORFLOW: tuple[str, str] = ("2.21.0", "2.21.0")
"""The oldest and newest TensorFlow the test suite runs on in CI."""

DISABLE_FAST_PATHS_ENV = "KERASX_DISABLE_FAST_PATHS"
"""Set to `1` to take the public path everywhere, as on an untested Keras."""


def version_tuple(version: str) -> tuple[int, ...]:
    """`"3.15.1"` -> `(3, 15, 1)`; `"2.21.0rc1"` -> `(2, 21, 0)`; local suffixes are ignored."""
    numbers = []
    for part in version.split("+")[0].split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
        if digits.group() != part:
            break
    return tuple(numbers)


def keras_version() -> str:
    """The installed Keras's version string (imports Keras)."""
    import keras

    return str(keras.__version__)


def fast_paths_disabled() -> bool:
    """Whether `KERASX_DISABLE_FAST_PATHS` asks for the public path everywhere."""
    return os.environ.get(DISABLE_FAST_PATHS_ENV, "").strip().lower() not in {"", "0", "false"}


@dataclass(frozen=True)
class FastPath:
    """A speed-up that needs Keras or TensorFlow internals.

    Attributes:
        name: a short identifier, as `kerasx doctor` prints it.
        description: what the fast path does and what the public path costs instead.
        probe: returns True when the internals it needs are present (never raises).
    """

    name: str
    description: str
    probe: Callable[[], bool]


FAST_PATH_MODULES: tuple[str, ...] = (
    "kerasx._compat.graph",
    "kerasx._compat.initializers",
    "kerasx._compat.keras_archive",
    "kerasx._compat.training",
    "kerasx._compat.saving",
)
"""The compatibility modules that register fast paths; `fast_paths()` imports them all."""

_REGISTRY: dict[str, FastPath] = {}
_PROBED: dict[str, bool] = {}
_WARNED: set[str] = set()
_LOCK = threading.Lock()


def register_fast_path(name: str, description: str, probe: Callable[[], bool]) -> FastPath:
    """Declare a fast path (once, at import of the compatibility module that owns it)."""
    path = FastPath(name, description, probe)
    _REGISTRY[name] = path
    return path


def _probe(path: FastPath) -> bool:
    with _LOCK:
        if path.name not in _PROBED:
            try:
                _PROBED[path.name] = bool(path.probe())
            except Exception:  # a probe that fails means the internals are not as expected
                _PROBED[path.name] = False
        return _PROBED[path.name]


def fast_path_enabled(name: str) -> bool:
    """Whether the fast path `name` may be taken now.

    False when `KERASX_DISABLE_FAST_PATHS` is set, or when this Keras lacks the internals it
    needs; in the second case a `RuntimeWarning` says so once per process.
    """
    if fast_paths_disabled():
        return False
    path = _REGISTRY[name]
    if _probe(path):
        return True
    with _LOCK:
        first = name not in _WARNED
        _WARNED.add(name)
    if first:
        warnings.warn(
            f"kerasx's fast path {name!r} is off: this Keras ({_installed_keras()}) lacks the "
            f"internals it needs (tested with Keras {TESTED_KERAS[0]} to {TESTED_KERAS[1]}). "
            f"kerasx takes the public path instead: {path.description}",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


def fast_paths() -> dict[str, dict[str, Any]]:
    """Every fast path with whether it is active and why not, for `kerasx doctor`."""
    for module in FAST_PATH_MODULES:
        importlib.import_module(module)
    report = {}
    for name, path in sorted(_REGISTRY.items()):
        present = _probe(path)
        if fast_paths_disabled():
            reason = f"{DISABLE_FAST_PATHS_ENV} is set"
        elif not present:
            reason = "this Keras lacks the internals it needs"
        else:
            reason = ""
        report[name] = {
            "active": present and not fast_paths_disabled(),
            "reason": reason,
            "description": path.description,
        }
    return report


def internal_module(name: str, *, needed_for: str) -> Any:
    """Import the private module `name` that a required (not optional) feature needs.

    Args:
        name: the dotted module name, e.g. `"keras.src.legacy.saving.legacy_h5_format"`.
        needed_for: what the caller does with it, for the error message.

    Raises:
        MissingDependencyError: if this Keras or TensorFlow has no such module.
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise MissingDependencyError(
            f"{needed_for} needs {name}, which this Keras ({_installed_keras()}) does not "
            f"have. kerasx is tested with Keras {TESTED_KERAS[0]} to {TESTED_KERAS[1]}: "
            f'install one of those (pip install "keras>={TESTED_KERAS[0]},<='
            f'{TESTED_KERAS[1]}") or a newer kerasx.'
        ) from error


def _installed_keras() -> str:
    try:
        return keras_version()
    except Exception:  # pragma: no cover - Keras itself broken
        return "unknown version"
