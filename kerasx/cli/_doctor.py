"""`kerasx doctor`: diagnose the environment and say how to fix what is wrong.

Exit codes: 0 when kerasx is usable here (warnings allowed), 1 when a check failed; the failed
checks and their fixes are printed (to stderr in text mode, in the JSON report with `--json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["HELP", "add_arguments", "format_report", "run"]

HELP = (
    "check Python, TensorFlow, Keras, GPUs, CUDA, Graphviz and Keras's home; say how to fix "
    "what is wrong"
)

_MARKS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


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


def format_report(report: Any) -> str:
    """The doctor report as aligned text: one line per check, its fix indented below it.

    Args:
        report: a `kerasx.cli._doctor_checks.DoctorReport`.

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
    from kerasx.cli._doctor_checks import diagnose

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
