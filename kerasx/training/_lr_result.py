"""`LRFinderResult`: what `lr_find` measured, the smoothing of its losses and the suggestion.

The rule, in one place:

- **Smoothing.** An exponential moving average of the raw losses with weight
  `b = smoothing_for(steps) = 1 - 10 / steps` (0.9 for 100 steps: it averages over about the
  last tenth of the run, whatever its length), bias-corrected as in Adam:
  `a_i = b * a_(i-1) + (1 - b) * loss_i`, `smoothed_i = a_i / (1 - b ** (i + 1))`, so the first
  values are not pulled towards 0.
- **Suggestion.** The slope of the smoothed loss with respect to `log10(lr)` (central
  differences, `numpy.gradient`), and the learning rate where it is most negative, among the
  steps after the first tenth of the run (`warm_up_for(steps)`: until then the average spans
  fewer steps than its window, and the noise of single batches looks like descent) and
  before the smoothed loss reaches its minimum: where the loss falls fastest, safely below
  the rates at which it stops falling. None when the smoothed loss does not fall there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.figure import Figure

__all__ = [
    "LRFinderResult",
    "Smoother",
    "smooth_losses",
    "smoothing_for",
    "steepest_descent",
    "warm_up_for",
]

_SMOOTHING_SPAN = 10
"""The moving average spans about 1/10 of the run's steps."""


def smoothing_for(steps: int) -> float:
    """The weight of the moving average for a run of `steps` steps: `1 - 10 / steps`."""
    return max(0.0, 1.0 - _SMOOTHING_SPAN / steps)


def warm_up_for(steps: int) -> int:
    """The first steps of a run of `steps` that the suggestion skips: a tenth, at least 1."""
    return max(1, steps // _SMOOTHING_SPAN)


class Smoother:
    """The bias-corrected exponential moving average of a stream of losses, one at a time."""

    def __init__(self, smoothing: float) -> None:
        self.smoothing = smoothing
        self.average = 0.0
        self.weight = 0.0

    def add(self, loss: float) -> float:
        """Add the next loss; return the smoothed loss so far."""
        self.average = self.smoothing * self.average + (1.0 - self.smoothing) * loss
        self.weight = self.smoothing * self.weight + (1.0 - self.smoothing)
        return self.average / self.weight


def smooth_losses(losses: Any, smoothing: float) -> np.ndarray:
    """The smoothed losses (see the module's docstring), as a float64 array."""
    smoother = Smoother(smoothing)
    return np.array([smoother.add(float(loss)) for loss in losses], dtype=np.float64)


def steepest_descent(lrs: Any, smoothed: Any, *, skip: int = 0) -> float | None:
    """The learning rate where the smoothed loss falls fastest, before its minimum, or None.

    Args:
        lrs: the learning rates, increasing.
        smoothed: the smoothed loss at each learning rate.
        skip: how many first steps to leave out (`warm_up_for(steps)`). Defaults to `0`.

    Returns:
        The learning rate, or None when the smoothed loss does not fall between step `skip`
        and its minimum, or fewer than 3 steps were run.
    """
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    if len(lrs) < 3 or skip >= len(lrs) - 1:
        return None
    lowest = skip + int(np.argmin(smoothed[skip:]))
    slopes = np.gradient(smoothed, np.log10(lrs))[skip:lowest]
    if not len(slopes):
        return None
    steepest = int(np.argmin(slopes))
    return float(lrs[skip + steepest]) if slopes[steepest] < 0 else None


@dataclass(eq=False)
class LRFinderResult:
    """What `kerasx.lr_find` measured: the loss of each step at its learning rate.

    Attributes:
        lrs: the learning rate of each step that ran, increasing exponentially (float64).
        losses: the raw training loss of each step: the loss of its batch, before the update
            made with its learning rate (float64).
        smoothed_losses: the losses smoothed by a bias-corrected exponential moving average
            over about the last tenth of the steps (weight `1 - 10 / steps`: 0.9 for 100).
        suggestion: the learning rate at the steepest descent of the smoothed loss with
            respect to `log10(lr)`, after the first tenth of the steps and before the minimum
            of the smoothed loss; None when the loss did not fall there (lower `min_lr`, or
            check the model and the data).
        stop_reason: why the run ended before its last step (`"diverged"`: the smoothed loss
            exceeded `stop_factor` times its best; `"not finite"`: a loss was NaN or
            infinite), or None when it ran every step.

    Example:

    `kerasx.lr_find` returns one; saved numbers make one too, to plot them again:

    >>> import numpy as np
    >>> import kerasx
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0)  # falls fastest at lr = 1e-2
    >>> result = kerasx.LRFinderResult(lrs, losses, losses, suggestion=1e-2)
    >>> result.plot().axes[0].get_xscale()
    'log'
    >>> result
    LRFinderResult(suggestion=0.01, steps=41, lr 0.0001 to 1, lowest smoothed loss 1.036,
                   stop_reason=None)
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float | None
    stop_reason: str | None = None

    def plot(self, ax: Any = None) -> Figure:
        """Plot the loss against the learning rate (log scale), with the suggestion marked.

        The raw loss is drawn faintly under the smoothed one; the title says which learning
        rate to train with. The figure is a `matplotlib.figure.Figure` built without pyplot:
        leave it as a notebook cell's value to see it, or `fig.savefig("lr_find.png")`.

        Args:
            ax: a matplotlib `Axes` to draw into. Defaults to `None`, a new figure.

        Returns:
            The `Figure` drawn into (`ax`'s figure when `ax` is given).
        """
        from kerasx.viz._lr_plot import plot_lr_find

        return plot_lr_find(
            self.lrs, self.losses, self.smoothed_losses, self.suggestion, ax=ax
        )

    def __repr__(self) -> str:
        suggestion = "None" if self.suggestion is None else f"{self.suggestion:.3g}"
        lowest = (
            f"{float(np.min(self.smoothed_losses)):.4g}" if len(self.smoothed_losses) else "-"
        )
        span = (
            f"{self.lrs[0]:.3g} to {self.lrs[-1]:.3g}" if len(self.lrs) else "no steps"
        )
        return (
            f"LRFinderResult(suggestion={suggestion}, steps={len(self.lrs)}, lr {span}, "
            f"lowest smoothed loss {lowest}, stop_reason={self.stop_reason!r})"
        )

