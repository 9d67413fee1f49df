"""The checks behind `kerasx doctor`: is this environment fit to run kerasx, and if not, why?

Each check returns a `Check` (name, status `"ok"`/`"warn"`/`"fail"`, detail, fix). The
environment is usable when no check fails; warnings name something that works but is slow,
surprising or missing an optional extra. Checks that only read the environment take an `env`
mapping so they can be exercised without changing `os.environ`.

This module imports nothing heavy at import time; `diagnose()` imports TensorFlow.

Example:

```python
from kerasx.cli._doctor_checks import diagnose

report = diagnose()
for check in report.checks:
    print(check.status, check.name, check.detail)
```
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "Check",
    "DoctorReport",
    "check_determinism",
    "check_graphviz",
    "check_keras_backend",
    "check_keras_home",
    "check_keras_mixing",
    "check_legacy_keras",
    "check_python",
    "diagnose",
    "keras_home",
    "legacy_keras_requested",
    "requested_keras_backend",
]

_log = logging.getLogger(__name__)

OK = "ok"
WARN = "warn"
FAIL = "fail"

MIN_PYTHON = (3, 11)
MIN_TENSORFLOW = (2, 16)  # first release whose tf.keras is Keras 3
RECOMMENDED_TENSORFLOW = (2, 21)  # what kerasx is tested against (pyproject)


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


@dataclass
class DoctorReport:
    """All checks of one `diagnose()` run and the raw facts they were based on.

    Attributes:
        checks: the checks, in a stable order.
        facts: versions, devices and build information as plain JSON-able values.
    """

    checks: list[Check]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether kerasx is usable here: no check failed (warnings allowed)."""
        return all(check.status != FAIL for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The failed checks."""
        return [check for check in self.checks if check.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data: `ok`, `checks` and `facts`."""
        return {
            "ok": self.ok,
            "checks": [asdict(check) for check in self.checks],
            "facts": self.facts,
        }


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for part in version.split(".")[:3]:
        match = re.match(r"\d+", part)
        if match is None:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Checks that read only the environment (pure; testable with a fake `env`).


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
    env = _environ(env)
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
    env = _environ(env)
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
    return _environ(env).get("TF_USE_LEGACY_KERAS") in ("1", "true", "True")


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
    value = _environ(env).get("TF_USE_LEGACY_KERAS")
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
    version = getattr(tf_keras_module, "__version__", None) or _distribution_version("keras")
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
    env = _environ(env)
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
    env = _environ(env)
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


# ---------------------------------------------------------------------------------------------
# Checks that need TensorFlow.


def _check_package(name: str, *, required: bool, purpose: str, fix: str) -> Check:
    version = _distribution_version(name)
    if version is None or importlib.util.find_spec(name) is None:
        status = FAIL if required else WARN
        return Check(name, status, f"{name} is not installed ({purpose})", fix)
    return Check(name, OK, f"{name} {version}")


def _check_tensorflow() -> tuple[Check, Any]:
    try:
        import tensorflow as tf
    except Exception as error:
        return (
            Check(
                "tensorflow",
                FAIL,
                f"TensorFlow cannot be imported: {type(error).__name__}: {error}",
                'Install it: `pip install "tensorflow>=2.21"` (GPU: "tensorflow[and-cuda]").',
            ),
            None,
        )
    version = tf.__version__
    numbers = _version_tuple(version)
    where = os.path.dirname(tf.__file__ or "")
    if numbers[:2] < MIN_TENSORFLOW:
        return (
            Check(
                "tensorflow",
                FAIL,
                f"TensorFlow {version} is too old: its tf.keras is Keras 2 ({where})",
                'Upgrade: `pip install -U "tensorflow>=2.21"`.',
            ),
            tf,
        )
    if numbers[:2] < RECOMMENDED_TENSORFLOW:
        return (
            Check(
                "tensorflow",
                WARN,
                f"TensorFlow {version}: kerasx is tested with >= 2.21 ({where})",
                'Upgrade: `pip install -U "tensorflow>=2.21"`.',
            ),
            tf,
        )
    return Check("tensorflow", OK, f"TensorFlow {version} ({where})"), tf


def _check_keras(env: Mapping[str, str]) -> Check:
    version = _distribution_version("keras")
    if version is None:
        return Check(
            "keras", FAIL, "Keras is not installed", 'Install it: `pip install "keras>=3"`.'
        )
    if _version_tuple(version)[:1] < (3,):
        return Check(
            "keras",
            FAIL,
            f"Keras {version} is Keras 2; kerasx needs Keras 3",
            'Upgrade: `pip install -U "keras>=3"` (TensorFlow >= 2.16 ships with it).',
        )
    backend, _ = requested_keras_backend(env)
    if backend != "tensorflow":
        # Importing Keras would load another backend (or fail); keras_backend reports it.
        return Check("keras", OK, f"Keras {version} (not imported: backend is {backend!r})")
    try:
        import keras
    except Exception as error:
        return Check(
            "keras",
            FAIL,
            f"Keras {version} is installed but cannot be imported: {type(error).__name__}: {error}",
            'Reinstall it: `pip install --force-reinstall "keras>=3"`.',
        )
    return Check(
        "keras", OK, f"Keras {keras.__version__} ({os.path.dirname(keras.__file__ or '')})"
    )


def _gpu_facts() -> list[dict[str, Any]]:
    """Name, compute capability and memory of every GPU TensorFlow sees.

    Devices and their details come from `kerasx.runtime.devices()`; only the memory, which
    runtime does not report, is read here (it initialises the GPUs, so only when there are any).
    """
    from kerasx import runtime

    gpus = [device for device in runtime.devices() if device["type"] == "GPU"]
    if not gpus:
        return []
    memory: dict[int, int] = {}
    try:  # pragma: no cover - GPU only; memory is informative, not essential
        from tensorflow.python.client import device_lib

        for device in device_lib.list_local_devices():
            if device.device_type == "GPU":
                memory[int(device.name.rsplit(":", 1)[-1])] = int(device.memory_limit)
    except Exception:  # pragma: no cover - GPU only
        memory = {}
    facts = []
    for gpu in gpus:  # pragma: no cover - GPU only
        capability = gpu["details"].get("compute_capability")
        facts.append(
            {
                "device": f"GPU:{gpu['index']}",
                "name": gpu["details"].get("device_name", gpu["name"]),
                "compute_capability": list(capability) if capability else None,
                "memory_bytes": memory.get(gpu["index"]),
            }
        )
    return facts


def _nvidia_driver_present() -> bool:
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def _check_devices(gpus: list[dict[str, Any]], build: Mapping[str, Any]) -> Check:
    if gpus:
        parts = []
        for gpu in gpus:
            capability = gpu["compute_capability"]
            text = f"{gpu['device']}: {gpu['name']}"
            if capability:
                text += f", compute capability {capability[0]}.{capability[1]}"
            if gpu["memory_bytes"]:
                text += f", {gpu['memory_bytes'] / 2**30:.1f} GiB usable"
            parts.append(text)
        return Check("devices", OK, "CPU and " + "; ".join(parts))
    if build.get("is_cuda_build") and _nvidia_driver_present():
        return Check(
            "devices",
            WARN,
            "an NVIDIA driver is present but TensorFlow sees no GPU; running on CPU",
            'Install the CUDA libraries with `pip install "tensorflow[and-cuda]"` and check '
            "`nvidia-smi`; see https://www.tensorflow.org/install/pip",
        )
    return Check("devices", OK, "CPU only (no GPU visible)")


def _check_cuda_build(build: Mapping[str, Any], gpus: list[dict[str, Any]]) -> Check:
    if not build.get("is_cuda_build"):
        rocm = " (ROCm build)" if build.get("is_rocm_build") else ""
        return Check("cuda_build", OK, f"TensorFlow is not built with CUDA{rocm}")
    targets = build.get("cuda_compute_capabilities") or []
    detail = (
        f"CUDA {build.get('cuda_version', '?')}, cuDNN {build.get('cudnn_version', '?')}, "
        f"compiled for {', '.join(targets) or '?'}"
    )
    compiled = set()
    for target in targets:
        match = re.search(r"(\d)(\d+)$", str(target))
        if match:
            compiled.add((int(match.group(1)), int(match.group(2))))
    for gpu in gpus:
        capability = gpu["compute_capability"]
        if not capability or not compiled:
            continue
        if tuple(capability) < min(compiled):
            return Check(
                "cuda_build",
                WARN,
                f"{detail}; {gpu['device']} has compute capability "
                f"{capability[0]}.{capability[1]}, older than any the build targets",
                "Use a TensorFlow build that supports this GPU, or run on CPU.",
            )
    return Check("cuda_build", OK, detail)


def _check_mixed_precision(gpus: list[dict[str, Any]]) -> Check:
    from kerasx import runtime

    policy = runtime.policy_for(
        {"gpus": [{"compute_capability": gpu["compute_capability"]} for gpu in gpus]}
    )
    if not gpus:
        return Check(
            "mixed_precision",
            OK,
            "no GPU: kerasx's 'auto' policy is float32 here (mixed precision is slower on CPU)",
        )
    if policy == "float32":
        return Check(
            "mixed_precision",
            WARN,
            "a GPU below compute capability 7.0 (or of unknown capability): no fast float16; "
            "kerasx's 'auto' policy is float32 here",
            "Keep float32 on this machine; mixed precision needs compute capability >= 7.0.",
        )
    return Check("mixed_precision", OK, f"supported; kerasx's 'auto' policy here is {policy}")


def _check_xla(tf: Any) -> Check:
    if not tf.test.is_built_with_xla():
        return Check("xla", WARN, "TensorFlow is not built with XLA", "Install the official wheel.")
    try:

        @tf.function(jit_compile=True)
        def _double_sum(x: Any) -> Any:
            return tf.reduce_sum(x * 2.0)

        value = float(_double_sum(tf.ones((4,))))
    except Exception as error:
        return Check(
            "xla",
            WARN,
            f"built with XLA, but a jit-compiled function failed: {type(error).__name__}: {error}",
            "Compile models with jit_compile=False.",
        )
    if value != 8.0:
        return Check("xla", WARN, f"jit-compiled 2*sum(ones(4)) gave {value}, expected 8.0")
    return Check("xla", OK, "built with XLA; a jit-compiled function ran")


def _op_determinism(tf: Any) -> bool | None:
    """Whether op determinism is on; None when this TensorFlow has no such query."""
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError) as error:
        _log.debug("cannot read TensorFlow's op-determinism flag: %s", error)
        return None


