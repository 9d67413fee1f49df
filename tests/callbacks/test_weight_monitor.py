"""kerasx.callbacks.WeightMonitor."""

from __future__ import annotations

import json
import re
import warnings

import keras
import numpy as np
import pytest

from kerasx.callbacks import WeightMonitor
from kerasx.errors import ConfigurationError, CorruptFileError
from kerasx.viz import weight_stats


def _fit_collecting_warnings(model, *args, **kwargs):
    """`model.fit`, returning its History and kerasx's warnings (Keras's own are dropped)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(*args, **kwargs)
    ours = [str(w.message) for w in caught if "WeightMonitor" in str(w.message)]
    assert all(w.category is RuntimeWarning for w in caught if "WeightMonitor" in str(w.message))
    return history, ours


def _plant_nan(model, layer="hidden"):
    kernel, bias = model.get_layer(layer).get_weights()
    kernel[1, 2] = np.nan
    model.get_layer(layer).set_weights([kernel, bias])


def test_logs_per_layer_statistics_into_history(tiny_model):
    model, (x, y) = tiny_model
    monitor = WeightMonitor()

    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[monitor])

    keys = sorted(k for k in history.history if k.startswith("weights/"))
    assert keys == [
        f"weights/{layer}/{stat}"
        for layer in ("classes", "hidden")
        for stat in ("max_abs", "mean", "nonfinite", "std")
    ]
    assert all(len(history.history[k]) == 2 for k in keys)
    # The last epoch's numbers are those of all the layer's values together.
    values = np.concatenate([w.ravel() for w in model.get_layer("hidden").get_weights()])
    values = values.astype(np.float64)
    assert history.history["weights/hidden/mean"][-1] == pytest.approx(values.mean(), rel=1e-9)
    assert history.history["weights/hidden/std"][-1] == pytest.approx(values.std(), rel=1e-9)
    assert history.history["weights/hidden/max_abs"][-1] == pytest.approx(np.abs(values).max())
    assert history.history["weights/hidden/nonfinite"] == [0.0, 0.0]
    assert monitor.nan_layers == [] and monitor.nan_epoch is None
    assert monitor.last_stats == weight_stats(model)


def test_planted_nan_stops_training_naming_the_layer(tiny_model):
    model, (x, y) = tiny_model
    _plant_nan(model)
    monitor = WeightMonitor(on_nan="stop")

    history, messages = _fit_collecting_warnings(
        model, x, y, epochs=2, batch_size=64, verbose=0, callbacks=[monitor]
    )

    assert len(messages) == 1
    assert re.search(r"layer 'hidden' variable 'kernel'.*Training stopped", messages[0])

    assert len(history.history["loss"]) == 1
    assert model.stop_training is True
    assert monitor.nan_layers[0] == "hidden"
    assert monitor.nan_epoch == 0
    assert history.history["weights/hidden/nonfinite"][0] >= 1


def test_on_nan_warn_keeps_training(tiny_model):
    model, (x, y) = tiny_model
    _plant_nan(model)
    monitor = WeightMonitor(on_nan="warn")

    history, messages = _fit_collecting_warnings(
        model, x, y, epochs=2, batch_size=64, verbose=0, callbacks=[monitor]
    )

    assert len(messages) == 2  # one per epoch
    assert re.search(r"layer 'hidden'.*Training goes on", messages[0])

    assert len(history.history["loss"]) == 2
    assert "hidden" in monitor.nan_layers


def test_every_n_epochs(tiny_model):
    model, (x, y) = tiny_model
    history = model.fit(
        x, y, epochs=2, batch_size=64, verbose=0, callbacks=[WeightMonitor(every=2)]
    )
    assert len(history.history["loss"]) == 2
    assert len(history.history["weights/hidden/mean"]) == 1  # only after epoch 2


def test_writes_full_statistics_json_atomically_and_appends(tiny_model, tmp_path):
    model, (x, y) = tiny_model
    path = tmp_path / "stats" / "weights.json"
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[WeightMonitor(path=path)])

    document = json.loads(path.read_text())
    assert [entry["epoch"] for entry in document["epochs"]] == [0, 1]
    last = document["epochs"][-1]["stats"]
    expected = weight_stats(model)
    assert [(r["layer"], r["variable"], r["shape"]) for r in last] == [
        (r["layer"], r["variable"], list(r["shape"])) for r in expected
    ]
    assert last[0]["mean"] == pytest.approx(expected[0]["mean"])
    assert [p.name for p in path.parent.iterdir()] == ["weights.json"]  # no temporaries left

    # A resumed run continues the same file.
    model.fit(
        x, y, epochs=3, initial_epoch=2, batch_size=64, verbose=0,
        callbacks=[WeightMonitor(path=path)],
    )  # fmt: skip
    assert [e["epoch"] for e in json.loads(path.read_text())["epochs"]] == [0, 1, 2]


def test_json_has_null_for_statistics_of_all_nan_variable(tiny_model, tmp_path):
    model, (x, y) = tiny_model
    layer = model.get_layer("classes")
    layer.set_weights([np.full((8, 3), np.nan, "float32"), np.zeros(3, "float32")])
    path = tmp_path / "w.json"
    _, messages = _fit_collecting_warnings(
        model, x, y, epochs=1, verbose=0, callbacks=[WeightMonitor(path=path)]
    )
    assert len(messages) == 1 and "layer 'classes'" in messages[0]
    text = path.read_text()
    assert "NaN" not in text  # strict JSON
    rows = json.loads(text)["epochs"][0]["stats"]
    kernel = next(r for r in rows if (r["layer"], r["variable"]) == ("classes", "kernel"))
    assert kernel["mean"] is None and kernel["nan_count"] == 24


def test_existing_foreign_json_is_left_untouched(tiny_model, tmp_path):
    model, (x, y) = tiny_model
    path = tmp_path / "notes.json"
    path.write_text('{"mine": true}')
    with pytest.raises(CorruptFileError, match=r"not one it wrote.*Received: path=") as info:
        WeightMonitor(path=path)
    assert isinstance(info.value.__cause__, KeyError)
    # A file that turns foreign after the monitor was made is refused by `fit` too.
    monitor = WeightMonitor(path=tmp_path / "later.json")
    (tmp_path / "later.json").write_text("not json")
    with pytest.raises(CorruptFileError, match=r"not one it wrote"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert (tmp_path / "later.json").read_text() == "not json"
    assert path.read_text() == '{"mine": true}'


def test_defines_no_batch_hooks():
    monitor = WeightMonitor()
    for hook in (
        "on_batch_begin",
        "on_batch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_predict_batch_begin",
        "on_predict_batch_end",
    ):
        # Keras marks the base class's no-op hooks; an override would lose the mark and force
        # synchronous per-batch dispatch.
        assert getattr(getattr(monitor, hook), "_is_default", False), hook
    assert isinstance(monitor, keras.callbacks.Callback)


def test_argument_errors():
    with pytest.raises(ConfigurationError, match=r"`every` must be a positive integer.*every=0"):
        WeightMonitor(every=0)
    with pytest.raises(ConfigurationError, match=r"`every` must be.*every=1.5"):
        WeightMonitor(every=1.5)
    with pytest.raises(ConfigurationError, match=r"`on_nan` must be one of 'stop', 'warn'.*raise"):
        WeightMonitor(on_nan="raise")
