"""`kerasx.fit` with its default callbacks against `model.fit` with none.

Same MLP, data (MNIST-sized: 60,000 x 784 random floats, 10 classes; `--quick`: 20,000), batch
32 and compile settings, 2 epochs per call; kerasx writes its checkpoints and logs into a
temporary run directory with the progress bar off. Goal: at most 1.03x the time of plain
`model.fit(verbose=0)`. kerasx adds nothing per batch (no batch-end hook of its own); its cost
is per epoch (`best.keras`, the resume state, the logs: about 65 ms here) and per call, so the
ratio is the median of ABBA pair ratios (see `paired_ratio`), the robust estimate of a few
percent on a noisy machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, mlp_784, paired_ratio, ratio_row

__all__ = ["run"]


def run(quick: bool = False) -> list[Row]:
    """Time both sides, interleaved; `quick` uses less data and fewer repeats."""
    import os

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
        return mlp_784(compile_kwargs={})

    ours_model, anchor_model = build(), build()
    folder = Path(tempfile.mkdtemp(prefix="kerasx-bench-fit-"))
    counter = iter(range(10**6))

    def ours() -> None:
        kerasx.fit(ours_model, x, y, epochs=epochs, batch_size=32,
                   run_dir=folder / f"run{next(counter)}", progress=False)

    def anchor() -> None:
        anchor_model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)

    repeats = 3 if quick else 4
    mine, theirs, ratio = paired_ratio(ours, anchor, repeats=repeats, warmup=1)
    return [
        ratio_row(
            f"fit {samples}x784 MLP, {epochs} epochs, default callbacks + run_dir",
            mine, theirs, goal_ratio=1.03, anchor_name="model.fit, no callbacks",
            ratio=ratio, note=f"median of {repeats} ABBA pair ratios",
        )
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
