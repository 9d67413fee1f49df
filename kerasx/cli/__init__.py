"""The `kerasx` command (also `python -m kerasx`).

Each subcommand lives in its own module under `kerasx.cli`, which defines `HELP` (one
line), `add_arguments(parser)` and `run(args) -> int`, and holds the command's logic (the
checks of `doctor`, too many for one module, are in `_doctor_checks.py`, which reads the
environment, and `_doctor_tensorflow.py`, which asks TensorFlow). Modules import nothing heavy
at import time, so `kerasx --help` is fast; TensorFlow loads only when a command needs it.

Exit codes: 0 success, 1 a check or command failed, 2 bad usage (unknown command or option),
3 a requested device (GPU) is missing; commands document their own codes beyond these.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from kerasx._version import __version__
from kerasx.errors import KerasxError

__all__ = ["COMMANDS", "EXIT_DEVICE_MISSING", "EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DEVICE_MISSING = 3

COMMANDS: dict[str, str] = {
    "demo": "kerasx.cli._demo",
    "doctor": "kerasx.cli._doctor",
    "smoke": "kerasx.cli._smoke",
    "inspect": "kerasx.cli._inspect",
    "convert": "kerasx.cli._convert",
    "summary": "kerasx.cli._summary",
    "plot-model": "kerasx.cli._plot_model",
    "plot-history": "kerasx.cli._plot_history",
}
"""Subcommand name -> module implementing it."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="kerasx",
        description="kerasx: train, save, inspect and draw Keras models from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"kerasx {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show TensorFlow's own log messages"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        help_text = getattr(module, "HELP", "")
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `kerasx` command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        # TensorFlow's C++ start-up chatter drowns the report; users can turn it back on.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args._run(args))
    except KerasxError as error:
        print(f"kerasx {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"kerasx {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
