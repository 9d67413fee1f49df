"""What TensorFlow sees, and how kerasx uses it: devices, mixed precision, XLA, distribution.

Everything here imports TensorFlow on first call, not at import: `import kerasx.runtime` is
cheap.

- `devices()` and `describe()`: the physical devices, versions and build information (what
  `kerasx doctor` prints).
- `policy_for(description)`: the mixed-precision policy kerasx picks for a machine description,
  a pure function; `mixed_precision_policy("auto")` applies it to this machine and
  `enable_mixed_precision()` sets it globally.
- `strategy(spec)`: a `tf.distribute.Strategy` from `"auto"`, `"one"`, `"mirrored"` or
  `"multiworker"`.
- `split_cpu(n)`: n logical CPU devices, to try `MirroredStrategy` on a machine without GPUs.

Batch sizes: under a strategy, the `batch_size` given to `fit` is the *global* batch, which
TensorFlow splits across replicas. To think per replica, pass
`global_batch_size(per_replica, strategy)`.

Example:

>>> from kerasx import runtime
>>> runtime.policy_for({"gpus": [{"compute_capability": (8, 0)}]})
'mixed_bfloat16'
>>> runtime.policy_for({"gpus": []})
'float32'
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from typing import Any

from kerasx.errors import ConfigurationError, DeviceError

__all__ = [
    "MIXED_POLICIES",
    "STRATEGIES",
    "describe",
    "devices",
    "enable_mixed_precision",
    "global_batch_size",
    "mixed_precision_policy",
    "policy_for",
    "split_cpu",
    "strategy",
]

MIXED_POLICIES: tuple[str, ...] = ("float32", "mixed_float16", "mixed_bfloat16")
"""The dtype policies `mixed_precision_policy` and `enable_mixed_precision` accept."""

STRATEGIES: tuple[str, ...] = ("auto", "one", "mirrored", "multiworker")
"""The strategy names `strategy` accepts (a `tf.distribute.Strategy` instance is also fine)."""

_NAMED_STRATEGIES: dict[str, Any] = {}
"""The strategy each name resolved to, so that a name means one instance per process."""


def devices() -> list[dict[str, Any]]:
    """The physical devices TensorFlow sees, one dict per device.

    Each dict has `name` (e.g. `"/physical_device:GPU:0"`), `type` (`"CPU"`, `"GPU"`, ...),
    `index` (within its type) and `details`: for GPUs, what
    `tf.config.experimental.get_device_details` reports (`device_name`,
    `compute_capability` as a tuple), an empty dict otherwise. Listing devices does not
    initialise them, so `split_cpu` can still be called afterwards.

    Returns:
        A list of dicts, CPUs first as TensorFlow lists them.

    Example:

    >>> from kerasx import runtime
    >>> first = runtime.devices()[0]
    >>> first["name"], first["type"], first["index"], first["details"]
    ('/physical_device:CPU:0', 'CPU', 0, {})
    """
    import tensorflow as tf

    found: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for device in tf.config.list_physical_devices():
        index = counts.get(device.device_type, 0)
        counts[device.device_type] = index + 1
        details: dict[str, Any] = {}
        if device.device_type == "GPU":
            details = dict(tf.config.experimental.get_device_details(device))
        found.append(
            {"name": device.name, "type": device.device_type, "index": index, "details": details}
        )
    return found


def _gpus(device_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    gpus = []
    for device in device_list:
        if device["type"] != "GPU":
            continue
        details = device["details"]
        capability = details.get("compute_capability")
        gpus.append(
            {
                "name": details.get("device_name", device["name"]),
                "compute_capability": tuple(capability) if capability else None,
            }
        )
    return gpus


def policy_for(description: Mapping[str, Any]) -> str:
    """The mixed-precision policy kerasx's `"auto"` picks for a machine description.

    A pure function of the description (a `describe()` dict, or any mapping with a `gpus`
    list of dicts carrying `compute_capability` as `(major, minor)`). The rule, the slowest GPU
    deciding:

    - no GPU: `"float32"` (mixed precision is slower on CPUs, so kerasx never picks it there);
    - every GPU at compute capability 8.0 or more (Ampere and later, native bfloat16):
      `"mixed_bfloat16"`, which needs no loss scaling;
    - every GPU at 7.0 or more (Volta, Turing: tensor cores for float16): `"mixed_float16"`;
    - otherwise (older GPUs, or a capability TensorFlow does not report): `"float32"`.

    Args:
        description: a mapping with a `gpus` key.

    Returns:
        One of `MIXED_POLICIES`.

    Example:

    >>> from kerasx import runtime
    >>> runtime.policy_for({"gpus": [{"compute_capability": (7, 5)}]})
    'mixed_float16'
    >>> runtime.policy_for({"gpus": [{"compute_capability": (8, 6)},
    ...                              {"compute_capability": (6, 1)}]})  # the slowest decides
    'float32'
    >>> runtime.policy_for(runtime.describe()) == runtime.describe()["mixed_precision"]["policy"]
    True
    """
    gpus = list(description.get("gpus") or [])
    if not gpus:
        return "float32"
    capabilities = [gpu.get("compute_capability") for gpu in gpus]
    if any(capability is None for capability in capabilities):
        return "float32"
    slowest = min(tuple(capability) for capability in capabilities)
    if slowest >= (8, 0):
        return "mixed_bfloat16"
    if slowest >= (7, 0):
        return "mixed_float16"
    return "float32"


def mixed_precision_policy(policy: str = "auto") -> str:
    """The dtype policy name that `policy` means on this machine.

    Args:
        policy: `"auto"` (see `policy_for`), or one of `MIXED_POLICIES`, returned unchanged.
            Defaults to `"auto"`.

    Returns:
        A policy name such as `"float32"` or `"mixed_float16"`.

    Raises:
        ConfigurationError: if `policy` is not `"auto"` or one of `MIXED_POLICIES`.

    Example:

    >>> from kerasx import runtime
    >>> runtime.mixed_precision_policy("mixed_bfloat16")
    'mixed_bfloat16'
    >>> runtime.mixed_precision_policy() in runtime.MIXED_POLICIES  # "auto": this machine's
    True
    """
    if policy == "auto":
        return policy_for({"gpus": _gpus(devices())})
    if policy not in MIXED_POLICIES:
        raise ConfigurationError(
            f"Mixed precision must be 'auto' or one of {list(MIXED_POLICIES)}. "
            f"Received: policy={policy!r}."
        )
    return policy


def enable_mixed_precision(policy: str = "auto") -> str:
    """Set Keras's global dtype policy; models built afterwards compute in it.

    Mixed precision must be chosen *before* a model is built: layers take the global policy
    when they are created. Keep the output layer in float32 (kerasx builders do) so the loss
    is computed in full precision. `"auto"` gives `"float32"` on CPU-only machines.

    Args:
        policy: `"auto"` or one of `MIXED_POLICIES`. Defaults to `"auto"`.

    Returns:
        The policy name now in effect.

    Raises:
        ConfigurationError: if `policy` is not `"auto"` or one of `MIXED_POLICIES`.

    Example:

    >>> import keras
    >>> from kerasx import runtime
    >>> runtime.enable_mixed_precision("mixed_float16")
    'mixed_float16'
    >>> layer = keras.layers.Dense(2)  # built after the call: computes in float16
    >>> layer.compute_dtype, layer.variable_dtype
    ('float16', 'float32')
    >>> runtime.enable_mixed_precision("float32")  # back to full precision
    'float32'
    """
    import keras

    name = mixed_precision_policy(policy)
    keras.config.set_dtype_policy(name)
    return name


def _xla_available() -> bool:
    import tensorflow as tf

    return bool(tf.sysconfig.get_build_info().get("is_xla_available", True))


def describe() -> dict[str, Any]:
    """Versions, devices and capabilities: what `kerasx doctor` reports.

    Returns:
        A JSON-serialisable dict with keys `python`, `platform`, `tensorflow`, `keras`,
        `numpy`, `built_with_cuda`, `cuda_version`, `cudnn_version` (`None` when TensorFlow
        was built without them), `devices` (see `devices()`), `gpus` (`name`,
        `compute_capability` as a list, `device`),
        `mixed_precision` (`policy`: what `"auto"` picks here, `supported`: whether a GPU
        with float16 tensor cores is present, `current`: Keras's global policy), `xla`
        (`available`; `keras_auto`: whether Keras's `jit_compile="auto"` turns it on here,
        which it does not on CPU-only machines) and `tf_config` (the parsed `TF_CONFIG`
        environment variable, or `None`).

    Raises:
        ConfigurationError: the `TF_CONFIG` environment variable is set but is not JSON.

    Example:

    >>> import json
    >>> from kerasx import runtime
    >>> info = runtime.describe()
    >>> sorted(info["mixed_precision"])
    ['current', 'policy', 'supported']
    >>> json.loads(json.dumps(info)) == info  # JSON-serialisable, as `kerasx doctor --json`
    True
    """
    import keras
    import numpy as np
    import tensorflow as tf

    build = dict(tf.sysconfig.get_build_info())
    device_list = devices()
    gpus = _gpus(device_list)
    gpu_rows = []
    for gpu, device in zip(gpus, [d for d in device_list if d["type"] == "GPU"]):
        capability = gpu["compute_capability"]
        gpu_rows.append(
            {
                "name": gpu["name"],
                "compute_capability": list(capability) if capability else None,
                "device": device["name"],
            }
        )
    policy = policy_for({"gpus": gpus})
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "built_with_cuda": bool(build.get("is_cuda_build", False)),
        "cuda_version": build.get("cuda_version"),
        "cudnn_version": build.get("cudnn_version"),
        "devices": [{**d, "details": jsonable(d["details"])} for d in device_list],
        "gpus": gpu_rows,
        "mixed_precision": {
            "policy": policy,
            "supported": policy != "float32",
            "current": keras.config.dtype_policy().name,
        },
        "xla": {"available": _xla_available(), "keras_auto": bool(gpus)},
        "tf_config": _tf_config(),
    }


def jsonable(value: Any) -> Any:
    """`value` with tuples as lists, dict keys as strings and anything else JSON cannot hold as
    its `str`: what `describe()` and `kerasx doctor --json` print."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    return str(value)


def _tf_config() -> dict[str, Any] | None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            "The TF_CONFIG environment variable must be JSON with `cluster` and `task`. "
            f"Received: TF_CONFIG={raw[:200]!r}. Fix or unset it."
        ) from error
    return parsed if isinstance(parsed, dict) else None


