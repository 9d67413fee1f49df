"""`plot_history`: loss and metric curves from a History, a log file, or several runs.

Input kinds, all turned into `{run_name: (epochs, {key: values})}` first:

- a `keras.callbacks.History` (or `kerasx.History`, a subclass): `.history` and `.epoch`;
- a dict of lists: `{"loss": [...], "val_loss": [...]}`, optionally with `"epoch": [...]`;
- a path to a `.json` or `.csv` log (as `kerasx.callbacks.HistoryLogger`, `keras.callbacks.
  CSVLogger` or `kerasx.io.save_history` write it), or a run directory holding `history.json`
  or `history.csv`;
- a dict `{run_name: any of the above}` to compare runs.

Logged `"epoch"` values are 0-based, as Keras writes them; the x axis shows them plus one, so a
fresh run starts at epoch 1 and a resumed run continues where it stopped.

Keys with a `/` in them (such as `weights/<layer>/std` from `WeightMonitor`) are not plotted by
default: they are diagnostics, not metrics. Ask for them by name with `metrics=`; each gets its
own panel.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kerasx.errors import ConfigurationError, DataError, MissingFileError
from kerasx.io import load_history

__all__ = ["load_history_file", "normalize_histories", "plot_history", "select_panels"]

LOG_NAMES = ("history.json", "history.csv")
"""Names of the history log looked for inside a run directory, in this order."""
LEARNING_RATE_KEYS = ("lr", "learning_rate")
VALIDATION_PREFIX = "val_"

Run = tuple[list[float], dict[str, list[float]]]


def _floats(values: Any, key: str) -> list[float]:
    result = []
    for value in values:
        if value is None or (isinstance(value, str) and value.strip() in ("", "NA")):
            result.append(math.nan)
            continue
        try:
            result.append(float(value))
        except (TypeError, ValueError) as error:
            raise DataError(
                f"History values must be numbers. Received: {key}=[..., {value!r}, ...]. "
                "Drop non-numeric keys from the history before plotting."
            ) from error
    return result


def _is_series(value: Any) -> bool:
    if isinstance(value, str | bytes | Mapping):
        return False
    return isinstance(value, Sequence) or hasattr(value, "__array__")


def _run_from_dict(history: Mapping[str, Any], source: str) -> Run:
    metrics: dict[str, list[float]] = {}
    for key, values in history.items():
        if key == "epoch" or not _is_series(values):
            continue
        try:
            metrics[str(key)] = _floats(list(values), str(key))
        except DataError:
            continue  # a non-numeric column (e.g. a timestamp): not a curve
    if not metrics:
        raise DataError(
            "A history needs at least one list of numbers, such as 'loss'. "
            f"Received: {source} with keys {sorted(map(str, history))}."
        )
    length = max(len(v) for v in metrics.values())
    if "epoch" in history and _is_series(history["epoch"]):
        epochs = [value + 1 for value in _floats(list(history["epoch"]), "epoch")]
        if len(epochs) < length:
            raise DataError(
                "The history's 'epoch' list is shorter than its metrics. "
                f"Received: {len(epochs)} epochs, {length} values in {source}."
            )
    else:
        epochs = [float(i + 1) for i in range(length)]
    return epochs, metrics


def load_history_file(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """Read a history log (`.json` or `.csv`), or the log inside a run directory.

    The file is parsed by `kerasx.io.load_history`; this adds the run directory and the
    messages `plot_history` documents.

    Args:
        path: a `.json` or `.csv` file, or a directory holding `history.json` or `history.csv`.

    Returns:
        `{key: list of values}`, including `"epoch"` when the log has it.

    Raises:
        MissingFileError: the path, or any history log inside the directory, does not exist.
        CorruptFileError: the file cannot be parsed.
        ConfigurationError: the suffix is neither `.json` nor `.csv`.
    """
    path = Path(os.fspath(path))
    if path.is_dir():
        found = [path / name for name in LOG_NAMES if (path / name).is_file()]
        if not found:
            raise MissingFileError(
                "A run directory must hold a history log named "
                f"{' or '.join(LOG_NAMES)}. Received: path={str(path)!r} without either. "
                "Pass the log file itself, or train with kerasx.fit(..., run_dir=...)."
            )
        path = found[0]
    if not path.exists():
        raise MissingFileError(
            f"History log not found. Received: path={str(path)!r}. Check the path, or pass the "
            "History object that model.fit returned."
        )
    if path.suffix.lower() not in (".json", ".csv"):
        raise ConfigurationError(
            "A history log must be a .json or .csv file. "
            f"Received: path={str(path)!r}. Save it with kerasx.callbacks.HistoryLogger."
        )
    return load_history(path)


def _single_run(history: Any, source: str) -> Run:
    if isinstance(history, str | os.PathLike):
        return _run_from_dict(load_history_file(history), f"path={os.fspath(history)!r}")
    if isinstance(history, Mapping):
        return _run_from_dict(history, source)
    data = getattr(history, "history", None)
    if isinstance(data, Mapping):
        epochs_attr = getattr(history, "epoch", None)
        merged = dict(data)
        if (
            epochs_attr
            and "epoch" not in merged
            and len(epochs_attr)
            == max((len(v) for v in data.values() if _is_series(v)), default=-1)
        ):
            merged["epoch"] = list(epochs_attr)
        return _run_from_dict(merged, source)
    raise ConfigurationError(
        "history must be a keras History, a dict of lists, a path to a .json/.csv log or a run "
        "directory, or a dict {run_name: history}. "
        f"Received: {source} of type {type(history).__name__}."
    )


def normalize_histories(history: Any) -> dict[str, Run]:
    """Turn any accepted `history` into `{run_name: (epochs, {key: values})}`.

    A dict whose values are all lists is one run (named `""`); a dict whose values are Histories,
    dicts or paths is a comparison of runs.
    """
    if isinstance(history, Mapping) and history:
        values = list(history.values())
        if all(not _is_series(v) and not isinstance(v, int | float) for v in values):
            return {
                str(name): _single_run(run, f"history[{name!r}]") for name, run in history.items()
            }
    if isinstance(history, Mapping) and not history:
        raise DataError("history is empty. Received: history={}. Pass the History fit returned.")
    return {"": _single_run(history, "history")}


def _base_name(key: str) -> str:
    return key[len(VALIDATION_PREFIX) :] if key.startswith(VALIDATION_PREFIX) else key


def select_panels(runs: Mapping[str, Run], metrics: Sequence[str] | None) -> list[str]:
    """The metric of each panel, in order: loss first, learning rate last.

    Args:
        runs: the normalized runs.
        metrics: metric names to show (`"loss"` shows `loss` and `val_loss`), or `None` for all
            metrics except keys containing `/`.

    Returns:
        Base metric names, one per panel.

    Raises:
        ConfigurationError: a requested metric is in none of the runs.
    """
    available: list[str] = []
    for _, values in runs.values():
        for key in values:
            base = _base_name(key)
            if base not in available:
                available.append(base)
    if metrics is not None:
        if isinstance(metrics, str):
            metrics = [metrics]
        missing = [m for m in metrics if _base_name(m) not in available]
        if missing:
            raise ConfigurationError(
                f"metrics must name logged values. Received: metrics={list(metrics)!r}; "
                f"{missing!r} not in the history. Available: {available!r}."
            )
        chosen = []
        for m in metrics:
            if _base_name(m) not in chosen:
                chosen.append(_base_name(m))
        return chosen
    default = [m for m in available if "/" not in m]
    ordered = [m for m in default if m == "loss"]
    ordered += [m for m in default if m != "loss" and m not in LEARNING_RATE_KEYS]
    ordered += [m for m in default if m in LEARNING_RATE_KEYS]
    return ordered


def _smoothed(values: list[float], factor: float) -> list[float]:
    """Exponential moving average with bias correction; NaN values are skipped, not spread."""
    result = []
    average, weight = 0.0, 0.0
    for value in values:
        if math.isnan(value):
            result.append(math.nan)
            continue
        average = factor * average + (1 - factor) * value
        weight = factor * weight + (1 - factor)
        result.append(average / weight)
    return result


def _check_arguments(smooth: float | None) -> None:
    if smooth is not None and not (isinstance(smooth, int | float) and 0 <= smooth < 1):
        raise ConfigurationError(
            "smooth is the weight of the exponential moving average and must be in [0, 1). "
            f"Received: smooth={smooth!r}. Try smooth=0.6, or None for raw curves."
        )


def plot_history(
    history: Any,
    *,
    metrics: Sequence[str] | None = None,
    ax: Any = None,
    smooth: float | None = None,
    log_scale: bool = False,
    title: str | None = None,
) -> Any:
    """Plot training curves: one panel per metric, training solid, validation dashed.

    Replaces the hand-made Keras 2 style `plt.plot(history.history['loss'])` plot, and keeps
    working without validation data, with NaN values, with a single epoch and for resumed runs.
    Builds a `matplotlib.figure.Figure` directly: it never touches pyplot's global state and
    never calls `plt.show()`, so it works headless (Agg) and in notebooks (a Figure displays
    itself).

    Args:
        history: a `keras.callbacks.History`, a `kerasx.History`, a dict of lists, a path to a
            `.json`/`.csv` history log or a run directory, or `{run_name: history}` to compare
            runs (one colour per run).
        metrics: metric names to plot (`"loss"` covers `loss` and `val_loss`). Keys containing
            `/` (per-layer weight statistics) are only plotted when named here. `None` plots
            every metric, the loss first and the learning rate last. Defaults to `None`.
        ax: a matplotlib `Axes` to draw every selected curve into (the legend names them), or a
            sequence of `Axes`, one per metric. `None` creates a new figure. Defaults to `None`.
        smooth: exponential moving average weight in `[0, 1)`; the raw curve is drawn faintly
            under the smoothed one. `None` draws the raw curves. Defaults to `None`.
        log_scale: logarithmic y axis. Defaults to `False`.
        title: figure title. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure` drawn into (the caller's, when `ax` is given).

    Raises:
        ConfigurationError: unknown metric, bad `smooth`, wrong number of axes, or an
            unsupported `history` type.
        DataError: the history holds no numeric series.
        MissingFileError: a log path or run directory without a log.
        CorruptFileError: a log file that cannot be parsed.

    Example:

    >>> import kerasx
    >>> fig = kerasx.viz.plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    >>> [a.get_title() for a in fig.axes]
    ['loss']
    """
    _check_arguments(smooth)
    runs = normalize_histories(history)
    panels = select_panels(runs, metrics)
    figure, panel_axes = _axes_for(panels, ax)
    compare = len(runs) > 1 or next(iter(runs)) != ""
    shared = len(panel_axes) == 1 and len(panels) > 1
    for run_index, (run_name, (epochs, values)) in enumerate(runs.items()):
        colour = f"C{run_index % 10}"
        for panel_index, metric in enumerate(panels):
            axes = panel_axes[panel_index if len(panel_axes) > 1 else 0]
            for validation in (False, True):
                key = VALIDATION_PREFIX + metric if validation else metric
                if key not in values:
                    continue
                label = _label(run_name, metric, validation, compare, shared)
                _draw_curve(axes, epochs, values[key], colour, validation, label, smooth)
    for index, axes in enumerate(panel_axes):
        name = panels[index] if len(panel_axes) > 1 or len(panels) == 1 else ", ".join(panels)
        _style_axes(axes, name, log_scale)
    if title is not None:
        figure.suptitle(title)
    return figure


def _label(run: str, metric: str, validation: bool, compare: bool, shared_axes: bool) -> str:
    kind = "validation" if validation else "train"
    parts = [run] if compare else []
    if shared_axes:
        parts.append(VALIDATION_PREFIX + metric if validation else metric)
    else:
        parts.append(kind)
    return " ".join(parts)


def _axes_for(panels: list[str], ax: Any) -> tuple[Any, list[Any]]:
    if ax is None:
        from matplotlib.figure import Figure

        columns = min(len(panels), 3)
        rows = math.ceil(len(panels) / columns)
        width, height = 4.2 * columns, 3.0 * rows
        figure = Figure(figsize=(width, height))
        grid = figure.subplots(rows, columns, squeeze=False)
        # Fixed margins in inches: constrained layout costs more than all the drawing.
        figure.subplots_adjust(
            left=0.7 / width,
            right=1 - 0.2 / width,
            bottom=0.55 / height,
            top=1 - 0.65 / height,
            wspace=0.35,
            hspace=0.75,
        )
        flat = [a for row in grid for a in row]
        for unused in flat[len(panels) :]:
            figure.delaxes(unused)
        return figure, flat[: len(panels)]
    if isinstance(ax, Sequence) or hasattr(ax, "flat"):
        axes_list = list(getattr(ax, "flat", ax))
        if len(axes_list) != len(panels):
            raise ConfigurationError(
                "With a sequence of axes, plot_history needs one Axes per metric. "
                f"Received: {len(axes_list)} axes for metrics {panels!r}. Pass as many axes, "
                "choose metrics=, or pass a single Axes to draw every curve into it."
            )
        return axes_list[0].figure, axes_list
    return ax.figure, [ax]


def _draw_curve(
    axes: Any,
    epochs: list[float],
    values: list[float],
    colour: str,
    validation: bool,
    label: str,
    smooth: float | None,
) -> None:
    x = epochs[: len(values)]
    style = "--" if validation else "-"
    marker = "o" if sum(not math.isnan(v) for v in values) <= 1 else None
    if smooth:
        axes.plot(x, values, linestyle=style, color=colour, alpha=0.25, linewidth=1.0)
        values = _smoothed(values, float(smooth))
    axes.plot(x, values, linestyle=style, color=colour, label=label, marker=marker, linewidth=1.5)


def _style_axes(axes: Any, name: str, log_scale: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.set_title(name)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log_scale:
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    if len(axes.get_legend_handles_labels()[0]) > 1:
        axes.legend(fontsize="small")
