"""`kerasx.lr_find` with 100 steps against 100 training steps of the same model.

The MLP of `bench_fit.py` (784-128-10, Adam, sparse categorical crossentropy) on 3,200
random samples of 784 floats, batch 32: `lr_find(model, x, y, steps=100)` (with
`stop_factor=math.inf`, so that all 100 steps run whatever the loss does; the benchmark
checks they did) against `model.fit(x, y, batch_size=32, epochs=1, verbose=0)`, exactly 100
steps. The ratio is the median of ABBA pair ratios (see `paired_ratio`). Goal: at most 1.2x,
in each of three situations:

- **fresh models**: both sides get a newly built and compiled model before every timed call
  (built outside the timing), so each call includes its one tracing of the training step, as
  when a user runs `lr_find` first and then trains;
- **warm**: the same two models call after call; Keras reuses its traced training function
  on both sides (`lr_find` trains through it, as `train_on_batch` does);
- **kerasx's compile defaults**: fresh models compiled by `kerasx.models.compile`, whose
  `steps_per_execution` lets `model.fit` run all 100 steps in one call into TensorFlow, while
  `lr_find` still runs one step per call, since it sets the learning rate and reads the loss
  after every step.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, mlp_784, paired_ratio, ratio_row

__all__ = ["run"]

STEPS = 100
BATCH = 32


def _builder(kerasx_compile: bool) -> Callable[[], Any]:

    import kerasx

    def build() -> Any:
        if kerasx_compile:
            return kerasx.models.compile(mlp_784())
        return mlp_784(compile_kwargs={})

    return build


def _sides(x: Any, y: Any, build: Callable[[], Any], fresh: bool) -> tuple[Any, Any, Any]:
    """`(ours, anchor, between)`: the two timed calls, and what prepares their models."""
    import kerasx

    models: dict[str, Any] = {"ours": build(), "anchor": build()}

    def between() -> None:
        if fresh:
            models["ours"], models["anchor"] = build(), build()

    def ours() -> None:
        result = kerasx.lr_find(
            models["ours"], x, y, steps=STEPS, batch_size=BATCH, stop_factor=math.inf, seed=0
        )
        assert len(result.losses) == STEPS, result

    def anchor() -> None:
        models["anchor"].fit(x, y, batch_size=BATCH, epochs=1, verbose=0)

    return ours, anchor, between


def run(quick: bool = False) -> list[Row]:
    """Time both sides, ABBA; `quick` takes fewer pairs."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((STEPS * BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, STEPS * BATCH)
    repeats = 3 if quick else 7
    cases = [
        ("fresh models (each call traces its training step)", False, True),
        ("warm (the same models call after call)", False, False),
        ("`kerasx.models.compile` defaults, fresh models", True, True),
    ]
    rows = []
    for label, kerasx_compile, fresh in cases:
        ours, anchor, between = _sides(x, y, _builder(kerasx_compile), fresh)
        mine, theirs, ratio = paired_ratio(
            ours, anchor, repeats=repeats, warmup=1, between=between
        )
        rows.append(
            ratio_row(
                f"`lr_find(steps=100)` vs 100 training steps, MLP 784-128-10, batch 32: {label}",
                mine, theirs, goal_ratio=1.2, anchor_name="model.fit, 100 steps",
                ratio=ratio, note=f"median of {repeats} ABBA pair ratios",
            )
        )
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
