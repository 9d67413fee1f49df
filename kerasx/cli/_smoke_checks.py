"""The checks behind `kerasx smoke`: can this machine train, predict, save and load a model?

On each requested device (`with tf.device(...)`) the smoke run builds a tiny classifier, trains
it for a few steps and checks the loss went down, predicts, saves and loads it through
`kerasx.io` in a temporary folder and compares predictions, and on a GPU also runs a
mixed-precision training step. Each check is timed.

The whole run is bounded by `timeout`: it runs in a worker thread and, when the time is up,
the report says which check was still running. A thread cannot be killed, so a caller that
got a timed-out report should end the process (the `kerasx smoke` command does, with
`os._exit`).

Which devices each `device` value means:

- `"cpu"`: the first CPU.
- `"gpu"`: every GPU TensorFlow sees; none visible -> `report.gpu_missing` and exit code 3
  (`kerasx.cli.EXIT_DEVICE_MISSING`), nothing else runs.
- `"all"`: the CPU and every visible GPU; no GPU visible is reported as a `skip` line, not a
  failure (exit 0 when the CPU passes). GPU runners should ask for `"gpu"` so that a broken
  driver fails the job.

Example:

```python
from kerasx.cli._smoke_checks import run_smoke

report = run_smoke("cpu", timeout=120)
assert report.exit_code == 0, report.checks
```
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kerasx.errors import ConfigurationError

__all__ = [
    "DEVICE_CHOICES",
    "EXIT_DEVICE_MISSING",
    "EXIT_FAILURE",
    "EXIT_OK",
    "FAIL",
    "PASS",
    "SKIP",
    "SmokeCheck",
    "SmokeReport",
    "run_smoke",
]

DEVICE_CHOICES = ("cpu", "gpu", "all")
PASS = "pass"
FAIL = "fail"
SKIP = "skip"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_DEVICE_MISSING = 3  # the same value as kerasx.cli.EXIT_DEVICE_MISSING

_SAMPLES = 64
_BATCH_SIZE = 16
_EPOCHS = 2
_PREDICTION_TOLERANCE = 1e-5


@dataclass
class SmokeCheck:
    """One timed smoke check.

    Attributes:
        device: the device it ran on (`"/CPU:0"`, `"/GPU:0"`, ...), or `"host"` for set-up
            steps, or `"gpu"` for the line that reports a missing GPU.
        name: `"import"`, `"build"`, `"train"`, `"predict"`, `"save_load"`,
            `"mixed_precision"`, `"devices"` or `"timeout"`.
        status: `"pass"`, `"fail"` or `"skip"`.
        seconds: wall time of the check.
        detail: what was measured, or why it failed.
    """

    device: str
    name: str
    status: str
    seconds: float
    detail: str


@dataclass
class SmokeReport:
    """The outcome of a smoke run.

    Attributes:
        requested: the `device` argument: `"cpu"`, `"gpu"` or `"all"`.
        devices: the devices the checks ran on.
        checks: the checks, in the order they ran.
        gpu_missing: whether a GPU was asked for (`"gpu"` or `"all"`) and none is visible.
        timed_out: whether the run was cut off by `timeout`.
        timeout: the time bound in seconds, or `None`.
        seconds: wall time of the whole run.
    """

    requested: str
    devices: list[str] = field(default_factory=list)
    checks: list[SmokeCheck] = field(default_factory=list)
    gpu_missing: bool = False
    timed_out: bool = False
    timeout: float | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 all passed; 1 a check failed or time ran out; 3 a GPU was requested, none seen."""
        if self.timed_out:
            return EXIT_FAILURE
        if self.gpu_missing and self.requested == "gpu":
            return EXIT_DEVICE_MISSING
        if any(check.status == FAIL for check in self.checks):
            return EXIT_FAILURE
        return EXIT_OK

    @property
    def ok(self) -> bool:
        """Whether the run passed (exit code 0)."""
        return self.exit_code == EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "requested": self.requested,
            "devices": list(self.devices),
            "gpu_missing": self.gpu_missing,
            "timed_out": self.timed_out,
            "timeout": self.timeout,
            "seconds": round(self.seconds, 3),
            "checks": [
                {**asdict(check), "seconds": round(check.seconds, 3)} for check in self.checks
            ],
        }


