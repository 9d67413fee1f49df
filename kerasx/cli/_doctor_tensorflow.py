"""The checks of `kerasx doctor` that need TensorFlow: its version, Keras, GPUs, the CUDA
build, mixed precision and XLA.

Each takes what `kerasx.cli._doctor.diagnose` has already read (the `tensorflow` module, its
build information, the GPUs) and returns a `kerasx.cli._doctor_checks.Check`. Importing this
module imports neither TensorFlow nor Keras; `check_tensorflow` and `check_keras` do.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kerasx._compat import version_tuple
from kerasx._compat.tfconfig import gpu_memory_limits, op_determinism_enabled
from kerasx.cli._doctor_checks import (
    FAIL,
    OK,
    WARN,
    Check,
    distribution_version,
    requested_keras_backend,
)

__all__ = [
    "check_cuda_build",
    "check_devices",
    "check_keras",
    "check_mixed_precision",
    "check_tensorflow",
    "check_xla",
    "gpu_facts",
    "op_determinism",
]

_log = logging.getLogger(__name__)

MIN_TENSORFLOW = (2, 16)  # first release whose tf.keras is Keras 3
RECOMMENDED_TENSORFLOW = (2, 21)  # what kerasx is tested against (pyproject)


def check_tensorflow() -> tuple[Check, Any]:
    """Whether TensorFlow imports and is recent enough for kerasx.

    Returns:
        `(check, tf)`: a `Check` named `"tensorflow"` (fails when it cannot be imported or
        its tf.keras is Keras 2, warns below the tested version) and the `tensorflow` module,
        or None when it cannot be imported.
    """
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
    numbers = version_tuple(version)
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


def check_keras(env: Mapping[str, str]) -> Check:
    """Whether Keras 3 is installed and, on the TensorFlow backend, imports.

    Args:
        env: environment variables (they choose the backend).

    Returns:
        A `Check` named `"keras"`: fails when Keras is missing, is Keras 2, or cannot be
        imported. With another backend it is not imported (`keras_backend` reports that).
    """
    version = distribution_version("keras")
    if version is None:
        return Check(
            "keras", FAIL, "Keras is not installed", 'Install it: `pip install "keras>=3"`.'
        )
    if version_tuple(version)[:1] < (3,):
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


def gpu_facts() -> list[dict[str, Any]]:
    """Name, compute capability and memory of every GPU TensorFlow sees.

    Devices and their details come from `kerasx.runtime.devices()`; only the memory, which
    runtime does not report, is read here (it initialises the GPUs, so only when there are any).

    Returns:
        One dict per GPU: `device` (`"GPU:0"`), `name`, `compute_capability` (`[major,
        minor]` or None) and `memory_bytes` (or None).
    """
    from kerasx import runtime

    gpus = [device for device in runtime.devices() if device["type"] == "GPU"]
    if not gpus:
        return []
    memory = gpu_memory_limits()
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


def check_devices(gpus: list[dict[str, Any]], build: Mapping[str, Any]) -> Check:
    """The devices TensorFlow sees.

    Args:
        gpus: the GPUs, as `gpu_facts()` lists them.
        build: TensorFlow's build information (`tf.sysconfig.get_build_info()`).

    Returns:
        A `Check` named `"devices"`: warns when a CUDA build and an NVIDIA driver are present
        but TensorFlow sees no GPU.
    """
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


def check_cuda_build(build: Mapping[str, Any], gpus: list[dict[str, Any]]) -> Check:
    """The CUDA and cuDNN versions TensorFlow is built with, and whether they fit the GPUs.

    Args:
        build: TensorFlow's build information (`tf.sysconfig.get_build_info()`).
        gpus: the GPUs, as `gpu_facts()` lists them.

    Returns:
        A `Check` named `"cuda_build"`: warns when a GPU is older than every compute
        capability the build targets.
    """
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


def check_mixed_precision(gpus: list[dict[str, Any]]) -> Check:
    """What kerasx's `"auto"` precision policy is here, and whether float16 is fast.

    Args:
        gpus: the GPUs, as `gpu_facts()` lists them.

    Returns:
        A `Check` named `"mixed_precision"`: warns for a GPU below compute capability 7.0.
    """
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


def check_xla(tf: Any) -> Check:
    """Whether TensorFlow is built with XLA and a jit-compiled function runs.

    Args:
        tf: the `tensorflow` module.

    Returns:
        A `Check` named `"xla"`: warns when XLA is missing or fails.
    """
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


def op_determinism(tf: Any) -> bool | None:
    """Whether TensorFlow's op determinism is on.

    Args:
        tf: the `tensorflow` module.

    Returns:
        True or False, or None when this TensorFlow has no such query.
    """
    return op_determinism_enabled()
