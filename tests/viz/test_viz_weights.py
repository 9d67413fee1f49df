"""kerasx.viz.weight_stats, weight_stats_from_file, format_weight_stats and plot_weights."""

from __future__ import annotations

import io
import math
import zipfile

import h5py
import keras
import numpy as np
import pytest

from kerasx.errors import ConfigurationError, CorruptFileError, MissingFileError
from kerasx.viz import plot_weights, weight_stats
from kerasx.viz._weight_stats import STAT_KEYS, weight_stats_from_file
from kerasx.viz._weight_table import format_weight_stats

from helpers import run_cli, run_python


def _numpy_row(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)].astype(np.float64)
    return {
        "shape": values.shape,
        "count": values.size,
        "mean": finite.mean(),
        "std": finite.std(),
        "min": finite.min(),
        "max": finite.max(),
        "zero_fraction": np.count_nonzero(values == 0) / values.size,
        "nan_count": int(np.isnan(values).sum()),
        "inf_count": int(np.isinf(values).sum()),
    }


def _assert_rows_match_numpy(rows, arrays):
    assert len(rows) == len(arrays)
    for row, values in zip(rows, arrays):
        expected = _numpy_row(values)
        assert row["shape"] == expected["shape"]
        assert row["count"] == expected["count"]
        for key in ("mean", "std", "min", "max", "zero_fraction"):
            assert math.isclose(row[key], expected[key], rel_tol=1e-9, abs_tol=1e-12), key
        assert row["nan_count"] == expected["nan_count"]
        assert row["inf_count"] == expected["inf_count"]


def _cnn():
    """Functional CNN: conv(relu) -> bn -> pool -> flatten -> dense(relu) -> dense(softmax)."""
    inputs = keras.Input((8, 8, 1), name="pixels")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(6, activation="relu", name="hidden")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Dense(5, activation="relu", name="after_bn")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="cnn")


def test_stats_equal_numpy_on_get_weights(tiny_model):
    model, (x, y) = tiny_model
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    kernel, bias = model.get_layer("hidden").get_weights()
    kernel[0, :3] = 0.0
    model.get_layer("hidden").set_weights([kernel, bias])

    rows = weight_stats(model)

    assert [(r["layer"], r["variable"]) for r in rows] == [
        ("hidden", "kernel"),
        ("hidden", "bias"),
        ("classes", "kernel"),
        ("classes", "bias"),
    ]
    assert all(tuple(r) == STAT_KEYS for r in rows)
    _assert_rows_match_numpy(rows, model.get_weights())
    assert rows[0]["zero_fraction"] == pytest.approx(3 / 32)


def test_streaming_statistics_over_many_chunks_match_numpy():
    # 1.2 million values: more than one chunk, so the chunk merging is exercised.
    model = keras.Sequential([keras.Input((1,), dtype="int32"), keras.layers.Embedding(1200, 1000)])
    values = np.random.default_rng(0).normal(3.0, 2.0, size=(1200, 1000)).astype("float32")
    values[5, 5] = np.nan
    values[-1, -1] = -np.inf
    values[100:110] = 0.0
    model.layers[0].set_weights([values])

    (row,) = weight_stats(model)

    assert row["variable"] == "embeddings"
    _assert_rows_match_numpy([row], [values])


def test_planted_nan_and_inf_are_counted_and_stats_use_finite_values(tiny_model):
    model, _ = tiny_model
    kernel, bias = model.get_layer("classes").get_weights()
    kernel[0, 0] = np.nan
    kernel[1, 1] = np.nan
    bias[2] = np.inf
    model.get_layer("classes").set_weights([kernel, bias])

    rows = {(r["layer"], r["variable"]): r for r in weight_stats(model)}

    assert rows["classes", "kernel"]["nan_count"] == 2
    assert rows["classes", "kernel"]["inf_count"] == 0
    assert rows["classes", "bias"]["inf_count"] == 1
    assert rows["hidden", "kernel"]["nan_count"] == 0
    finite = kernel[np.isfinite(kernel)]
    assert rows["classes", "kernel"]["mean"] == pytest.approx(float(finite.mean()))
    text = format_weight_stats(list(rows.values()))
    flagged = [line for line in text.splitlines() if line.startswith("!")]
    assert len(flagged) == 2
    assert all("classes" in line for line in flagged)
    assert "2 with NaN or Inf" in text


def test_all_nan_variable_has_no_mean_but_counts():
    layer = keras.layers.Dense(2, name="d")
    layer.build((None, 2))
    layer.set_weights([np.full((2, 2), np.nan, "float32"), np.zeros(2, "float32")])

    kernel, bias = weight_stats(layer)

    assert kernel["nan_count"] == 4
    assert kernel["mean"] is None and kernel["std"] is None and kernel["min"] is None
    assert bias["zero_fraction"] == 1.0