def _workers_in_tf_config() -> int:
    config = _tf_config() or {}
    cluster = config.get("cluster") or {}
    return len(cluster.get("worker") or [])


def strategy(spec: Any = "auto") -> Any:
    """A `tf.distribute.Strategy` for a name, or the strategy itself.

    - `"auto"`: `MultiWorkerMirroredStrategy` when `TF_CONFIG` lists more than one worker,
      else `MirroredStrategy` when there is more than one local GPU, else `"one"`.
    - `"one"`: `OneDeviceStrategy` on the first GPU, or on the CPU without one.
    - `"mirrored"`: `MirroredStrategy` over all local GPUs; without GPUs, over all logical
      CPUs (see `split_cpu`).
    - `"multiworker"`: `MultiWorkerMirroredStrategy`, configured from `TF_CONFIG`. Create it
      at the start of the program, before other TensorFlow work.
    - a `tf.distribute.Strategy` instance is returned unchanged.

    A name gives the same instance each time in a process, so a model built with
    `strategy="mirrored"` trains under `kerasx.fit(..., strategy="mirrored")`.

    Build and compile the model under `strategy.scope()` (kerasx builders do when given
    `strategy=`); `fit`'s `batch_size` is then global (see `global_batch_size`).

    Args:
        spec: a name from `STRATEGIES` or a `tf.distribute.Strategy`. Defaults to `"auto"`.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ConfigurationError: if `spec` is neither a known name nor a strategy.

    Example:

    >>> from kerasx import runtime
    >>> one = runtime.strategy("one")
    >>> one.num_replicas_in_sync
    1
    >>> runtime.strategy("one") is one and runtime.strategy(one) is one
    True
    """
    import tensorflow as tf

    if isinstance(spec, tf.distribute.Strategy):
        return spec
    if spec not in STRATEGIES:
        raise ConfigurationError(
            f"strategy must be one of {list(STRATEGIES)} or a tf.distribute.Strategy. "
            f"Received: strategy={spec!r}."
        )
    # Physical devices only: listing logical ones would initialise TensorFlow, after which
    # MultiWorkerMirroredStrategy can no longer configure its collective ops.
    gpus = tf.config.list_physical_devices("GPU")
    if spec == "auto":
        if _workers_in_tf_config() > 1:
            spec = "multiworker"
        elif len(gpus) > 1:
            spec = "mirrored"
        else:
            spec = "one"
    if spec not in _NAMED_STRATEGIES:
        if spec == "multiworker":
            made = tf.distribute.MultiWorkerMirroredStrategy()
        elif spec == "one":
            made = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
        elif gpus:
            made = tf.distribute.MirroredStrategy()
        else:
            cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
            made = tf.distribute.MirroredStrategy(devices=cpus)
        _NAMED_STRATEGIES[spec] = made
    return _NAMED_STRATEGIES[spec]


