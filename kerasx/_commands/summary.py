"""`kerasx summary FILE`: print a saved model's layers, shapes and parameter counts."""

from __future__ import annotations

import argparse
import json

__all__ = ["HELP", "add_arguments", "run"]

HELP = "print the summary of a saved model (.keras, .h5, .json): layers, shapes, parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the model file to summarize")
    parser.add_argument(
        "--expand-nested", action="store_true", help="list the layers inside nested models"
    )
    parser.add_argument("--json", action="store_true", help="print the rows and totals as JSON")
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="allow files that can run code when loaded (Lambda layers, custom objects)",
    )


def run(args: argparse.Namespace) -> int:
    from kerasx.io import load
    from kerasx.viz._summary import summary

    model = load(args.file, compile=False, trusted=args.trusted)
    result = summary(model, expand_nested=args.expand_nested)
    if args.json:
        print(json.dumps({"rows": list(result.table), "totals": result.totals}, indent=2))
    else:
        print(result)
    return 0
