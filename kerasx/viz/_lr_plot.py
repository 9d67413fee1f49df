"""`plot_lr_find`: the loss against the learning rate, as `kerasx.lr_find` measured it.

`LRFinderResult.plot()` calls it; it takes plain sequences so that `kerasx.viz` needs nothing
from `kerasx.training`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.figure import Figure

__all__ = ["plot_lr_find"]

_WIDTH, _HEIGHT = 6.4, 4.2


def _new_axes() -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH, _HEIGHT))
    axes = figure.add_subplot()
    # Fixed margins in inches, room for a two-line title (constrained layout costs more).
    figure.subplots_adjust(
        left=0.8 / _WIDTH, right=1 - 0.2 / _WIDTH, bottom=0.6 / _HEIGHT, top=1 - 0.75 / _HEIGHT
    )
    return axes


def _title(suggestion: float | None) -> str:
    if suggestion is None:
        return (
            "No learning rate at which the loss falls:\n"
            "lower min_lr, or check the model and its data"
        )
    return (
        f"Suggested learning rate: {suggestion:.2g} (steepest descent)\n"
        f"train with it: optimizer.learning_rate = {suggestion:.2g}"
    )


def _loss_limits(losses: Sequence[float], smoothed: Sequence[float]) -> tuple[float, float]:
    """The loss axis: every smoothed value and the raw values below them; spikes are cut."""
    low = min([*losses, *smoothed])
    high = max(smoothed)
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
    return low - margin, high + margin


def plot_lr_find(
    lrs: Iterable[float],
    losses: Iterable[float],
    smoothed_losses: Iterable[float],
    suggestion: float | None,
    *,
    ax: Any = None,
) -> Figure:
    """Plot losses against learning rates on a log scale, with the suggestion marked.

    The raw loss is drawn faintly under the smoothed one; a dashed vertical line and a dot
    mark the suggestion, and the title says what to do with it. Builds on a
    `matplotlib.figure.Figure` directly: no pyplot state, nothing shown.

    Args:
        lrs: the learning rate of each step, increasing.
        losses: the raw loss of each step.
        smoothed_losses: the smoothed loss of each step.
        suggestion: the suggested learning rate (one of `lrs`), or None.
        ax: a matplotlib `Axes` to draw into. Defaults to `None`, a new figure.

    Returns:
        The `Figure` drawn into.
    """
    lrs, losses, smoothed = list(lrs), list(losses), list(smoothed_losses)
    axes = _new_axes() if ax is None else ax
    axes.plot(lrs, losses, color="C0", alpha=0.3, linewidth=1.0, label="loss")
    axes.plot(lrs, smoothed, color="C0", linewidth=1.8, label="smoothed loss")
    if suggestion is not None:
        index = min(range(len(lrs)), key=lambda i: abs(lrs[i] - suggestion))
        axes.axvline(suggestion, color="C3", linestyle="--", linewidth=1.0)
        axes.plot(
            [suggestion], [smoothed[index]], "o", color="C3", markersize=7,
            label=f"suggestion: {suggestion:.2g}",
        )
    axes.set_xscale("log")
    if smoothed:
        axes.set_ylim(*_loss_limits(losses, smoothed))
    axes.set_xlabel("learning rate (log scale)")
    axes.set_ylabel("training loss")
    axes.set_title(_title(suggestion), fontsize="medium")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    figure: Figure = axes.figure
    return figure
