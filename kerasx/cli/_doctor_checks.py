"""The environment checks of `kerasx doctor`, and the `Check` every doctor check returns.

Each check returns a `Check` (name, status `"ok"`/`"warn"`/`"fail"`, detail, fix). The
environment is usable when no check fails; warnings name something that works but is slow,
surprising or missing an optional extra. The checks here read only the environment (Python,
environment variables, Keras's home and config file, installed packages, programs on PATH);
those that read environment variables take an `env` mapping, so they can be exercised without
changing `os.environ`. They import neither TensorFlow nor Keras. The checks that need
TensorFlow are in `kerasx.cli._doctor_tensorflow`; `kerasx.cli._doctor.diagnose` runs them all.

Example:

```python
from kerasx.cli._doctor_checks import check_keras_backend

check = check_keras_backend({"KERAS_BACKEND": "jax"})
print(check.status, check.detail, check.fix)
```
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasx._compat import version_tuple

__all__ = [
    "check_tested_range",
    "FAIL",
    "OK",
    "WARN",
    "Check",
    "check_determinism",
    "check_graphviz",
    "check_keras_backend",
    "check_keras_home",
    "check_keras_mixing",
    "check_legacy_keras",
    "check_package",
    "check_python",
    "check_tensorboard",
    "distribution_version",
    "environment",
    "keras_home",
    "legacy_keras_requested",
    "requested_keras_backend",
]

OK = "ok"
WARN = "warn"
FAIL = "fail"

MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    """The outcome of one doctor check.

    Attributes:
        name: short identifier, e.g. `"tensorflow"`.
        status: `"ok"`, `"warn"` or `"fail"`.
        detail: what was found.
        fix: how to fix it; empty when there is nothing to fix.
    """

    name: str
    status: str
    detail: str
    fix: str = ""


def environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """`env`, or `os.environ` when `env` is None."""
    return os.environ if env is None else env


def distribution_version(name: str) -> str | None:
    """The installed version of the distribution `name`, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python(version_info: tuple[int, ...] | None = None) -> Check:
    """Whether the running Python is new enough for kerasx.

    Args:
        version_info: the version to judge, as `sys.version_info`. Defaults to `None`, which
            means the running interpreter.

    Returns:
        A `Check` named `"python"`: fails below Python 3.11.
    """
    info = tuple(sys.version_info[:3]) if version_info is None else tuple(version_info[:3])
    text = ".".join(str(number) for number in info)
    detail = f"Python {text} ({platform.python_implementation()}, {sys.executable})"
    if info[:2] < MIN_PYTHON:
        return Check(
            "python", FAIL, detail, "kerasx needs Python >= 3.11: install it and reinstall kerasx."
        )
    return Check("python", OK, detail)


def keras_home(env: Mapping[str, str] | None = None) -> Path:
    """The folder Keras uses for its config and caches, resolved as Keras does.

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.

    Returns:
        `$KERAS_HOME` when set, else `~/.keras` (or `/tmp/.keras` when the home folder is not
        writable).
    """
    env = environment(env)
    if "KERAS_HOME" in env:
        return Path(env["KERAS_HOME"]).expanduser()
    home = Path("~").expanduser()
    if not os.access(home, os.W_OK):
        home = Path("/tmp")
    return home / ".keras"


