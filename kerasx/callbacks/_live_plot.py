"""`LivePlot`: loss and metric curves redrawn after every epoch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

from kerasx._atomic import atomic_path
from kerasx._notebook import in_notebook
from kerasx.callbacks._run_state import RunContext
from kerasx.errors import ConfigurationError

__all__ = ["LivePlot"]


class LivePlot(keras.callbacks.Callback):
    """Redraw the loss and metric curves after each epoch.

    In Jupyter the figure is shown once and updated in place (`IPython.display`). In a script,
    in CI or anywhere without a notebook, the same figure is written to a PNG after each epoch
    (atomically), by default `live_plot.png` in the run directory of `kerasx.fit`.

    Args:
        path: the PNG to write when not in a notebook. `None` means `run_dir / "live_plot.png"`
            under `kerasx.fit`. Defaults to `None`.
        metrics: the logged names to plot (e.g. `["loss"]`); `None` plots all of them, each
            with its `val_` twin. Defaults to `None`.
        every: redraw every `every` epochs (and after the last one). Defaults to `1`.

    Raises:
        ConfigurationError: if `path` does not end in `.png`, or, when training starts outside a
            notebook, if there is neither a `path` nor a `kerasx.fit` run directory.

    Example:

    ```python
    model.fit(x, y, epochs=10, callbacks=[kerasx.callbacks.LivePlot("curves.png")])
    live = kerasx.callbacks.LivePlot()  # writes run/live_plot.png outside a notebook
    kerasx.fit(model, x, y, epochs=10, run_dir="run", callbacks=["default", live])
    ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        metrics: list[str] | None = None,
        every: int = 1,
    ) -> None:
        super().__init__()
        if path is not None and Path(path).suffix.lower() != ".png":
            raise ConfigurationError(
                f'LivePlot `path` must end in ".png". Received: path={str(path)!r}.'
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigurationError(
                f"LivePlot `every` must be an integer of at least 1. Received: every={every!r}."
            )
        self.path = Path(path) if path is not None else None
        self.metrics = list(metrics) if metrics is not None else None
        self.every = every
        self.history: dict[str, list[float]] = {}
        self.run: RunContext | None = None
        self._interactive = False
        self._handle: Any = None
        self._target: Path | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._interactive = in_notebook()
        self.history = {}
        if self.run is not None and self.run.history is not None:
            self.history = {k: list(v) for k, v in self.run.history.to_dict().items()}
        self._target = self.path
        if self._target is None and self.run is not None and self.run.run_dir is not None:
            self._target = self.run.run_dir / "live_plot.png"
        if not self._interactive and self._target is None:
            raise ConfigurationError(
                "LivePlot outside a notebook needs a PNG path to write. Received: path=None "
                "and no run directory. Pass `LivePlot('curves.png')` or use "
                "`kerasx.fit(..., run_dir=...)`."
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None and self.run.epoch_partial:
            return
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        last = epoch + 1 >= self.params.get("epochs", 0)
        if (epoch + 1) % self.every == 0 or last:
            self.draw()

    def figure(self) -> Any:
        """A new matplotlib `Figure` of the curves so far (`kerasx.viz.plot_history`).

        Returns:
            The `Figure`.
        """
        from kerasx.viz import plot_history

        return plot_history(self.history, metrics=self.metrics)

    def draw(self) -> None:
        """Redraw now: update the notebook output or rewrite the PNG."""
        figure = self.figure()
        if self._interactive:
            from IPython.display import display

            if self._handle is None:
                self._handle = display(figure, display_id=True)
            else:
                self._handle.update(figure)
        else:
            assert self._target is not None
            with atomic_path(self._target) as temporary:
                figure.savefig(temporary, format="png", dpi=100)
        _close(figure)


def _close(figure: Any) -> None:
    """Release a figure; pyplot figures must be closed through pyplot to free them."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)