_resolve = strategy  # for functions whose `strategy` argument hides this function


def model_strategy(model: Any) -> Any:
    """The `tf.distribute.Strategy` `model` was created under, or None for none.

    Keras keeps it in a private attribute; this reads public ones only, so it holds on any
    Keras: `model.distribute_strategy` (the model's own strategy, else the one in scope now)
    when the model's variables belong to it. Outside every strategy scope that is exact;
    inside one, a model without variables yet counts as created under the strategy in scope,
    under which Keras then creates them. Shared with `kerasx.models` and `kerasx.training`.

    Args:
        model: a `keras.Model`.

    Returns:
        The strategy, or None.
    """
    import tensorflow as tf

    found = getattr(model, "distribute_strategy", None)
    if found is None:
        return None
    if not tf.distribute.has_strategy():
        return None if found is tf.distribute.get_strategy() else found
    variables = list(getattr(model, "variables", []))
    if variables and not found.extended.variable_created_in_scope(variables[0].value):
        return None
    return found


def global_batch_size(per_replica: int, strategy: Any = None) -> int:
    """The global batch size to give `fit` for `per_replica` samples on each replica.

    Args:
        per_replica: batch size each replica should see.
        strategy: a `tf.distribute.Strategy`, a name accepted by `strategy`, or None for the
            current one. Defaults to `None`.

    Returns:
        `per_replica * strategy.num_replicas_in_sync`.

    Raises:
        ConfigurationError: if `per_replica` is not a positive integer, or `strategy` is not
            a strategy or a known name.

    Example:

    >>> from kerasx import runtime
    >>> runtime.global_batch_size(32)  # outside every strategy scope: one replica
    32
    >>> runtime.global_batch_size(32, "one")
    32

    Under a `MirroredStrategy` over two devices (see `split_cpu`), it is `64`.
    """
    import tensorflow as tf

    if isinstance(per_replica, bool) or not isinstance(per_replica, int) or per_replica < 1:
        raise ConfigurationError(
            f"per_replica must be a positive integer. Received: per_replica={per_replica!r}."
        )
    active = _resolve(strategy) if strategy is not None else tf.distribute.get_strategy()
    return per_replica * int(active.num_replicas_in_sync)


