"""`kerasx export MODEL OUT`: export a saved model for serving and check the artifact.

The model file is loaded safely first (as `kerasx summary` does: unsafe files need
`--trusted`). The format comes from `--format`, or else from OUT's suffix: `.onnx` is ONNX,
`.tflite` is LiteRT, anything else a SavedModel directory. Exit codes: 0 when the artifact was
written (and matched the model, unless `--no-verify`), 1 when kerasx raised an error (a failed
conversion, a mismatch, a missing package: nothing was written), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kerasx.cli._shared import load_model_file

__all__ = ["HELP", "add_arguments", "format_for", "run"]

HELP = (
    "export a saved model for serving (SavedModel, ONNX, LiteRT) and check the artifact "
    "computes what the model does"
)

_FORMATS = ("saved_model", "onnx", "litert")
_BY_SUFFIX = {".onnx": "onnx", ".tflite": "litert"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `MODEL`, `OUT` and the export options to the `export` subcommand's parser.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument("file", metavar="MODEL", help="the saved model: .keras or .h5")
    parser.add_argument(
        "out",
        metavar="OUT",
        help="the artifact to write: a folder (SavedModel), a .onnx or a .tflite file",
    )
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="allow model files that can run code when loaded (Lambda layers, custom objects)",
    )
    parser.add_argument(
        "--format",
        choices=_FORMATS,
        default=None,
        help="the export format (default: from OUT's suffix; a folder is a SavedModel)",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="write the artifact without reading it back and comparing it with the model",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-5,
        help="largest absolute difference accepted between artifact and model (default: 1e-5)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="fix the artifact's batch dimension (LiteRT needs it for LSTM and GRU layers)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def format_for(out: str, requested: str | None) -> str:
    """The export format: the one requested, else the one OUT's suffix names.

    Args:
        out: the path to write.
        requested: the `--format` given, or None.

    Returns:
        `"saved_model"`, `"onnx"` or `"litert"`.
    """
    if requested is not None:
        return requested
    return _BY_SUFFIX.get(Path(out).suffix.lower(), "saved_model")


def run(args: argparse.Namespace) -> int:
    """Load the model file safely, export it with `kerasx.io.export`, print the report.

    Args:
        args: the parsed arguments (`file`, `trusted`, `out`, `format`, `verify`, `atol`,
            `batch_size`, `json`).

    Returns:
        0.
    """
    from kerasx.io import export

    model = load_model_file(args)
    report = export(
        model,
        args.out,
        format=format_for(args.out, args.format),
        verify=args.verify,
        atol=args.atol,
        batch_size=args.batch_size,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return 0