class _Run:
    """Shared state between the worker thread and the caller."""

    def __init__(self, report: SmokeReport) -> None:
        self.report = report
        self.current = "import"
        self.closed = False
        self.lock = threading.Lock()

    def add(self, check: SmokeCheck) -> None:
        with self.lock:
            if not self.closed:  # a timed-out worker must not change a returned report
                self.report.checks.append(check)

    def close(self, check: SmokeCheck | None = None) -> None:
        with self.lock:
            if check is not None:
                self.report.checks.append(check)
            self.closed = True


def _timed(run: _Run, device: str, name: str, body: Callable[[], str]) -> bool:
    """Run `body` as check `name`, record it, and return whether it passed."""
    run.current = f"{name} on {device}"
    start = time.perf_counter()
    try:
        detail = body()
    except Exception as error:
        run.add(SmokeCheck(device, name, FAIL, time.perf_counter() - start, _describe_error(error)))
        return False
    run.add(SmokeCheck(device, name, PASS, time.perf_counter() - start, detail))
    return True


def _describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    first_lines = text.splitlines()[:6]
    return " | ".join(line.strip() for line in first_lines if line.strip())


def _data() -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(_SAMPLES, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")
    return x, y


def _tiny_model(keras: Any, name: str) -> Any:
    """A seeded 4-8-3 classifier, compiled; seeded initializers leave global state alone."""
    model = keras.Sequential(
        [
            keras.Input((4,), name="features"),
            keras.layers.Dense(
                8,
                activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed=1),
                name="hidden",
            ),
            keras.layers.Dense(
                3,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=2),
                name="classes",
            ),
        ],
        name=name,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
    )
    return model


def _short(device_name: str) -> str:
    """`/job:localhost/replica:0/task:0/device:CPU:0` -> `CPU:0`."""
    return device_name.rsplit("device:", 1)[-1].upper()


def _check_device(run: _Run, tf: Any, keras: Any, device: str, is_gpu: bool) -> None:
    import numpy as np

    x, y = _data()
    state: dict[str, Any] = {}
    label = device.strip("/").replace(":", "_").lower()

    def build() -> str:
        with tf.device(device):
            model = _tiny_model(keras, f"smoke_{label}")
        placed = _short(model.weights[0].value.device)
        if placed != device.strip("/").upper():
            raise RuntimeError(
                f"weights were placed on {placed}, not on {device}; TensorFlow ignored the device"
            )
        state["model"] = model
        return f"4-8-3 classifier, {model.count_params()} parameters, weights on {placed}"

    def train() -> str:
        model = state["model"]
        with tf.device(device):
            before = float(model.evaluate(x, y, batch_size=_SAMPLES, verbose=0))
            model.fit(x, y, epochs=_EPOCHS, batch_size=_BATCH_SIZE, shuffle=False, verbose=0)
            after = float(model.evaluate(x, y, batch_size=_SAMPLES, verbose=0))
        steps = _EPOCHS * math.ceil(_SAMPLES / _BATCH_SIZE)
        if not math.isfinite(after) or not after < before:
            raise RuntimeError(
                f"the loss did not go down: {before:.4f} -> {after:.4f} after {steps} steps"
            )
        return f"loss {before:.4f} -> {after:.4f} after {steps} steps"

    def predict() -> str:
        with tf.device(device):
            predictions = state["model"].predict(x, batch_size=_SAMPLES, verbose=0)
        if predictions.shape != (_SAMPLES, 3):
            raise RuntimeError(f"expected predictions of shape (64, 3), got {predictions.shape}")
        if not np.all(np.isfinite(predictions)):
            raise RuntimeError("predictions contain NaN or Inf")
        if not np.allclose(predictions.sum(axis=1), 1.0, atol=1e-4):
            raise RuntimeError("softmax rows do not sum to 1")
        state["predictions"] = predictions
        return f"{predictions.shape[0]} predictions, finite, rows sum to 1"

    def save_load() -> str:
        import kerasx.io

        with tempfile.TemporaryDirectory(prefix="kerasx-smoke-") as folder:
            path = Path(folder) / f"smoke_{label}.keras"
            kerasx.io.save(state["model"], path)
            size = path.stat().st_size
            loaded = kerasx.io.load(path)
            with tf.device(device):
                reloaded = loaded.predict(x, batch_size=_SAMPLES, verbose=0)
        difference = float(np.max(np.abs(reloaded - state["predictions"])))
        if difference > _PREDICTION_TOLERANCE:
            raise RuntimeError(
                f"predictions after kerasx.io.save/load differ by {difference:.2e} "
                f"(tolerance {_PREDICTION_TOLERANCE:.0e})"
            )
        return f".keras file of {size} bytes; reloaded predictions within {difference:.1e}"

    def mixed_precision() -> str:
        # GPU only: one training step under the mixed_float16 policy, then restore the policy.
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            with tf.device(device):
                model = _tiny_model(keras, f"smoke_mixed_{label}")
                loss = float(model.train_on_batch(x, y))
            compute_dtype = model.layers[0].compute_dtype
        finally:
            keras.config.set_dtype_policy(previous)
        if compute_dtype != "float16" or not math.isfinite(loss):
            raise RuntimeError(f"compute dtype {compute_dtype}, loss {loss}")
        return f"one mixed_float16 step, loss {loss:.4f}, compute dtype float16"

    steps: list[tuple[str, Callable[[], str]]] = [
        ("build", build),
        ("train", train),
        ("predict", predict),
        ("save_load", save_load),
    ]
    if is_gpu:
        steps.append(("mixed_precision", mixed_precision))
    for index, (name, body) in enumerate(steps):
        if not _timed(run, device, name, body):
            for skipped, _ in steps[index + 1 :]:
                run.add(SmokeCheck(device, skipped, SKIP, 0.0, f"skipped: {name} failed"))
            return


