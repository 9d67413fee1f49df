"""`kerasx smoke`: the one command a CI runner calls to prove training works on its devices.

Exit codes: 0 every check passed; 1 a check failed or `--timeout` ran out; 3 (`kerasx.cli.
EXIT_DEVICE_MISSING`) `--device gpu` was requested but TensorFlow sees no GPU. `--device all`
on a machine without a GPU runs the CPU checks, reports the GPU as skipped and exits 0: use
`--device gpu` on GPU runners so that a broken driver fails the job.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

__all__ = ["DEFAULT_TIMEOUT", "HELP", "add_arguments", "format_report", "run"]

HELP = "train, predict, save and load a tiny model on the CPU and/or GPUs; for CI runners"

DEFAULT_TIMEOUT = 600.0

_MARKS = {"pass": "PASS", "fail": "FAIL", "skip": "skip"}


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"--timeout must be a positive number of seconds. Received: {text!r}."
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--device`, `--json` and `--timeout` to the `smoke` subcommand's parser.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "all"),
        default="cpu",
        help="cpu; gpu (every visible GPU, exit 3 when there is none); or all (CPU and every "
        "visible GPU, a missing GPU is only reported). Defaults to cpu",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="fail when the whole run takes longer than S seconds. "
        f"Defaults to {DEFAULT_TIMEOUT:g}",
    )


def format_report(report: Any) -> str:
    """The smoke report as aligned text, one line per check, and a closing verdict.

    Args:
        report: a `kerasx.cli._smoke_checks.SmokeReport`.

    Returns:
        The text, without a final newline.
    """
    lines = [f"kerasx smoke --device {report.requested}"]
    device_width = max([len(check.device) for check in report.checks] + [4])
    name_width = max([len(check.name) for check in report.checks] + [4])
    for check in report.checks:
        lines.append(
            f"  {_MARKS[check.status]}  {check.device:<{device_width}}  "
            f"{check.name:<{name_width}}  {check.seconds:6.2f} s  {check.detail}"
        )
    passed = sum(check.status == "pass" for check in report.checks)
    if report.exit_code == 0:
        lines.append(f"kerasx smoke: {passed} checks passed in {report.seconds:.1f} s")
    return "\n".join(lines)


def _failure_message(report: Any) -> str:
    if report.timed_out:
        return (
            f"kerasx smoke: error: the run did not finish within {report.timeout:g} s "
            "(see the timeout line above). Raise --timeout or run `kerasx doctor`."
        )
    if report.exit_code == 3:
        return (
            "kerasx smoke: error: --device gpu was requested but TensorFlow sees no GPU "
            "(exit code 3). Run `kerasx doctor` to see why: check `nvidia-smi` and install "
            'the CUDA libraries with `pip install "tensorflow[and-cuda]"`.'
        )
    failed = [
        f"{check.name} on {check.device}" for check in report.checks if check.status == "fail"
    ]
    return f"kerasx smoke: error: failed: {', '.join(failed)} (see above)."


def run(args: argparse.Namespace) -> int:
    """Run the smoke checks and print the report (the reason for a failure also to stderr).

    When `--timeout` ran out, the process ends at once with `os._exit`, because the worker
    thread may be stuck inside TensorFlow.

    Args:
        args: the parsed arguments (`device`, `json`, `timeout`).

    Returns:
        0 every check passed; 1 a check failed or time ran out; 3 `--device gpu` and no GPU.
    """
    from kerasx.cli._smoke_checks import run_smoke

    report = run_smoke(args.device, timeout=args.timeout)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    code = report.exit_code
    if code != 0:
        print(_failure_message(report), file=sys.stderr)
    if report.timed_out:
        # The worker thread may be stuck inside TensorFlow; do not wait for it at exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