def requested_keras_backend(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The Keras backend that `import keras` will pick, and where that choice comes from.

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.

    Returns:
        `(backend, source)`: source is `"KERAS_BACKEND"`, the path of `keras.json`, or
        `"default"`.
    """
    env = environment(env)
    if env.get("KERAS_BACKEND"):
        return env["KERAS_BACKEND"], "KERAS_BACKEND"
    config_path = keras_home(env) / "keras.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError):
        config = {}
    if isinstance(config, dict) and isinstance(config.get("backend"), str):
        return config["backend"], str(config_path)
    return "tensorflow", "default"


def check_keras_backend(env: Mapping[str, str] | None = None) -> Check:
    """Whether Keras will run on TensorFlow, the only backend kerasx supports.

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.

    Returns:
        A `Check` named `"keras_backend"`: fails for any backend but `"tensorflow"`.
    """
    backend, source = requested_keras_backend(env)
    detail = f"backend={backend!r} (from {source})"
    if backend == "tensorflow":
        return Check("keras_backend", OK, detail)
    if source == "KERAS_BACKEND":
        fix = "Unset KERAS_BACKEND or set KERAS_BACKEND=tensorflow: kerasx runs on TensorFlow."
    else:
        fix = f'Set "backend": "tensorflow" in {source} (or KERAS_BACKEND=tensorflow).'
    return Check("keras_backend", FAIL, f"kerasx needs the TensorFlow backend; {detail}", fix)


def legacy_keras_requested(env: Mapping[str, str] | None = None) -> bool:
    """Whether `TF_USE_LEGACY_KERAS` asks TensorFlow to route `tf.keras` to tf-keras (Keras 2).

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.

    Returns:
        True when the variable holds one of the values TensorFlow accepts (`1`, `true`, `True`).
    """
    return environment(env).get("TF_USE_LEGACY_KERAS") in ("1", "true", "True")


def check_legacy_keras(
    env: Mapping[str, str] | None = None,
    *,
    tf_keras_installed: bool | None = None,
    tf_keras_module: Any = None,
    tf_keras_error: str | None = None,
) -> Check:
    """Whether `tf.keras` is Keras 3 (what kerasx uses) or the legacy tf-keras package.

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.
        tf_keras_installed: whether the `tf_keras` package is installed. Defaults to `None`,
            which means look it up.
        tf_keras_module: the object `tf.keras` resolves to, when already known. Defaults to
            `None`, which means describe it from the environment only.
        tf_keras_error: why resolving `tf.keras` failed, when it did. Defaults to `None`.

    Returns:
        A `Check` named `"tf_keras"`: warns when `tf.keras` is legacy Keras 2 (its objects do
        not mix with Keras 3's), fails when legacy Keras is requested but not installed (then
        `tf.keras` cannot be imported at all).
    """
    legacy = legacy_keras_requested(env)
    if tf_keras_installed is None:
        tf_keras_installed = importlib.util.find_spec("tf_keras") is not None
    value = environment(env).get("TF_USE_LEGACY_KERAS")
    setting = f"TF_USE_LEGACY_KERAS={value!r}" if value is not None else "TF_USE_LEGACY_KERAS unset"
    installed = "tf_keras installed" if tf_keras_installed else "tf_keras not installed"
    if legacy and not tf_keras_installed:
        return Check(
            "tf_keras",
            FAIL,
            f"{setting} routes tf.keras to tf-keras, but {installed}: tf.keras cannot be imported",
            "Unset TF_USE_LEGACY_KERAS (kerasx uses Keras 3).",
        )
    if legacy:
        return Check(
            "tf_keras",
            WARN,
            f"{setting}: tf.keras is legacy Keras 2 (tf_keras), while kerasx and `import keras` "
            "use Keras 3; their layers, models and optimizers do not mix",
            "Unset TF_USE_LEGACY_KERAS, or use only tf_keras in code that does not use kerasx.",
        )
    if tf_keras_error is not None:
        return Check(
            "tf_keras",
            FAIL,
            f"tf.keras cannot be imported ({setting}; {installed}): {tf_keras_error}",
            "Fix the keras and keras_backend checks: tf.keras is Keras 3 on the TensorFlow "
            "backend.",
        )
    name = getattr(tf_keras_module, "__name__", "keras._tf_keras.keras")
    version = getattr(tf_keras_module, "__version__", None) or distribution_version("keras")
    return Check("tf_keras", OK, f"tf.keras is Keras {version} ({name}); {setting}; {installed}")


def check_keras_mixing(modules: Mapping[str, Any] | None = None) -> Check:
    """Whether Keras 3 and legacy tf-keras are both loaded in this process.

    Args:
        modules: the loaded modules, as `sys.modules`. Defaults to `None`, which means
            `sys.modules`.

    Returns:
        A `Check` named `"keras_mixing"`: warns when both `keras` (3) and `tf_keras` are loaded,
        because a model built with one cannot take layers or optimizers of the other.
    """
    modules = sys.modules if modules is None else modules
    has_keras = "keras" in modules
    has_tf_keras = "tf_keras" in modules
    if has_keras and has_tf_keras:
        return Check(
            "keras_mixing",
            WARN,
            "both keras (Keras 3) and tf_keras (legacy Keras 2) are loaded in this process; "
            "objects of one fail inside models of the other",
            "Import only one of them: kerasx uses Keras 3 (`import keras`).",
        )
    loaded = [
        name for name, present in (("keras", has_keras), ("tf_keras", has_tf_keras)) if present
    ]
    return Check("keras_mixing", OK, f"loaded: {', '.join(loaded) or 'neither'}")


def check_determinism(
    env: Mapping[str, str] | None = None, *, op_determinism: bool | None = None
) -> Check:
    """Report the determinism settings that change TensorFlow's results and speed.

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.
        op_determinism: whether `tf.config.experimental.enable_op_determinism()` is in effect.
            Defaults to `None`, which means unknown (TensorFlow not asked).

    Returns:
        A `Check` named `"determinism"`: always ok (determinism is a choice), it only reports.
    """
    env = environment(env)
    parts = []
    for name in ("TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "PYTHONHASHSEED"):
        parts.append(f"{name}={env[name]!r}" if name in env else f"{name} unset")
    if op_determinism is not None:
        state = "enabled (reproducible, slower)" if op_determinism else "disabled"
        parts.append(f"op determinism {state}")
    return Check("determinism", OK, "; ".join(parts))


def check_keras_home(env: Mapping[str, str] | None = None) -> Check:
    """Whether Keras's home folder (config, downloaded datasets and weights) is writable.

    Creates nothing but a temporary file that it removes at once.

    Args:
        env: environment variables. Defaults to `None`, which means `os.environ`.

    Returns:
        A `Check` named `"keras_home"`: warns when the folder (or, if it does not exist yet,
        its nearest existing parent) is not writable.
    """
    env = environment(env)
    home = keras_home(env)
    source = "KERAS_HOME" if "KERAS_HOME" in env else "default"
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    writable = False
    if existing.is_dir():
        try:
            handle, name = tempfile.mkstemp(prefix=".kerasx-doctor-", dir=existing)
        except OSError:
            writable = False
        else:
            os.close(handle)
            os.unlink(name)
            writable = True
    state = "exists" if home.exists() else f"does not exist yet; {existing} will hold it"
    detail = f"{home} ({source}; {state})"
    if writable:
        return Check("keras_home", OK, f"{detail}, writable")
    return Check(
        "keras_home",
        WARN,
        f"{detail}, not writable: Keras cannot save its config or cache datasets and weights",
        "Set KERAS_HOME to a writable folder, e.g. `export KERAS_HOME=$PWD/.keras`.",
    )


def check_graphviz(which: str | None = None) -> Check:
    """Whether Graphviz's `dot` program is on PATH, and its version.

    Args:
        which: path of the `dot` program. Defaults to `None`, which means search PATH.

    Returns:
        A `Check` named `"graphviz"`: warns when `dot` is missing or broken (kerasx then draws
        diagrams with its pure-Python renderer).
    """
    dot = which if which is not None else shutil.which("dot")
    fix = (
        "Install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; "
        "macOS: `brew install graphviz`)."
    )
    if dot is None:
        return Check(
            "graphviz",
            WARN,
            "the Graphviz `dot` program is not on PATH; plot_model uses kerasx's built-in renderer",
            fix,
        )
    try:
        result = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as error:
        return Check("graphviz", WARN, f"`{dot} -V` did not run: {error}", fix)
    output = (result.stderr or result.stdout).strip()
    if result.returncode != 0:
        return Check("graphviz", WARN, f"`{dot} -V` exited {result.returncode}: {output}", fix)
    return Check("graphviz", OK, f"{output} ({dot})")


def check_package(name: str, *, required: bool, purpose: str, fix: str) -> Check:
    """Whether the package `name` is installed and importable.

    Args:
        name: the distribution and module name (`"h5py"`, `"pydot"`).
        required: fail when it is missing; else only warn.
        purpose: what is lost without it, for the detail.
        fix: how to install it.

    Returns:
        A `Check` named `name`: its version when installed.
    """
    version = distribution_version(name)
    if version is None or importlib.util.find_spec(name) is None:
        status = FAIL if required else WARN
        return Check(name, status, f"{name} is not installed ({purpose})", fix)
    return Check(name, OK, f"{name} {version}")


def check_tensorboard(
    version: str | None = None, *, importable: bool | None = None
) -> Check:
    """Whether the optional `tensorboard` package (the `kerasx[tensorboard]` extra) is there.

    `kerasx.fit` writes TensorBoard logs to its run directory with it; without it, it trains
    all the same and says once that the logs are off.

    Args:
        version: the installed version, when already known. Defaults to `None`, which means
            look it up.
        importable: whether `import tensorboard` can work. Defaults to `None`, which means
            ask the import system.

    Returns:
        A `Check` named `"tensorboard"`: a warning when it is missing.
    """
    if version is None:
        version = distribution_version("tensorboard")
    if importable is None:
        importable = importlib.util.find_spec("tensorboard") is not None
    if version is None or not importable:
        return Check(
            "tensorboard",
            WARN,
            f"tensorboard is not installed ({_TENSORBOARD_PURPOSE})",
            _TENSORBOARD_FIX,
        )
    return Check("tensorboard", OK, f"tensorboard {version}: kerasx.fit writes TensorBoard logs")


_TENSORBOARD_PURPOSE = "kerasx.fit writes no TensorBoard logs to its run directory"
_TENSORBOARD_FIX = (
    'Install the extra: `pip install "kerasx[tensorboard]"` (or pass `tensorboard=False` to '
    "kerasx.fit to do without)."
)


def _padded(version: str) -> tuple[int, ...]:
    """The first three numbers of `version`, zeros added: "3.12" -> (3, 12, 0)."""
    return (*version_tuple(version), 0, 0, 0)[:3]


def check_tested_range(tensorflow: str | None, keras: str | None) -> Check:
    """Whether the installed TensorFlow and Keras are within the range kerasx is tested on.

    Args:
        tensorflow: the installed TensorFlow version, or None when it is missing.
        keras: the installed Keras version, or None when it is missing.

    Returns:
        A `Check` named `"tested_range"`: ok inside the range, a warning outside it (kerasx
        still works there; fast paths that need Keras internals may switch off), and ok with
        nothing to say when either package is missing (their own checks fail).
    """
    from kerasx._compat import TESTED_KERAS, TESTED_TENSORFLOW

    tested = (
        f"tested with TensorFlow {TESTED_TENSORFLOW[0]}-{TESTED_TENSORFLOW[1]} and "
        f"Keras {TESTED_KERAS[0]}-{TESTED_KERAS[1]}"
    )
    if tensorflow is None or keras is None:
        return Check("tested_range", OK, tested)
    outside = [
        f"{name} {version}"
        for name, version, (low, high) in (
            ("TensorFlow", tensorflow, TESTED_TENSORFLOW),
            ("Keras", keras, TESTED_KERAS),
        )
        if not _padded(low) <= _padded(version) <= _padded(high)
    ]
    if not outside:
        return Check("tested_range", OK, f"TensorFlow {tensorflow}, Keras {keras}: {tested}")
    return Check(
        "tested_range",
        WARN,
        f"{' and '.join(outside)} outside the range kerasx is {tested}; it should work, "
        "and fast paths that need Keras internals switch off with a warning",
        f'For the tested setup: `pip install "tensorflow=={TESTED_TENSORFLOW[1]}" '
        f'"keras=={TESTED_KERAS[1]}"`, or upgrade kerasx.',
    )
