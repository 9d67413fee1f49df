"""Arguments and steps that several `kerasx` subcommands share."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_model_file_arguments", "load_model_file"]


def add_model_file_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the saved-model `FILE` argument and the `--trusted` flag."""
    parser.add_argument("file", help="a saved model: .keras, .h5 or .json")
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="allow files that can run code when loaded (Lambda layers, custom objects)",
    )


def load_model_file(args: argparse.Namespace) -> Any:
    """Load `args.file` through `kerasx.io.load`, safe unless `--trusted`, without compiling."""
    from kerasx.io import load

    return load(args.file, compile=False, trusted=args.trusted)