def diagnose(env: Mapping[str, str] | None = None) -> DoctorReport:
    """Run every doctor check in this process.

    Imports TensorFlow (and Keras, when the backend is TensorFlow).

    Args:
        env: environment variables to judge. Defaults to `None`, which means `os.environ`.
            TensorFlow itself always sees the real environment.

    Returns:
        A `DoctorReport`; `report.ok` says whether kerasx is usable here.
    """
    env = _environ(env)
    checks = [check_python()]
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    tensorflow_check, tf = _check_tensorflow()
    checks.append(tensorflow_check)
    checks.append(_check_keras(env))
    checks.append(check_keras_backend(env))
    facts["keras"] = _distribution_version("keras")
    facts["keras_backend"] = requested_keras_backend(env)[0]
    tf_keras_module = None
    tf_keras_error = None
    if tf is not None:
        facts["tensorflow"] = tf.__version__
    if tf is not None and not (
        legacy_keras_requested(env) and importlib.util.find_spec("tf_keras") is None
    ):
        try:
            # Reading an attribute makes TensorFlow's lazy loader resolve tf.keras.
            facts["tf_keras_version"] = str(tf.keras.__version__)
            tf_keras_module = tf.keras
        except Exception as error:
            tf_keras_error = f"{type(error).__name__}: {error}"
    checks.append(
        check_legacy_keras(env, tf_keras_module=tf_keras_module, tf_keras_error=tf_keras_error)
    )
    checks.append(check_keras_mixing())
    if tf is not None:
        from kerasx import runtime

        build = dict(tf.sysconfig.get_build_info())
        gpus = _gpu_facts()
        facts["build"] = {key: runtime.jsonable(value) for key, value in build.items()}
        facts["gpus"] = gpus
        status = {check.name: check.status for check in checks}
        if status["keras"] == OK and status["keras_backend"] == OK:
            try:
                facts["runtime"] = runtime.jsonable(runtime.describe())
            except Exception as error:  # the checks above already say what is wrong
                facts["runtime"] = {"error": f"{type(error).__name__}: {error}"}
        checks.append(_check_devices(gpus, build))
        checks.append(_check_cuda_build(build, gpus))
        checks.append(_check_mixed_precision(gpus))
        checks.append(_check_xla(tf))
    checks.append(
        _check_package(
            "h5py",
            required=True,
            purpose="Keras needs it to save weights in .keras and .h5 files",
            fix='Install it: `pip install "h5py>=3.10"`.',
        )
    )
    checks.append(
        _check_package(
            "pydot",
            required=False,
            purpose="plot_model then uses kerasx's built-in renderer",
            fix='Install it: `pip install "pydot>=2.0"`.',
        )
    )
    checks.append(check_graphviz())
    checks.append(check_determinism(env, op_determinism=_op_determinism(tf) if tf else None))
    checks.append(check_keras_home(env))
    facts["keras_home"] = str(keras_home(env))
    return DoctorReport(checks=checks, facts=facts)
