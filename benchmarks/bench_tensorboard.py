"""`kerasx.fit` with its TensorBoard logs against the same run without them.

One MLP object (784-128-10) for both sides, so that nothing but the logs differs; data
MNIST-sized (60,000 x 784 random floats, 10 classes; `--quick`: 20,000), batch 32, validation
split 0.1. Both sides are `kerasx.fit` with a fresh run directory and the default callbacks,
2 epochs per call, progress bar off: one with `tensorboard=True` (the default: train and
validation scalars and the learning rate, written after each epoch's state), one with
`tensorboard=False`. Goal: at most 1.02x. The logs cost per epoch (a few scalars and a flush)
and per call (two event files), so the ratio is the median of ABBA pair ratios (see
`paired_ratio`); a second row gives the time spent in the logger's hooks per epoch (writer
creation, reading back, the scalars and the flushes), timed directly, since the difference of
two medians is within the machine's noise.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, mlp_784, paired_samples, ratio_row

__all__ = ["run"]


def run(quick: bool = False) -> list[Row]:
    """Time both sides, interleaved; `quick` uses less data and fewer repeats."""
    import os
    import statistics

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import kerasx

    samples = 20_000 if quick else 60_000
    epochs = 2
    rng = np.random.default_rng(0)
    x = rng.random((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)

    def build() -> keras.Model:
        return mlp_784(compile_kwargs={"metrics": ["accuracy"]})

    # The time spent in the logger's hooks, measured directly (the difference of the two
    # medians is within the machine's noise).
    from kerasx.callbacks import TensorBoardLogger

    spent: list[float] = []
    hooks = ("on_train_begin", "on_epoch_end", "on_train_end")
    originals = {name: getattr(TensorBoardLogger, name) for name in hooks}

    def timed_hook(name: str) -> Any:
        def hook(self: Any, *args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            originals[name](self, *args, **kwargs)
            spent.append(time.perf_counter() - start)

        return hook

    for name in hooks:
        setattr(TensorBoardLogger, name, timed_hook(name))

    model = build()  # one model for both sides, so that nothing but the logs differs
    folder = Path(tempfile.mkdtemp(prefix="kerasx-bench-tensorboard-"))
    counter = iter(range(10**6))

    def fit(tensorboard: bool) -> None:
        kerasx.fit(model, x, y, epochs=epochs, batch_size=32, validation_split=0.1,
                   run_dir=folder / f"run{next(counter)}", progress=False,
                   tensorboard=tensorboard)

    repeats = 3 if quick else 6
    calls = 2 * repeats + 1  # the logged side's calls, warm-up included
    logged, plain, ratios = paired_samples(
        lambda: fit(True), lambda: fit(False),
        repeats=repeats, warmup=1,
    )
    events = sorted(p.name for p in folder.rglob("events.out.tfevents.*"))
    assert events, "the runs with tensorboard=True wrote no event files"
    for name, hook in originals.items():
        setattr(TensorBoardLogger, name, hook)
    mine, theirs = statistics.median(logged), statistics.median(plain)
    per_epoch_ms = sum(spent) / (calls * epochs) * 1000
    return [
        ratio_row(
            f"fit {samples}x784 MLP, {epochs} epochs, run_dir, with TensorBoard logs",
            mine, theirs, goal_ratio=1.02, anchor_name="the same, tensorboard=False",
            ratio=statistics.median(ratios), note=f"median of {repeats} ABBA pair ratios",
        ),
        ratio_row(
            "  time in the TensorBoard logger per epoch (its hooks, timed)",
            per_epoch_ms, theirs / epochs * 1000, unit="ms", goal_ratio=None,
            anchor_name="an epoch without the logs",
        ),
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
