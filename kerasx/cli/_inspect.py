"""`kerasx inspect FILE`: describe a model file without loading it (safe on any file)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["HELP", "add_arguments", "format_report", "run"]

HELP = "describe a model, weights or JSON file without loading it (also flags unsafe content)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a .keras, .h5, .weights.h5 or .json file, or a SavedModel")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--weights", action="store_true", help="also print per-variable weight statistics"
    )


def _shapes(shapes: list[Any]) -> str:
    if not shapes:
        return "-"
    parts = []
    for shape in shapes:
        parts.append("?" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")")
    return ", ".join(parts)


def format_report(report: dict[str, Any]) -> str:
    """The `inspect` report as readable lines."""
    params = report["params"]
    classes = ", ".join(f"{name} x{count}" for name, count in report["layer_classes"].items())
    lines = [
        f"file           {report['path']}",
        f"format         {report['format']}",
        f"keras version  {report['keras_version'] or 'unknown'}",
        f"model          {report['model_class'] or '-'}"
        + (f" ({report['model_name']})" if report["model_name"] else ""),
        f"layers         {report['layer_count']}" + (f": {classes}" if classes else ""),
        f"parameters     {params:,}" if params is not None else "parameters     -",
        f"inputs         {_shapes(report['input_shapes'])}",
        f"outputs        {_shapes(report['output_shapes'])}",
        f"compiled       {'yes' if report['compiled'] else 'no'}"
        + (" (with optimizer state)" if report["optimizer_state"] else ""),
    ]
    if report["unsafe"]:
        lines.append(f"UNSAFE         {len(report['unsafe'])} finding(s); load needs trusted=True:")
        lines += [f"  - {finding}" for finding in report["unsafe"]]
    else:
        lines.append("safe           yes (nothing that runs code on load)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kerasx.io import inspect

    report = inspect(args.file)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    if args.weights:
        from kerasx.viz._weight_stats import weight_stats_from_file
        from kerasx.viz._weight_table import format_weight_stats

        print()
        print(format_weight_stats(weight_stats_from_file(args.file)))
    return 0
