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
"""Exit code of a command that failed: a check did not pass, or kerasx raised an error."""
EXIT_USAGE = 2
"""Exit code of bad usage: an unknown command or option, or a missing argument (argparse's)."""
EXIT_DEVICE_MISSING = 3
"""Exit code when a requested device is not visible, e.g. `kerasx smoke --device gpu`."""

COMMANDS: dict[str, str] = {
    "demo": "kerasx.cli._demo",
    "doctor": "kerasx.cli._doctor",
    "smoke": "kerasx.cli._smoke",
    "inspect": "kerasx.cli._inspect",
    "convert": "kerasx.cli._convert",
    "export": "kerasx.cli._export",
    "summary": "kerasx.cli._summary",
    "plot-model": "kerasx.cli._plot_model",
    "plot-history": "kerasx.cli._plot_history",
}
"""Subcommand name -> module implementing it."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand.

    Each entry of `COMMANDS` becomes a subcommand: its module adds the arguments, and its
    `run` function is stored as the parsed namespace's `_run`. Building the parser imports
    the command modules, which import nothing heavy.

    Returns:
        An `argparse.ArgumentParser` for the program `kerasx`, with `--version`,
        `-v`/`--verbose` and one subcommand per entry of `COMMANDS`.

    Example:

    >>> from kerasx.cli import build_parser
    >>> args = build_parser().parse_args(["inspect", "--json", "model.keras"])
    >>> args.command, args.file, args.json
    ('inspect', 'model.keras', True)
    """
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
    """Run the `kerasx` command line and return its exit code.

    This is the `kerasx` program (and `python -m kerasx`). A `KerasxError` raised by a
    command is printed to stderr as `kerasx COMMAND: error: ...`, without a traceback.

    Args:
        argv: the arguments, without the program name; None reads `sys.argv[1:]`.
            Defaults to `None`.

    Returns:
        The exit code: 0 on success, `EXIT_FAILURE` when the command failed or raised a
        `KerasxError`, 130 when interrupted (Ctrl-C), or a code the command documents
        (such as `EXIT_DEVICE_MISSING`).

    Raises:
        SystemExit: from argparse, as in any command-line program: with code 0 after
            `--help` or `--version`, with `EXIT_USAGE` for an unknown command or option.

    Example:

    >>> import keras, kerasx, os, tempfile
    >>> from kerasx.cli import EXIT_FAILURE, main
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> _ = kerasx.save(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), path)
    >>> main(["inspect", path])  # doctest: +ELLIPSIS
    file           ...model.keras
    format         keras
    ...
    safe           yes (nothing that runs code on load)
    0
    >>> main(["inspect", "missing.keras"]) == EXIT_FAILURE  # the message goes to stderr
    True
    """
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
