"""`kerasx demo`: train a small CNN on the embedded digits and write what a user keeps."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kerasx._atomic import atomic_path, atomic_write_text
from kerasx.errors import ConfigurationError

__all__ = [
    "DEFAULT_OUT",
    "HELP",
    "DemoReport",
    "add_arguments",
    "build_demo_model",
    "format_report",
    "run",
    "run_demo",
]

HELP = (
    "train a small CNN on the embedded 8x8 digits; write model, history, plots and summary "
    "(a second run resumes)"
)

DEFAULT_OUT = "kerasx-demo"


@dataclass
class DemoReport:
    """What `run_demo` did: test metrics, the files written, and how long it took.

    Attributes:
        test_accuracy: accuracy on the 360 held-out digits.
        test_loss: loss on the held-out digits.
        epochs_trained: epochs trained by this run (0 when an earlier run finished them all).
        resumed_from_epoch: the epoch this run resumed after (0 for a fresh start).
        seconds: wall time of the run.
        files: `{what: path}` of every file and folder written.
    """

    test_accuracy: float
    test_loss: float
    epochs_trained: int
    resumed_from_epoch: int
    seconds: float
    files: dict[str, str] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--out`, `--epochs`, `--seed`, `--json` and `--progress` to the `demo` parser.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder. Defaults to ./{DEFAULT_OUT}/"
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train. Defaults to 20")
    parser.add_argument("--seed", type=int, default=0, help="random seed. Defaults to 0")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")


def build_demo_model() -> Any:
    """The demo's CNN for 8x8x1 digits (28,330 parameters), a `keras.Sequential`."""
    import keras

    return keras.Sequential(
        [
            keras.Input((8, 8, 1), name="pixels"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="digits_cnn",
    )


def run_demo(
    out: str | Path = DEFAULT_OUT, *, epochs: int = 20, seed: int = 0, progress: bool = False
) -> DemoReport:
    """Train the demo CNN with `kerasx.fit` and write what a user keeps into `out`.

    The run directory `out/run` holds the checkpoints and logs, so calling the demo again
    resumes (or, when all epochs are done, returns at once) instead of starting over.

    Args:
        out: the output folder. Defaults to `"kerasx-demo"`.
        epochs: the total number of epochs. Defaults to `20`.
        seed: the random seed. Defaults to `0`.
        progress: show a progress bar. Defaults to `False`.

    Returns:
        A `DemoReport`.

    Raises:
        ConfigurationError: if `epochs` is below 1.
    """
    if epochs < 1:
        raise ConfigurationError(f"--epochs must be at least 1. Received: epochs={epochs}.")
    start = time.perf_counter()
    import kerasx
    from kerasx.datasets import load_digits

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kerasx.seed_everything(seed)
    (x_train, y_train), (x_test, y_test) = load_digits()
    x_train = (x_train / 16.0).astype("float32")[..., None]
    x_test = (x_test / 16.0).astype("float32")[..., None]

    model = build_demo_model()
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=16,
    )
    history = kerasx.fit(
        model,
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_split=0.1,
        run_dir=out / "run",
        seed=seed,
        progress=progress,
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

    files = {
        "model": out / "model.keras",
        "history": out / "history.json",
        "summary": out / "summary.txt",
        "history plot": out / "history.png",
        "diagram": out / "model.png",
        "run dir": out / "run",
    }
    kerasx.io.save(model, files["model"])
    history.save(files["history"])
    atomic_write_text(files["summary"], str(kerasx.viz.summary(model)) + "\n")
    figure = kerasx.viz.plot_history(history, title="kerasx demo: digits CNN")
    _save_figure(figure, files["history plot"])
    kerasx.viz.plot_model(model, files["diagram"])

    return DemoReport(
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        epochs_trained=history.trained_epochs,
        resumed_from_epoch=history.resumed_from_epoch,
        seconds=time.perf_counter() - start,
        files={name: str(path) for name, path in files.items()},
    )


def _save_figure(figure: Any, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)


def format_report(report: DemoReport) -> str:
    """The demo report as aligned text: test metrics, epochs, time and the files written.

    Args:
        report: a `DemoReport`, as `run_demo` returns it.

    Returns:
        The text, without a final newline.
    """
    lines = [
        "kerasx demo: a CNN on the 8x8 handwritten digits (1,437 train / 360 test)",
        f"  test accuracy  {report.test_accuracy:.4f}",
        f"  test loss      {report.test_loss:.4f}",
        f"  epochs         {_epochs_line(report)}",
        f"  time           {report.seconds:.1f} s",
        "  files:",
    ]
    width = max(len(name) for name in report.files)
    for name, path in report.files.items():
        lines.append(f"    {name:<{width}}  {path}")
    return "\n".join(lines)


def _epochs_line(report: DemoReport) -> str:
    total = report.resumed_from_epoch + report.epochs_trained
    if report.resumed_from_epoch == 0:
        return f"{total} trained"
    if report.epochs_trained == 0:
        return f"{total}, all done in an earlier run (resumed; nothing left to train)"
    return (
        f"{total}: resumed after epoch {report.resumed_from_epoch}, "
        f"trained {report.epochs_trained} more"
    )


def run(args: argparse.Namespace) -> int:
    """Train the demo and print its report.

    Args:
        args: the parsed arguments (`out`, `epochs`, `seed`, `json`, `progress`).

    Returns:
        0.
    """
    report = run_demo(args.out, epochs=args.epochs, seed=args.seed, progress=args.progress)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(format_report(report))
    return 0
