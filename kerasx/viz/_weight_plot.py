"""`plot_weights`: histograms of a model's weights, one panel per variable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kerasx.errors import ConfigurationError
from kerasx.viz._weight_stats import moments_of, select_layers, variable_label
from kerasx.viz._weight_table import format_number

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import numpy as np
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_MAX_PANELS", "plot_weights"]

DEFAULT_MAX_PANELS = 24
"""How many histograms `plot_weights` draws at most, unless told otherwise."""

_MAX_COLUMNS = 4

Panel = tuple[str, Any, Any]
"""(layer name, layer, variable)"""


def plot_weights(
    model: Any,
    *,
    layers: Any = None,
    bins: int = 50,
    log: bool = False,
    ax: Any = None,
    max_panels: int = DEFAULT_MAX_PANELS,
) -> Figure:
    """Histograms of a model's weights: one panel per variable, kernel and bias side by side.

    Each layer gets one row of panels (a layer with more than 4 variables wraps onto more
    rows); each panel is titled `layer / variable` and annotated with the mean and std of the
    finite values. NaN and Inf counts are written in red and the title turns red. At most
    `max_panels` variables are drawn, in model order; when some are left out, a note at the
    top of the figure says how many and how to see them (`layers=[...]` or `max_panels=`).

    The figure is a `matplotlib.figure.Figure` built directly: no pyplot state is touched and
    nothing is shown; display it in Jupyter by leaving it as the cell's value, or save it with
    `fig.savefig("weights.png")`.

    Args:
        model: a Keras model or layer.
        layers: only these layers; a name, a class or a list of them (as in `weight_stats`).
            Defaults to `None`, every layer.
        bins: number of histogram bins. Defaults to `50`.
        log: use a logarithmic count axis. Defaults to `False`.
        ax: draw into existing axes instead of a new figure: a single `Axes` when exactly one
            variable is selected, or a sequence/array of `Axes` with at least one per panel
            (extra axes are hidden). Defaults to `None`, a new figure.
        max_panels: most panels drawn. Defaults to `24`.

    Returns:
        The `Figure` holding the panels (`ax`'s figure when `ax` is given).

    Raises:
        ConfigurationError: `bins` or `max_panels` is not a positive integer, `layers` matches
            nothing, the model has no weights (build it first), or `ax` has too few axes.

    Example:

    >>> import keras
    >>> from kerasx.viz import plot_weights
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> [axes.get_title() for axes in plot_weights(model, bins=5).axes]
    ['d / kernel', 'd / bias']
    """
    import keras

    _check_arguments(bins, max_panels)
    selected = select_layers(model, layers) if isinstance(model, keras.layers.Layer) else None
    if selected is None:
        raise ConfigurationError(
            "plot_weights expects a Keras model or layer. "
            f"Received: model of type {type(model).__name__}."
        )
    panels = [(name, layer, variable) for name, layer in selected for variable in layer.weights]
    if not panels:
        raise ConfigurationError(
            f"Model {model.name!r} has no weights to plot (selected layers: "
            f"{[n for n, _ in selected]!r}). Build the model first (call it on data or give "
            "it an `Input`), or choose other `layers`."
        )
    shown = panels[:max_panels]
    note = _left_out_note(shown, len(panels))
    if ax is None:
        figure, targets = _new_figure(shown, note)
    else:
        figure, targets = _given_axes(ax, len(shown))
    for (name, layer, variable), axes in zip(shown, targets):
        values = keras.ops.convert_to_numpy(variable)
        _draw_panel(axes, name, variable_label(layer, variable), values, bins=bins, log=log)
    if note:
        figure.suptitle(note, fontsize=9, color="darkred")
    if ax is None:
        figure.tight_layout(rect=(0, 0, 1, 0.97) if note else None)
    return figure


def _check_arguments(bins: Any, max_panels: Any) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigurationError(f"`bins` must be a positive integer. Received: bins={bins!r}.")
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise ConfigurationError(
            f"`max_panels` must be a positive integer. Received: max_panels={max_panels!r}."
        )


def _left_out_note(shown: list[Panel], total: int) -> str | None:
    """The figure's note when some variables are not drawn, else None."""
    if total == len(shown):
        return None
    last_layer = shown[-1][0]
    return (
        f"Showing {len(shown)} of {total} weight variables (up to layer {last_layer!r}). "
        "Pass layers=[...] to choose layers, or max_panels= to draw more."
    )


def _grid(shown: list[Panel]) -> tuple[int, int, list[tuple[int, int]]]:
    """Rows, columns and each panel's `(row, column)`: a row per layer, 4 panels at most."""
    counts: dict[str, int] = {}
    for name, _, _ in shown:
        counts[name] = counts.get(name, 0) + 1
    columns = min(_MAX_COLUMNS, max(counts.values()))
    positions: list[tuple[int, int]] = []
    row = 0
    for count in counts.values():
        for index in range(count):
            positions.append((row + index // columns, index % columns))
        row += -(-count // columns)
    return row, columns, positions


def _new_figure(shown: list[Panel], note: str | None) -> tuple[Figure, list[Any]]:
    from matplotlib.figure import Figure

    rows, columns, positions = _grid(shown)
    figure = Figure(figsize=(3.2 * columns, 2.3 * rows + (0.5 if note else 0.2)))
    grid = figure.subplots(rows, columns, squeeze=False)
    targets = [grid[r][c] for r, c in positions]
    used = {id(axes) for axes in targets}
    for line in grid:
        for axes in line:
            if id(axes) not in used:
                axes.set_visible(False)
    return figure, targets


def _given_axes(ax: Any, needed: int) -> tuple[Figure, list[Any]]:
    given = _axes_list(ax)
    if len(given) < needed:
        raise ConfigurationError(
            f"`ax` has {len(given)} axes but {needed} weight variables are selected. "
            f"Received: ax with {len(given)} axes. Pass one Axes per variable, choose fewer "
            "with `layers=`, or leave `ax=None` for a new figure."
        )
    for axes in given[needed:]:
        axes.set_visible(False)
    targets = given[:needed]
    return targets[0].figure, targets


def _axes_list(ax: Any) -> list[Any]:
    import numpy as np

    if hasattr(ax, "hist") and hasattr(ax, "figure"):
        return [ax]
    try:
        return [a for a in np.asarray(ax, dtype=object).reshape(-1)]
    except Exception as error:  # pragma: no cover - exotic containers
        raise ConfigurationError(
            f"`ax` must be a matplotlib Axes or an array of them. Received: ax={ax!r}."
        ) from error


def _draw_panel(
    axes: Any, layer: str, variable: str, values: np.ndarray, *, bins: int, log: bool
) -> None:
    import numpy as np

    summary = moments_of(values).summary()
    flat = values.reshape(-1)
    if flat.dtype.kind not in "fiub":
        flat = flat.astype(np.float64)
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    if finite.size:
        axes.hist(finite.astype(np.float64, copy=False), bins=bins, log=log, color="#4C72B0")
    else:
        axes.text(0.5, 0.5, "no finite values", ha="center", va="center",
                  transform=axes.transAxes)  # fmt: skip
    bad = summary["nan_count"] or summary["inf_count"]
    axes.set_title(f"{layer} / {variable}", fontsize=8, color="red" if bad else "black")
    note = f"mean {format_number(summary['mean'])}\nstd {format_number(summary['std'])}"
    axes.text(0.98, 0.95, note, ha="right", va="top", fontsize=7, transform=axes.transAxes,
              bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})  # fmt: skip
    if bad:
        axes.text(0.02, 0.95, f"NaN {summary['nan_count']}\nInf {summary['inf_count']}",
                  ha="left", va="top", fontsize=8, color="red", fontweight="bold",
                  transform=axes.transAxes)  # fmt: skip
    axes.tick_params(labelsize=6)
