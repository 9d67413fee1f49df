"""`kerasx convert SRC DST`: migrate a model file to another format, safely and atomically."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "convert a model file by suffix (.h5 -> .keras, .keras -> .h5/.weights.h5/.json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `SRC` and `DST` to the `convert` subcommand's parser.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument("src", help="the model file to read (.keras, .h5, .hdf5 or .json)")
    parser.add_argument("dst", help="the file to write; its suffix picks the format")


def run(args: argparse.Namespace) -> int:
    """Convert `args.src` to `args.dst` with `kerasx.io.convert` and print the file written.

    Args:
        args: the parsed arguments (`src`, `dst`).

    Returns:
        0.
    """
    from kerasx.io import convert

    written = convert(args.src, args.dst)
    print(f"kerasx convert: wrote {written}")
    return 0
