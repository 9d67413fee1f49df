"""`kerasx summary FILE`: print a saved model's layers, shapes and parameter counts."""

from __future__ import annotations

import argparse
import json

from kerasx.cli._shared import add_model_file_arguments, load_model_file

__all__ = ["HELP", "add_arguments", "run"]

HELP = "print the summary of a saved model (.keras, .h5, .json): layers, shapes, parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `FILE`, `--trusted`, `--expand-nested` and `--json` to the `summary` subcommand's parser.

    Args:
        parser: the subcommand's parser.
    """
    add_model_file_arguments(parser)
    parser.add_argument(
        "--expand-nested", action="store_true", help="list the layers inside nested models"
    )
    parser.add_argument("--json", action="store_true", help="print the rows and totals as JSON")


def run(args: argparse.Namespace) -> int:
    """Load the model file and print its summary (as JSON with `--json`).

    Args:
        args: the parsed arguments (`file`, `trusted`, `expand_nested`, `json`).

    Returns:
        0.
    """
    from kerasx.viz._summary import summary

    model = load_model_file(args)
    result = summary(model, expand_nested=args.expand_nested)
    if args.json:
        print(json.dumps({"rows": list(result.table), "totals": result.totals}, indent=2))
    else:
        print(result)
    return 0