def test_layers_filter_by_name_class_and_list(tiny_model):
    model, _ = tiny_model
    assert {r["layer"] for r in weight_stats(model, layers="classes")} == {"classes"}
    assert {r["layer"] for r in weight_stats(model, layers=keras.layers.Dense)} == {
        "hidden",
        "classes",
    }
    assert {r["layer"] for r in weight_stats(model, layers=["hidden", "nope"])} == {"hidden"}
    assert len(weight_stats(model, layers="Dense")) == 4


def test_layers_filter_errors(tiny_model):
    model, _ = tiny_model
    with pytest.raises(ConfigurationError, match=r"No layer .* Available layers: 'hidden'"):
        weight_stats(model, layers="hiden")
    with pytest.raises(ConfigurationError, match=r"`layers` must be a layer name.*Received"):
        weight_stats(model, layers=[3])
    with pytest.raises(ConfigurationError, match=r"expects a Keras model.*Received: model"):
        weight_stats(np.zeros(3))


def test_nested_models_are_listed_as_outer_inner():
    inner = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="d"),
            keras.layers.LayerNormalization(name="ln"),
        ],
        name="block",
    )
    inputs = keras.Input((5, 4))
    x = keras.layers.LSTM(4, name="lstm")(inputs)
    outputs = inner(x)
    model = keras.Model(inputs, outputs)

    names = [(r["layer"], r["variable"]) for r in weight_stats(model)]

    assert names == [
        ("lstm", "lstm_cell/kernel"),
        ("lstm", "lstm_cell/recurrent_kernel"),
        ("lstm", "lstm_cell/bias"),
        ("block/d", "kernel"),
        ("block/d", "bias"),
        ("block/ln", "gamma"),
        ("block/ln", "beta"),
    ]
    assert len(weight_stats(model, layers="block/ln")) == 2


def test_dead_units_decided_only_with_nonnegative_inputs():
    model = _cnn()
    hidden = model.get_layer("hidden")
    kernel, bias = hidden.get_weights()
    kernel[:, :3] = -np.abs(kernel[:, :3])  # units 0..2: every weight <= 0 ...
    bias[:3] = [0.0, -0.5, 0.1]  # ... but unit 2 has a positive bias, so it can still fire
    hidden.set_weights([kernel, bias])

    rows = {(r["layer"], r["variable"]): r["dead_fraction"] for r in weight_stats(model)}

    # conv reads the model's input: undecidable. hidden reads relu -> pool -> flatten: decided.
    assert rows["conv", "kernel"] is None
    assert rows["hidden", "kernel"] == pytest.approx(2 / 6)
    assert rows["hidden", "bias"] is None
    # after_bn reads a BatchNormalization (signed output): undecidable; out is softmax: n/a.
    assert rows["after_bn", "kernel"] is None
    assert rows["out", "kernel"] is None


def test_dead_units_in_sequential_model():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="sigmoid", name="a"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(2, activation="relu", name="b"),
        ]
    )
    model.get_layer("b").set_weights([-np.ones((4, 2), "float32"), np.zeros(2, "float32")])

    rows = {(r["layer"], r["variable"]): r["dead_fraction"] for r in weight_stats(model)}

    assert rows["a", "kernel"] is None
    assert rows["b", "kernel"] == 1.0

    kernel = -np.ones((4, 2), "float32")
    kernel[0, 0] = np.nan  # NaN weights: "dead" has no meaning, so it is not decided
    model.get_layer("b").set_weights([kernel, np.zeros(2, "float32")])
    assert weight_stats(model, layers="b")[0]["dead_fraction"] is None


# --- weight_stats_from_file -------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_cnn(tmp_path_factory):
    """A trained CNN with a planted NaN, saved as .keras, legacy .h5 and .weights.h5 (built once:
    the rows of a live model do not depend on the Keras session the autouse fixture clears)."""
    tmp_path = tmp_path_factory.mktemp("saved_cnn")
    model = _cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((16, 8, 8, 1)), rng.integers(0, 3, 16), epochs=1, verbose=0)
    kernel, bias = model.get_layer("after_bn").get_weights()
    kernel[0, 0] = np.nan
    model.get_layer("after_bn").set_weights([kernel, bias])
    paths = {
        "keras": tmp_path / "model.keras",
        "h5": tmp_path / "model.h5",
        "weights": tmp_path / "model.weights.h5",
    }
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.save_weights(paths["weights"])
    return model, paths