def split_cpu(n: int) -> list[str]:
    """Split the physical CPU into `n` logical devices (for `MirroredStrategy` without GPUs).

    Must be called before TensorFlow initialises its devices, that is before the first tensor,
    model or strategy is created in the process. Calling it again with the same `n` is fine.

    Args:
        n: number of logical CPU devices, at least 1.

    Returns:
        The logical device names, e.g. `["/device:CPU:0", "/device:CPU:1"]`.

    Raises:
        ConfigurationError: if `n` is not a positive integer.
        DeviceError: if TensorFlow has already initialised its devices with another layout.

    Example:

    This process has already created tensors, so the example starts a fresh one:

    >>> import subprocess, sys
    >>> program = '''
    ... from kerasx import runtime
    ... print(runtime.split_cpu(2))  # first, before any other TensorFlow work
    ... print(runtime.strategy("mirrored").num_replicas_in_sync)
    ... '''
    >>> print(subprocess.run([sys.executable, "-c", program], capture_output=True,
    ...                      text=True, check=True).stdout.strip())
    ['/device:CPU:0', '/device:CPU:1']
    2
    """
    import tensorflow as tf

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigurationError(f"split_cpu needs a positive integer. Received: n={n!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return [device.name for device in tf.config.list_logical_devices("CPU")]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as error:
        have = len(tf.config.list_logical_devices("CPU"))
        raise DeviceError(
            "split_cpu must be called before TensorFlow initialises its devices (before the "
            f"first tensor, model or strategy is created). Received: n={n}, but TensorFlow "
            f"already runs with {have} logical CPU device(s). Call "
            "kerasx.runtime.split_cpu at the start of the program."
        ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]
