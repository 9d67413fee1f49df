"""`kerasx demo`: train a small CNN on the embedded digits and write what a user keeps."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HELP = "train a small CNN on the embedded 8x8 digits and write model, history and summary"

DEFAULT_OUT = "kerasx-demo"


@dataclass
class DemoReport:
    """What `run_demo` did: test metrics, the files written, and how long it took."""

    test_accuracy: float
    test_loss: float
    epochs_trained: int
    seconds: float
    files: dict[str, str] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder. Defaults to ./{DEFAULT_OUT}/"
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train. Defaults to 20")
    parser.add_argument("--seed", type=int, default=0, help="random seed. Defaults to 0")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def build_demo_model():  # -> keras.Model
    """The demo's CNN for 8x8x1 digits: about 28,000 parameters."""
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


def run_demo(out: str | Path = DEFAULT_OUT, *, epochs: int = 20, seed: int = 0) -> DemoReport:
    """Train the demo CNN and write `model.keras`, `history.json` and `summary.txt` to `out`."""
    from kerasx._atomic import atomic_path, atomic_write_text
    from kerasx.errors import ConfigurationError

    if epochs < 1:
        raise ConfigurationError(f"--epochs must be at least 1. Received: epochs={epochs}.")
    start = time.perf_counter()
    import keras

    from kerasx.datasets import load_digits

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
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
    history = model.fit(
        x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=0
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

    files = {
        "model": out / "model.keras",
        "history": out / "history.json",
        "summary": out / "summary.txt",
    }
    with atomic_path(files["model"]) as temporary:
        model.save(temporary)
    atomic_write_text(files["history"], json.dumps(history.history, indent=2) + "\n")
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    atomic_write_text(files["summary"], "\n".join(lines) + "\n")

    return DemoReport(
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        epochs_trained=len(history.history["loss"]),
        seconds=time.perf_counter() - start,
        files={name: str(path) for name, path in files.items()},
    )


def format_report(report: DemoReport) -> str:
    lines = [
        "kerasx demo: a CNN on the 8x8 handwritten digits (1,437 train / 360 test)",
        f"  test accuracy  {report.test_accuracy:.4f}",
        f"  test loss      {report.test_loss:.4f}",
        f"  epochs         {report.epochs_trained}",
        f"  time           {report.seconds:.1f} s",
        "  files:",
    ]
    width = max(len(name) for name in report.files)
    for name, path in report.files.items():
        lines.append(f"    {name:<{width}}  {path}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report = run_demo(args.out, epochs=args.epochs, seed=args.seed)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(format_report(report))
    return 0