def _same_rows(actual, expected):
    assert [(r["layer"], r["variable"]) for r in actual] == [
        (r["layer"], r["variable"]) for r in expected
    ]
    for a, e in zip(actual, expected):
        assert a == e, (a, e)


@pytest.mark.slow
def test_from_file_matches_loaded_model(saved_cnn):
    model, paths = saved_cnn
    expected = weight_stats(model)
    assert any(r["dead_fraction"] is not None for r in expected)  # the config path is exercised
    assert sum(r["nan_count"] for r in expected) == 1

    for kind in ("keras", "h5"):
        loaded = keras.saving.load_model(paths[kind], compile=False)
        _same_rows(weight_stats_from_file(paths[kind]), weight_stats(loaded))
        _same_rows(weight_stats_from_file(str(paths[kind])), expected)


def test_from_weights_h5_matches_except_undecidable_dead_units(saved_cnn):
    model, paths = saved_cnn
    expected = weight_stats(model)
    for row in expected:
        row["dead_fraction"] = None  # a bare weights file has no configuration to decide it

    _same_rows(weight_stats_from_file(paths["weights"]), expected)


def test_from_file_nested_model_and_recurrent_layer(tmp_path):
    inner = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="d"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="block",
    )
    inputs = keras.Input((5, 4))
    x = keras.layers.GRU(4, name="gru")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False, name="z")(inner(x)))
    expected = weight_stats(model)
    for suffix in ("m.keras", "m.h5", "m.weights.h5"):
        path = tmp_path / suffix
        if suffix.endswith(".weights.h5"):
            model.save_weights(path)
        else:
            model.save(path)
        _same_rows(weight_stats_from_file(path), expected)


