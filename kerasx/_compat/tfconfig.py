"""TensorFlow settings that have no public getter: op determinism and GPU memory limits.

Checked on TensorFlow 2.21. Each function answers None (or an empty result) on a TensorFlow
that no longer has the private function it reads, so callers carry on without the fact.
"""

from __future__ import annotations

import logging

__all__ = ["disable_op_determinism", "gpu_memory_limits", "op_determinism_enabled"]

_log = logging.getLogger(__name__)


def op_determinism_enabled() -> bool | None:
    """Whether `tf.config.experimental.enable_op_determinism()` is in force.

    TensorFlow has a public setter but no public getter; this reads
    `tensorflow.python.framework.config.is_op_determinism_enabled` (TensorFlow 2.9 to 2.21).

    Returns:
        True or False, or None when this TensorFlow has no such query.
    """
    try:
        from tensorflow.python.framework import config
    except ImportError as error:
        _log.debug("cannot read TensorFlow's op-determinism flag: %s", error)
        return None
    getter = getattr(config, "is_op_determinism_enabled", None)
    return bool(getter()) if getter is not None else None


def disable_op_determinism() -> None:
    """Turn op determinism off again (TensorFlow only offers a public way to turn it on).

    Raises:
        MissingDependencyError: if this TensorFlow has no private `disable_op_determinism`.
    """
    from kerasx._compat import internal_module

    config = internal_module(
        "tensorflow.python.framework.config", needed_for="turning op determinism off"
    )
    config.disable_op_determinism()


def gpu_memory_limits() -> dict[int, int]:
    """Memory TensorFlow may use per GPU index, in bytes; empty without GPUs or the query.

    Reads `tensorflow.python.client.device_lib.list_local_devices` (TensorFlow 2.21), which
    initialises the GPUs: call it only when there are some.
    """
    try:
        from tensorflow.python.client import device_lib

        devices = device_lib.list_local_devices()
    except Exception as error:  # pragma: no cover - GPU only; informative, not essential
        _log.debug("cannot list TensorFlow's local devices: %s", error)
        return {}
    return {  # pragma: no cover - GPU only
        int(device.name.rsplit(":", 1)[-1]): int(device.memory_limit)
        for device in devices
        if device.device_type == "GPU"
    }
