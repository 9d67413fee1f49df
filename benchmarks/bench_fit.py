"""`kerasx.fit` with its default callbacks against `model.fit` with none.

Same MLP, data (20,000 x 784 random floats, 10 classes), batch 32 and compile settings; kerasx
writes its checkpoints and logs into a temporary run directory with the progress bar off. Goal:
at most 1.03x the time of plain `model.fit(verbose=0)`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, interleaved_medians, ratio_row

__all__ = ["run"]


def run(quick: bool = False) -> list[Row]:
    """Time both sides, interleaved; `quick` uses less data and fewer repeats."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import kerasx

    samples = 4_000 if quick else 20_000
    epochs = 2
    rng = np.random.default_rng(0)
    x = rng.random((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)

    def build() -> keras.Model:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    ours_model, anchor_model = build(), build()
    folder = Path(tempfile.mkdtemp(prefix="kerasx-bench-fit-"))
    counter = iter(range(10**6))

    def ours() -> None:
        kerasx.fit(ours_model, x, y, epochs=epochs, batch_size=32,
                   run_dir=folder / f"run{next(counter)}", progress=False)

    def anchor() -> None:
        anchor_model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)

    repeats = 3 if quick else 5
    mine, theirs = interleaved_medians(ours, anchor, repeats=repeats, warmup=1)
    return [
        ratio_row(
            f"fit {samples}x784 MLP, {epochs} epochs, default callbacks + run_dir",
            mine, theirs, goal_ratio=1.03, anchor_name="model.fit, no callbacks",
        )
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