def test_from_file_reads_without_importing_keras(saved_cnn):
    _, paths = saved_cnn
    code = (
        "import sys\n"
        "from kerasx.viz._weight_stats import weight_stats_from_file\n"
        f"for p in {[str(p) for p in paths.values()]!r}:\n"
        "    rows = weight_stats_from_file(p)\n"
        "    assert sum(r['nan_count'] for r in rows) == 1, rows\n"
        "heavy = [m for m in ('keras', 'tensorflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_from_file_ignores_config_classes_it_cannot_build(tmp_path, saved_cnn):
    # A .keras whose config names a class from a module that does not exist (as a malicious or
    # custom file might): the weights are still read, nothing is imported.
    _, paths = saved_cnn
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(paths["keras"]) as source, zipfile.ZipFile(evil, "w") as target:
        target.writestr("config.json", '{"module": "evil_mod", "class_name": "Boom", "config": {}}')
        target.writestr("model.weights.h5", source.read("model.weights.h5"))
    rows = weight_stats_from_file(evil)
    assert [r["layer"] for r in rows][:2] == ["conv", "conv"]
    assert sum(r["nan_count"] for r in rows) == 1


def test_from_file_errors(tmp_path, saved_cnn):
    _, paths = saved_cnn
    with pytest.raises(MissingFileError, match=r"No model or weights file.*Received: path="):
        weight_stats_from_file(tmp_path / "absent.keras")
    with pytest.raises(CorruptFileError, match=r"not a folder.*Received: path="):
        weight_stats_from_file(tmp_path)

    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(CorruptFileError, match=r"Cannot read weights.*Received: path=") as info:
        weight_stats_from_file(garbage)
    assert isinstance(info.value.__cause__, OSError)

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(paths["h5"].read_bytes()[:3000])
    with pytest.raises(CorruptFileError, match=r"Cannot read weights"):
        weight_stats_from_file(truncated)

    no_member = tmp_path / "empty.keras"
    with zipfile.ZipFile(no_member, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(CorruptFileError, match=r"no `model.weights.h5` member") as info:
        weight_stats_from_file(no_member)
    assert isinstance(info.value.__cause__, KeyError)

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(CorruptFileError, match=r"no `model_weights`"):
        weight_stats_from_file(other)


def test_from_file_reads_keras_zip_member_in_memory(saved_cnn):
    # The .keras member is an ordinary HDF5 file; reading it via BytesIO gives the same rows as
    # extracting it.
    _, paths = saved_cnn
    with zipfile.ZipFile(paths["keras"]) as archive:
        data = archive.read("model.weights.h5")
    with h5py.File(io.BytesIO(data), "r") as h5:
        assert "layers" in h5
    assert len(weight_stats_from_file(paths["keras"])) == 12


# --- format_weight_stats ----------------------------------------------------------------------


def test_format_weight_stats_is_aligned(tiny_model):
    model, _ = tiny_model
    text = format_weight_stats(weight_stats(model))
    lines = text.splitlines()
    assert lines[0].split() == [
        "layer", "variable", "shape", "count", "mean", "std", "min", "max",
        "zeros", "nan", "inf", "dead",
    ]  # fmt: skip
    assert set(lines[1]) == {"-"}
    body = lines[2:-1]
    assert len(body) == 4
    columns = {line.index("kernel") if "kernel" in line else line.index("bias") for line in body}
    assert len(columns) == 1
    assert "4x8" in body[0] and "32" in body[0]
    assert lines[-1] == "4 variables, 67 values; no NaN or Inf"
    assert format_weight_stats([]) == "(no weights)"


# --- plot_weights -----------------------------------------------------------------------------


def _is_non_blank_png(figure) -> bool:
    import matplotlib.image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    buffer.seek(0)
    pixels = matplotlib.image.imread(buffer)
    return float(pixels[..., :3].std()) > 0.01


@pytest.mark.slow
def test_plot_weights_one_panel_per_variable_renders_headless():
    from matplotlib.figure import Figure

    model = _cnn()
    figure = plot_weights(model, bins=20)

    assert isinstance(figure, Figure)
    visible = [a for a in figure.axes if a.get_visible()]
    titles = [a.get_title() for a in visible]
    assert len(visible) == len(model.weights) == 12
    assert "hidden / kernel" in titles and "bn / moving_variance" in titles
    assert all(a.patches for a in visible)  # a histogram was drawn in each
    assert figure._suptitle is None
    assert _is_non_blank_png(figure)


@pytest.mark.slow
def test_plot_weights_limits_panels_with_a_note():
    model = keras.Sequential(
        [keras.Input((2,))] + [keras.layers.Dense(2, name=f"d{i}") for i in range(30)]
    )
    figure = plot_weights(model, max_panels=10)

    visible = [a for a in figure.axes if a.get_visible()]
    assert len(visible) == 10
    note = figure._suptitle.get_text()
    assert "Showing 10 of 60 weight variables" in note
    assert "layers=" in note
    assert len([a for a in plot_weights(model, layers=["d28", "d29"]).axes if a.get_visible()]) == 4


def test_plot_weights_flags_nan_in_red(tiny_model):
    model, _ = tiny_model
    kernel, bias = model.get_layer("hidden").get_weights()
    kernel[0, 0] = np.nan
    model.get_layer("hidden").set_weights([kernel, bias])

    figure = plot_weights(model, log=True)

    by_title = {a.get_title(): a for a in figure.axes if a.get_visible()}
    bad = by_title["hidden / kernel"]
    assert bad.title.get_color() == "red"
    assert any("NaN 1" in t.get_text() and t.get_color() == "red" for t in bad.texts)
    assert by_title["hidden / bias"].title.get_color() == "black"
    assert bad.get_yscale() == "log"


def test_plot_weights_into_given_axes(tiny_model):
    from matplotlib.figure import Figure

    model, _ = tiny_model
    figure = Figure()
    single = figure.add_subplot()
    assert plot_weights(model, layers="classes", ax=[single, figure.add_subplot(2, 2, 4)]) is figure
    assert single.get_title() == "classes / kernel"

    other = Figure()
    axes = other.subplots(2, 3)
    assert plot_weights(model, ax=axes) is other
    assert sum(a.get_visible() for a in axes.ravel()) == 4

    with pytest.raises(ConfigurationError, match=r"`ax` has 1 axes but 4 .*Received"):
        plot_weights(model, ax=Figure().add_subplot())


def test_plot_weights_argument_errors(tiny_model):
    model, _ = tiny_model
    with pytest.raises(ConfigurationError, match=r"`bins` must be a positive integer.*Received"):
        plot_weights(model, bins=0)
    with pytest.raises(ConfigurationError, match=r"`max_panels` must be.*Received"):
        plot_weights(model, max_panels=0)
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ConfigurationError, match=r"has no weights to plot.*Build the model"):
        plot_weights(unbuilt)
    with pytest.raises(ConfigurationError, match=r"expects a Keras model"):
        plot_weights("model.keras")


# --- the command line -------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_inspect_weights_prints_the_table(saved_cnn):
    _, paths = saved_cnn
    for kind in ("keras", "h5", "weights"):
        result = run_cli("inspect", str(paths[kind]), "--weights")
        assert result.returncode == 0, result.stderr
        expected = format_weight_stats(weight_stats_from_file(paths[kind]))
        assert expected in result.stdout
        assert "after_bn" in result.stdout and "1 with NaN or Inf (marked !)" in result.stdout