def _work(run: _Run) -> None:
    report = run.report
    start = time.perf_counter()
    try:
        import keras
        import tensorflow as tf
    except Exception as error:
        run.add(
            SmokeCheck("host", "import", FAIL, time.perf_counter() - start, _describe_error(error))
        )
        return
    gpus = [f"/GPU:{index}" for index in range(len(tf.config.list_physical_devices("GPU")))]
    run.add(
        SmokeCheck(
            "host",
            "import",
            PASS,
            time.perf_counter() - start,
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {len(gpus)} GPU(s) visible",
        )
    )
    devices = [] if report.requested == "gpu" else ["/CPU:0"]
    if report.requested in ("gpu", "all"):
        devices += gpus
        if not gpus:
            report.gpu_missing = True
            status = SKIP if report.requested == "all" else FAIL
            run.add(
                SmokeCheck(
                    "gpu",
                    "devices",
                    status,
                    0.0,
                    "TensorFlow sees no GPU"
                    + ("; running the CPU checks only" if status == SKIP else ""),
                )
            )
    report.devices = devices
    for device in devices:
        _check_device(run, tf, keras, device, is_gpu=device.startswith("/GPU"))


def run_smoke(device: str = "cpu", *, timeout: float | None = None) -> SmokeReport:
    """Run the smoke checks on the requested devices.

    Args:
        device: `"cpu"`, `"gpu"` (every visible GPU) or `"all"` (CPU and every visible GPU).
            Defaults to `"cpu"`.
        timeout: bound in seconds for the whole run, TensorFlow's import included. Defaults
            to `None` (no bound).

    Returns:
        A `SmokeReport`; `report.exit_code` is 0 when every check passed, 1 when one failed or
        time ran out, 3 when `device="gpu"` and TensorFlow sees no GPU.

    Raises:
        ConfigurationError: `device` is not one of `"cpu"`, `"gpu"`, `"all"`, or `timeout` is
            not positive.
    """
    if device not in DEVICE_CHOICES:
        raise ConfigurationError(
            f"device must be one of {', '.join(DEVICE_CHOICES)}. Received: device={device!r}. "
            'Use "cpu", "gpu" or "all".'
        )
    if timeout is not None and not timeout > 0:
        raise ConfigurationError(
            f"timeout must be a positive number of seconds. Received: timeout={timeout!r}. "
            "Omit it for no bound."
        )
    report = SmokeReport(requested=device, timeout=timeout)
    run = _Run(report)
    start = time.perf_counter()
    worker = threading.Thread(target=_work, args=(run,), name="kerasx-smoke", daemon=True)
    worker.start()
    worker.join(timeout)
    report.seconds = time.perf_counter() - start
    if worker.is_alive():
        report.timed_out = True
        run.close(
            SmokeCheck(
                "host",
                "timeout",
                FAIL,
                report.seconds,
                f"the smoke run did not finish within {timeout:g} s; still running: "
                f"{run.current}. Raise --timeout, or run `kerasx doctor` if a device hangs",
            )
        )
    run.close()
    return report
