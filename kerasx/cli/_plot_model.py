"""`kerasx plot-model FILE -o out.png`: draw a saved model, with or without Graphviz."""

from __future__ import annotations

import argparse

from kerasx.cli._shared import add_model_file_arguments, load_model_file

__all__ = ["HELP", "add_arguments", "run"]

HELP = "draw a saved model's layers and connections to .png, .svg or .pdf (Graphviz optional)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `FILE`, `--trusted`, `--output` and the drawing options to the `plot-model` parser.

    Args:
        parser: the subcommand's parser.
    """
    add_model_file_arguments(parser)
    parser.add_argument(
        "-o", "--output", default="model.png", help="image to write. Defaults to model.png"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "graphviz", "builtin"),
        default="auto",
        help="renderer: Graphviz when installed (auto), or force one. Defaults to auto",
    )
    parser.add_argument(
        "--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB", help="flow direction"
    )
    parser.add_argument("--expand-nested", action="store_true", help="draw inside nested models")
    parser.add_argument("--show-dtype", action="store_true", help="show output dtypes")
    parser.add_argument("--dpi", type=int, default=96, help="PNG resolution. Defaults to 96")


def run(args: argparse.Namespace) -> int:
    """Load the model file, draw it and print the path of the image written.

    Args:
        args: the parsed arguments (`file`, `trusted`, `output`, `engine`, `rankdir`,
            `expand_nested`, `show_dtype`, `dpi`).

    Returns:
        0.
    """
    from kerasx.viz._diagram import plot_model

    model = load_model_file(args)
    written = plot_model(
        model,
        args.output,
        show_dtype=args.show_dtype,
        rankdir=args.rankdir,
        expand_nested=args.expand_nested,
        dpi=args.dpi,
        engine=args.engine,
    )
    print(written)
    return 0
