"""kerasx.viz.plot_history: every input kind, real renders, and the documented errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kerasx.errors import ConfigurationError, CorruptFileError, DataError, MissingFileError
from kerasx.viz import plot_history

HISTORY = {
    "loss": [1.0, 0.6, 0.4],
    "accuracy": [0.5, 0.7, 0.8],
    "val_loss": [1.1, 0.8, 0.7],
    "val_accuracy": [0.4, 0.6, 0.7],
    "learning_rate": [1e-3, 1e-3, 5e-4],
}


def _panels(figure) -> list[str]:
    return [axes.get_title() for axes in figure.axes]


def _lines(axes) -> dict[str, object]:
    return {line.get_label(): line for line in axes.get_lines()}


def _render(figure, path) -> np.ndarray:
    figure.savefig(path, dpi=60)
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.std() > 0.02, "the rendered plot is blank"
    return pixels


def test_dict_of_lists_panels_loss_first_lr_last_and_styles(tmp_path):
    history = {"accuracy": HISTORY["accuracy"], **HISTORY}  # accuracy listed before loss
    figure = plot_history(history, title="run")
    assert _panels(figure) == ["loss", "accuracy", "learning_rate"]
    lines = _lines(figure.axes[0])
    assert lines["train"].get_linestyle() == "-"
    assert lines["validation"].get_linestyle() == "--"
    assert list(lines["train"].get_xdata()) == [1, 2, 3]  # epochs from 1
    assert lines["train"].get_color() == lines["validation"].get_color()
    assert figure._suptitle.get_text() == "run"
    _render(figure, tmp_path / "history.png")


def test_keras_history_from_a_real_fit(tiny_model, tmp_path):
    model, (x, y) = tiny_model
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    figure = plot_history(history)
    assert _panels(figure) == ["loss", "accuracy"]
    train = _lines(figure.axes[0])["train"]
    np.testing.assert_allclose(train.get_ydata(), history.history["loss"])
    _render(figure, tmp_path / "fit.png")


def test_resumed_keras_history_keeps_its_epoch_numbers(tiny_model):
    model, (x, y) = tiny_model
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    line = _lines(plot_history(history).axes[0])["train"]
    assert list(line.get_xdata()) == [4, 5]


def test_json_and_csv_logs_and_run_directory(tmp_path):
    json_log = tmp_path / "a" / "history.json"
    json_log.parent.mkdir()
    json_log.write_text(json.dumps({**HISTORY, "epoch": [5, 6, 7]}))
    csv_log = tmp_path / "b" / "history.csv"
    csv_log.parent.mkdir()
    csv_log.write_text("epoch,loss,val_loss\n0,1.0,1.2\n1,0.5,NA\n2,0.25,0.9\n")

    from_json = _lines(plot_history(json_log).axes[0])["train"]
    assert list(from_json.get_xdata()) == [6, 7, 8]  # logged 0-based epochs, shown from 1
    from_dir = _lines(plot_history(csv_log.parent).axes[0])
    assert list(from_dir["train"].get_ydata()) == [1.0, 0.5, 0.25]
    assert math.isnan(from_dir["validation"].get_ydata()[1])  # NA -> NaN gap, not an error
    from_str = plot_history(str(csv_log))
    assert _panels(from_str) == ["loss"]


def test_compare_runs_colour_per_run(tmp_path):
    other = {k: [v * 1.1 for v in values] for k, values in HISTORY.items()}
    figure = plot_history({"small": HISTORY, "large": other}, metrics=["loss"])
    lines = _lines(figure.axes[0])
    assert set(lines) == {"small train", "small validation", "large train", "large validation"}
    assert lines["small train"].get_color() != lines["large train"].get_color()
    assert lines["large validation"].get_linestyle() == "--"
    _render(figure, tmp_path / "compare.png")


def test_no_validation_nan_and_single_epoch(tmp_path):
    figure = plot_history({"loss": [0.7]})
    (line,) = figure.axes[0].get_lines()
    assert line.get_marker() == "o"  # a single point must stay visible
    figure = plot_history({"loss": [1.0, float("nan"), 0.5]}, smooth=0.5, log_scale=True)
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    smoothed = _lines(axes)["train"].get_ydata()
    assert math.isnan(smoothed[1]) and not math.isnan(smoothed[2])
    _render(figure, tmp_path / "nan.png")


def test_weight_monitor_keys_only_when_asked():
    history = {**HISTORY, "weights/dense/std": [0.1, 0.2, 0.3]}
    assert "weights/dense/std" not in _panels(plot_history(history))
    assert _panels(plot_history(history, metrics=["weights/dense/std"])) == ["weights/dense/std"]


def test_draws_into_callers_axes_without_pyplot():
    import sys

    from matplotlib.figure import Figure

    figure = Figure()
    single = figure.add_subplot(1, 2, 1)
    assert plot_history(HISTORY, metrics=["loss", "accuracy"], ax=single) is figure
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(_lines(single))
    pair = [figure.add_subplot(2, 2, 2), figure.add_subplot(2, 2, 4)]
    plot_history(HISTORY, metrics=["loss", "accuracy"], ax=pair)
    assert [a.get_title() for a in pair] == ["loss", "accuracy"]
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []  # no global figure was opened


def test_errors_explain_themselves(tmp_path):
    with pytest.raises(ConfigurationError, match=r"Available: \['loss'"):
        plot_history(HISTORY, metrics=["los"])
    with pytest.raises(ConfigurationError, match=r"smooth=1.5"):
        plot_history(HISTORY, smooth=1.5)
    with pytest.raises(ConfigurationError, match="one Axes per metric"):
        from matplotlib.figure import Figure

        plot_history(HISTORY, ax=list(Figure().subplots(1, 2)))
    with pytest.raises(ConfigurationError, match="Received: history of type int"):
        plot_history(3)
    with pytest.raises(DataError, match="history is empty"):
        plot_history({})
    with pytest.raises(MissingFileError, match=r"history\.json or history\.csv"):
        plot_history(tmp_path)
    with pytest.raises(MissingFileError):
        plot_history(tmp_path / "nope.json")
    bad = tmp_path / "history.json"
    bad.write_text("{not json")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        plot_history(bad)
    text_log = tmp_path / "history.txt"
    text_log.write_text("loss\n1.0\n")
    with pytest.raises(ConfigurationError, match=r"\.json or \.csv"):
        plot_history(text_log)


def test_migration_row_hand_made_history_plot_without_validation(tiny_model, tmp_path):
    """Migration guide row (docs/guides/migration.md):
    the article's `plt.plot(history.history['val_loss'])`."""
    model, (x, y) = tiny_model
    history = model.fit(x, y, epochs=1, verbose=0)  # no validation data: the article's plot fails
    with pytest.raises(KeyError):
        history.history["val_loss"]
    figure = plot_history(history)
    assert set(_lines(figure.axes[0])) == {"train"}
    _render(figure, tmp_path / "no_val.png")
