"""`kerasx doctor`: diagnose the environment and say how to fix what is wrong.

Exit codes: 0 when kerasx is usable here (warnings allowed), 1 when a check failed; the failed
checks and their fixes are printed (to stderr in text mode, in the JSON report with `--json`).

`diagnose()` runs every check in this process and returns a `DoctorReport`: the environment
checks of `kerasx.cli._doctor_checks`, then those of `kerasx.cli._doctor_tensorflow`, which
import TensorFlow.

Example:

```python
from kerasx.cli._doctor import diagnose

report = diagnose()
for check in report.checks:
    print(check.status, check.name, check.detail)
```
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from kerasx._compat import fast_paths
from kerasx.cli._doctor_checks import (
    FAIL,
    OK,
    WARN,
    Check,
    check_determinism,
    check_graphviz,
    check_keras_backend,
    check_keras_home,
    check_keras_mixing,
    check_legacy_keras,
    check_package,
    check_python,
    check_tensorboard,
    check_tested_range,
    distribution_version,
    environment,
    keras_home,
    legacy_keras_requested,
    requested_keras_backend,
)
from kerasx.cli._doctor_tensorflow import (
    check_cuda_build,
    check_devices,
    check_keras,
    check_mixed_precision,
    check_tensorflow,
    check_xla,
    gpu_facts,
    op_determinism,
)

__all__ = ["HELP", "DoctorReport", "add_arguments", "diagnose", "format_report", "run"]

HELP = (
    "check Python, TensorFlow, Keras, GPUs, CUDA, Graphviz, TensorBoard and Keras's home; say "
    "how to fix what is wrong"
)

_MARKS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


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


def diagnose(env: Mapping[str, str] | None = None) -> DoctorReport:
    """Run every doctor check in this process.

    Imports TensorFlow (and Keras, when the backend is TensorFlow).

    Args:
        env: environment variables to judge. Defaults to `None`, which means `os.environ`.
            TensorFlow itself always sees the real environment.

    Returns:
        A `DoctorReport`; `report.ok` says whether kerasx is usable here.
    """
    env = environment(env)
    checks = [check_python()]
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    tensorflow_check, tf = check_tensorflow()
    checks.append(tensorflow_check)
    checks.append(check_keras(env))
    checks.append(check_keras_backend(env))
    facts["keras"] = distribution_version("keras")
    facts["keras_backend"] = requested_keras_backend(env)[0]
    checks.append(_tf_keras_check(env, tf, facts))
    checks.append(check_keras_mixing())
    if tf is not None:
        checks.extend(_tensorflow_checks(tf, checks, facts))
    checks.extend(_package_checks())
    checks.append(check_graphviz())
    checks.append(check_determinism(env, op_determinism=op_determinism(tf) if tf else None))
    checks.append(check_keras_home(env))
    facts["keras_home"] = str(keras_home(env))
    checks.append(check_tested_range(facts.get("tensorflow"), facts["keras"]))
    return DoctorReport(checks=checks, facts=facts)


def _tf_keras_check(env: Mapping[str, str], tf: Any, facts: dict[str, Any]) -> Check:
    """Resolve `tf.keras` (unless that cannot work) and judge what it is."""
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
    return check_legacy_keras(env, tf_keras_module=tf_keras_module, tf_keras_error=tf_keras_error)


def _tensorflow_checks(tf: Any, checks: list[Check], facts: dict[str, Any]) -> list[Check]:
    """The device, CUDA, precision and XLA checks; the build, GPU and runtime facts."""
    from kerasx import runtime

    build = dict(tf.sysconfig.get_build_info())
    gpus = gpu_facts()
    facts["build"] = {key: runtime.jsonable(value) for key, value in build.items()}
    facts["gpus"] = gpus
    status = {check.name: check.status for check in checks}
    if status["keras"] == OK and status["keras_backend"] == OK:
        try:
            facts["runtime"] = runtime.jsonable(runtime.describe())
        except Exception as error:  # the checks above already say what is wrong
            facts["runtime"] = {"error": f"{type(error).__name__}: {error}"}
        facts["fast_paths"] = fast_paths()
    return [
        *([_check_fast_paths(facts["fast_paths"])] if "fast_paths" in facts else []),
        check_devices(gpus, build),
        check_cuda_build(build, gpus),
        check_mixed_precision(gpus),
        check_xla(tf),
    ]


def _check_fast_paths(paths: dict[str, dict[str, Any]]) -> Check:
    """Which speed-ups that need Keras internals are on (see `kerasx._compat`)."""
    active = [name for name, path in paths.items() if path["active"]]
    off = {name: path["reason"] for name, path in paths.items() if not path["active"]}
    if not off:
        return Check("fast_paths", OK, f"active: {', '.join(active) or 'none registered'}")
    detail = "off: " + "; ".join(f"{name} ({reason})" for name, reason in off.items())
    if active:
        detail += f"; active: {', '.join(active)}"
    if all(reason.endswith("is set") for reason in off.values()):
        return Check("fast_paths", OK, detail)
    return Check(
        "fast_paths",
        WARN,
        detail,
        "kerasx takes Keras's public paths instead (slower, same results); install a Keras "
        "in the tested range to turn them on.",
    )


def _package_checks() -> list[Check]:
    return [
        check_package(
            "h5py",
            required=True,
            purpose="Keras needs it to save weights in .keras and .h5 files",
            fix='Install it: `pip install "h5py>=3.10"`.',
        ),
        check_package(
            "pydot",
            required=False,
            purpose="plot_model then uses kerasx's built-in renderer",
            fix='Install it: `pip install "pydot>=2.0"`.',
        ),
        check_tensorboard(),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--json` to the `doctor` subcommand's parser.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON ({ok, checks: [{name, status, detail, fix}], facts})",
    )


def format_report(report: DoctorReport) -> str:
    """The doctor report as aligned text: one line per check, its fix indented below it.

    Args:
        report: a `DoctorReport`, as `diagnose` returns it.

    Returns:
        The text, without a final newline.
    """
    width = max(len(check.name) for check in report.checks)
    lines = ["kerasx doctor"]
    for check in report.checks:
        lines.append(f"  {_MARKS[check.status]:<4}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(f"        {'':<{width}}  fix: {check.fix}")
    warnings = sum(check.status == "warn" for check in report.checks)
    if report.ok:
        lines.append(f"kerasx is usable here ({warnings} warning(s)).")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run every check and print the report (the failures also to stderr).

    Args:
        args: the parsed arguments (`json`).

    Returns:
        0 when kerasx is usable here (warnings allowed), 1 when a check failed.
    """
    report = diagnose()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    if not report.ok:
        print("kerasx doctor: kerasx is not usable here:", file=sys.stderr)
        for check in report.failures:
            print(f"  {check.name}: {check.detail}. Fix: {check.fix}", file=sys.stderr)
    return 0 if report.ok else 1
