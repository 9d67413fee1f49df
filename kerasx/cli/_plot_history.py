"""`kerasx plot-history RUN_DIR_OR_LOG -o out.png`: draw training curves from a log."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "plot loss and metric curves from a run directory or a history .json/.csv log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `PATH...`, `--output` and the plotting options to the `plot-history` subcommand's parser.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        "path",
        nargs="+",
        help="run directory (holding history.json/.csv) or log file; several to compare runs",
    )
    parser.add_argument(
        "-o", "--output", default="history.png", help="image to write. Defaults to history.png"
    )
    parser.add_argument("--metrics", nargs="+", default=None, help="metrics to plot")
    parser.add_argument("--smooth", type=float, default=None, help="moving average weight, 0-1")
    parser.add_argument("--log-scale", action="store_true", help="logarithmic y axis")
    parser.add_argument("--title", default=None, help="figure title")
    parser.add_argument("--dpi", type=int, default=100, help="PNG resolution. Defaults to 100")


def run(args: argparse.Namespace) -> int:
    """Plot the history (several paths: one curve per run) and print the image written.

    Args:
        args: the parsed arguments (`path`, `output`, `metrics`, `smooth`, `log_scale`,
            `title`, `dpi`).

    Returns:
        0.

    Raises:
        ConfigurationError: if `--output` is not a .png, .svg or .pdf file.
    """
    from pathlib import Path

    from kerasx._atomic import atomic_path
    from kerasx.errors import ConfigurationError
    from kerasx.viz._history import plot_history

    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigurationError(
            "plot-history writes .png, .svg or .pdf files. "
            f"Received: --output={args.output!r}. Give the file one of these suffixes."
        )
    if len(args.path) == 1:
        history: object = args.path[0]
    else:
        history = {_run_name(p): p for p in args.path}
    figure = plot_history(
        history,
        metrics=args.metrics,
        smooth=args.smooth,
        log_scale=args.log_scale,
        title=args.title,
    )
    with atomic_path(output) as temporary:
        figure.savefig(temporary, format=output.suffix.lower().lstrip("."), dpi=args.dpi)
    print(output)
    return 0


def _run_name(path: str) -> str:
    from pathlib import Path

    p = Path(path)
    return p.name if p.is_dir() else f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem
