"""kerasx.viz speed: history plots and built-in model diagrams, each under one second.

Rows (times are medians, PNG rendered to memory, 2 CPU cores):

- `plot_history 1000 epochs x 8 metrics`: `plot_history` on 8 metrics and their `val_`
  curves (16 curves of 1,000 points, 8 panels) plus `savefig` to PNG at 100 dpi. Anchor: the
  1 s goal of issue 6 (ratio = seconds).
- `plot_history vs raw matplotlib`: the same call against a hand-written matplotlib figure of
  the same 16 curves on 8 panels (what a user writes without kerasx): kerasx's overhead,
  goal <= 1.5x.
- `plot_model builtin, 100 layers`: the built-in (matplotlib) renderer on a 100-layer
  Sequential model, graph reading + layout + PNG at 96 dpi. Anchor: the 1 s goal.
- (when Graphviz is installed) `plot_model builtin vs graphviz`: the same model through `dot`,
  for reference only (no goal).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Row, format_table, interleaved_medians, median_seconds, ratio_row

__all__ = ["run"]

EPOCHS = 1000
METRICS = 8
LAYERS = 100


def _history() -> dict[str, list[float]]:
    import numpy as np

    rng = np.random.default_rng(0)
    history: dict[str, list[float]] = {}
    for i in range(METRICS):
        name = "loss" if i == 0 else f"metric_{i}"
        history[name] = list(np.cumsum(rng.normal(size=EPOCHS)))
        history[f"val_{name}"] = list(np.cumsum(rng.normal(size=EPOCHS)))
    return history


def _raw_matplotlib(history: dict[str, list[float]]) -> None:
    from matplotlib.figure import Figure

    names = [k for k in history if not k.startswith("val_")]
    figure = Figure(figsize=(12.6, 9.0))
    grid = figure.subplots(3, 3)
    epochs = list(range(1, EPOCHS + 1))
    for axes, name in zip(grid.flat, names):
        axes.plot(epochs, history[name], "-", label="train")
        axes.plot(epochs, history[f"val_{name}"], "--", label="validation")
        axes.set_title(name)
        axes.legend()
    figure.delaxes(grid.flat[-1])
    figure.savefig(io.BytesIO(), format="png", dpi=100)


def _kerasx_history(history: dict[str, list[float]]) -> None:
    from kerasx.viz import plot_history

    plot_history(history).savefig(io.BytesIO(), format="png", dpi=100)


def _deep_model() -> Any:
    import keras

    layers = [keras.Input((32,), name="features")]
    layers += [keras.layers.Dense(8, name=f"dense_{i}") for i in range(LAYERS - 1)]
    return keras.Sequential(layers, name="deep")


def _plot(model: Any, engine: str) -> None:
    from kerasx.viz._diagram import _render_builtin, _render_graphviz
    from kerasx.viz._graph import model_graph

    render = _render_builtin if engine == "builtin" else _render_graphviz
    options = {"show_shapes": True, "show_dtype": False, "show_layer_names": True}
    render(model_graph(model), "png", rankdir="TB", dpi=96, **options)


def run(quick: bool = False) -> list[Row]:
    """Time the history plot and the built-in diagram; `quick` uses fewer repeats."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import matplotlib

    matplotlib.use("Agg")
    repeats = 3 if quick else 7
    history = _history()
    ours, raw = interleaved_medians(
        lambda: _kerasx_history(history), lambda: _raw_matplotlib(history), repeats=repeats
    )
    rows = [
        ratio_row(
            f"plot_history {EPOCHS} epochs x {METRICS} metrics",
            ours,
            1.0,
            goal_ratio=1.0,
            anchor_name="goal: 1 s",
        ),
        ratio_row(
            "plot_history vs raw matplotlib",
            ours,
            raw,
            goal_ratio=1.5,
            anchor_name="same 16 curves by hand",
        ),
    ]
    model = _deep_model()
    builtin, _ = median_seconds(lambda: _plot(model, "builtin"), repeats=repeats)
    rows.append(
        ratio_row(
            f"plot_model builtin, {LAYERS} layers",
            builtin,
            1.0,
            goal_ratio=1.0,
            anchor_name="goal: 1 s",
        )
    )
    if shutil.which("dot"):
        graphviz, _ = median_seconds(lambda: _plot(model, "graphviz"), repeats=repeats)
        rows.append(
            ratio_row(
                "plot_model builtin vs graphviz",
                builtin,
                graphviz,
                goal_ratio=None,
                anchor_name="Graphviz dot",
            )
        )
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
