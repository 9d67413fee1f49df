"""kerasx.io: the seed's round trips on Keras 3, formats by suffix, clear errors, histories."""

from __future__ import annotations

import json
import os
import warnings
import zipfile

import keras
import numpy as np
import pytest

import kerasx.io
from kerasx._compat import fast_path_enabled
from kerasx._compat.initializers import ZERO_INITIAL_VALUES
from kerasx.errors import (
    ConfigurationError,
    CorruptFileError,
    MissingFileError,
    SerializationError,
)
from kerasx.models import load_model, model_from_json, save_model

from helpers import run_cli


def test_public_names_are_pinned():
    assert sorted(kerasx.io.__all__) == sorted(
        ["save", "load", "save_weights", "load_weights", "to_json", "from_json", "export",
         "ExportReport", "inspect", "convert", "save_history", "load_history"]
    )
    assert load_model is kerasx.io.load and save_model is kerasx.io.save
    assert model_from_json is kerasx.io.from_json


@pytest.fixture(scope="module")
def seed_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
         keras.layers.Dense(1, name="out")]
    )
    model.compile(optimizer="adam", loss="mse", metrics=["acc", "mae"])
    x = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, epochs=1, verbose=0)
    return model, x, y


def test_seed_h5_round_trip_compiled_with_string_aliases(tmp_path, seed_model):
    model, x, y = seed_model
    save_model(model, tmp_path / "my_model.h5")
    loaded = load_model(tmp_path / "my_model.h5")
    assert loaded.compiled
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # Keras's own HDF5 writer drops the optimizer from the model's compile config; kerasx's
    # `save` restores it, so a `.keras` save afterwards keeps the optimizer state.
    kerasx.io.save(model, tmp_path / "after.keras")
    again = kerasx.io.load(tmp_path / "after.keras")
    assert isinstance(again.optimizer, keras.optimizers.Adam)
    assert int(again.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_seed_json_plus_weights_any_h5_name(tmp_path, seed_model):
    model, x, _ = seed_model
    kerasx.io.save_weights(model, tmp_path / "my_model_weights.h5")
    save_model(model, tmp_path / "my_model.h5")
    for source in ("my_model_weights.h5", "my_model.h5"):
        rebuilt = model_from_json(model.to_json())
        kerasx.io.load_weights(rebuilt, tmp_path / source)
        np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    # the legacy weights file is also what Keras's own model.load_weights reads
    plain = keras.models.clone_model(model)
    plain.load_weights(tmp_path / "my_model_weights.h5")
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_load_skips_random_initial_values_the_file_replaces(tmp_path, seed_model, monkeypatch,
                                                            suffix):
    model, x, _ = seed_model
    path = kerasx.io.save(model, tmp_path / f"m{suffix}")
    calls = []
    original = keras.initializers.GlorotUniform.__call__

    def counting(self, shape, dtype=None):
        calls.append(tuple(shape))
        return original(self, shape, dtype)

    monkeypatch.setattr(keras.initializers.GlorotUniform, "__call__", counting)
    loaded = kerasx.io.load(path)
    if fast_path_enabled(ZERO_INITIAL_VALUES):
        assert calls == []
    else:  # KERASX_DISABLE_FAST_PATHS=1: Keras draws them, as its own loaders do
        assert calls == [(4, 8), (8, 1)]
        calls.clear()
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    kernel_initializer = loaded.get_config()["layers"][1]["config"]["kernel_initializer"]
    assert kernel_initializer["class_name"] == "GlorotUniform"
    if suffix == ".keras":
        keras.saving.load_model(path)  # Keras's own loader draws both Dense kernels
        assert calls == [(4, 8), (8, 1)]
        calls.clear()
    fresh = keras.layers.Dense(4)
    fresh.build((None, 3))  # outside `load`, initializers draw as usual
    assert calls == [(3, 4)]
    assert np.abs(fresh.get_weights()[0]).min() > 0


def test_keras_round_trip_keeps_optimizer_state(tmp_path, seed_model):
    model, x, y = seed_model
    kerasx.io.save(model, tmp_path / "m.keras")
    loaded = kerasx.io.load(tmp_path / "m.keras")
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))
    assert int(loaded.optimizer.iterations.numpy()) == 1
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)
    kerasx.io.save_weights(model, tmp_path / "w.weights.h5")
    fresh = keras.models.clone_model(model)
    kerasx.io.load_weights(fresh, tmp_path / "m.keras")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    fresh = keras.models.clone_model(model)
    kerasx.io.load_weights(fresh, tmp_path / "w.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_to_json_writes_file_and_from_json_reads_path(tmp_path, seed_model):
    model, _, _ = seed_model
    text = kerasx.io.to_json(model, tmp_path / "arch.json")
    assert json.loads((tmp_path / "arch.json").read_text()) == json.loads(text)
    rebuilt = kerasx.io.from_json(tmp_path / "arch.json")
    assert [layer.name for layer in rebuilt.layers] == ["hidden", "out"]


def _other_model():
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, name="hidden"), keras.layers.Dense(1, name="out")]
    )


@pytest.mark.parametrize("name", ["w.weights.h5", "legacy_weights.h5", "m.keras"])
def test_load_weights_mismatch_names_layer_and_shapes(tmp_path, seed_model, name):
    model, _, _ = seed_model
    path = tmp_path / name
    kerasx.io.save(model, path) if name.endswith(".keras") else kerasx.io.save_weights(model, path)
    with pytest.raises(SerializationError, match=r"(?s)hidden.*\(4, 5\).*\(4, 8\)") as info:
        kerasx.io.load_weights(_other_model(), path)
    assert info.value.__cause__ is not None or "expected weight shapes" in str(info.value)
    assert "skip_mismatch=True" in str(info.value)
    target = _other_model()
    with pytest.warns(UserWarning, match="skip") as caught:
        kerasx.io.load_weights(target, path, skip_mismatch=True)
    assert "hidden" in str(caught[-1].message)


def test_load_weights_needs_built_model(tmp_path, seed_model):
    model, _, _ = seed_model
    kerasx.io.save_weights(model, tmp_path / "w.weights.h5")
    unbuilt = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ConfigurationError, match="built model"):
        kerasx.io.load_weights(unbuilt, tmp_path / "w.weights.h5")


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["model", "model.pb", "model.weights.h5", "model.json"])
def test_save_rejects_other_suffixes_and_points_to_export(tmp_path, tiny_model, name):
    model, _ = tiny_model
    with pytest.raises(ConfigurationError, match=r"(?s)\.keras.*\.h5.*Received: path="):
        kerasx.io.save(model, tmp_path / name)
    with pytest.raises(ConfigurationError, match="export"):
        kerasx.io.save(model, tmp_path)


def test_save_weights_rejects_non_h5(tmp_path, tiny_model):
    with pytest.raises(ConfigurationError, match=r"\.weights\.h5"):
        kerasx.io.save_weights(tiny_model[0], tmp_path / "w.keras")


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match=r"does not exist.*Received: path="):
        kerasx.io.load(tmp_path / "nope.keras")
    with pytest.raises(FileNotFoundError):
        kerasx.io.load_weights(_other_model(), tmp_path / "nope.h5")


def test_directory_given_as_file(tmp_path):
    (tmp_path / "model.keras").mkdir()
    with pytest.raises(ConfigurationError, match="directory"):
        kerasx.io.load(tmp_path / "model.keras")


def test_empty_truncated_and_wrong_kind_files(tmp_path, tiny_model):
    model, _ = tiny_model
    good = kerasx.io.save(model, tmp_path / "good.keras")
    good_h5 = kerasx.io.save(model, tmp_path / "good.h5")
    (tmp_path / "empty.keras").write_bytes(b"")
    (tmp_path / "cut.keras").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "cut.h5").write_bytes(good_h5.read_bytes()[:3000])
    (tmp_path / "text.keras").write_text("not a zip")
    with zipfile.ZipFile(tmp_path / "noconfig.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    cases = {
        "empty.keras": "empty",
        "cut.keras": "truncated",
        "text.keras": "not a zip",
        "noconfig.keras": "config.json",
        "cut.h5": "truncated or corrupt",
    }
    for name, message in cases.items():
        with pytest.raises(CorruptFileError, match=message) as info:
            kerasx.io.load(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)
        assert isinstance(info.value, OSError)
    with pytest.raises(CorruptFileError) as info:
        kerasx.io.load(tmp_path / "text.keras")
    assert isinstance(info.value.__cause__, zipfile.BadZipFile)


def test_invalid_json(tmp_path):
    with pytest.raises(SerializationError, match="Invalid JSON") as info:
        kerasx.io.from_json('{"class_name": ')
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(SerializationError, match="Invalid JSON"):
        kerasx.io.load(tmp_path / "bad.json")


def test_weights_only_file_given_to_load(tmp_path, tiny_model):
    model, _ = tiny_model
    kerasx.io.save_weights(model, tmp_path / "w.weights.h5")
    kerasx.io.save_weights(model, tmp_path / "w.h5")
    for name in ("w.weights.h5", "w.h5"):
        with pytest.raises(SerializationError, match=r"weights only|weights-only.*load_weights"):
            kerasx.io.load(tmp_path / name)


def test_no_temporaries_left_and_previous_file_kept_on_failure(tmp_path, tiny_model):
    model, _ = tiny_model
    path = kerasx.io.save(model, tmp_path / "m.keras")
    before = path.read_bytes()

    class Broken(keras.layers.Layer):
        def get_config(self):
            raise TypeError("cannot serialise")

    broken = keras.Sequential([keras.Input((4,)), Broken()])
    with pytest.raises(SerializationError, match="cannot serialise"):
        kerasx.io.save(broken, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_keras_file_whose_config_is_not_json_is_corrupt(tmp_path, tiny_model):
    model, _ = tiny_model
    good = kerasx.io.save(model, tmp_path / "good.keras")
    broken = tmp_path / "broken.keras"
    cut_short = b'{"class_name": "Sequential", "con'
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
        for name in source.namelist():
            target.writestr(name, cut_short if name == "config.json" else source.read(name))
    with pytest.raises(CorruptFileError, match=r"config\.json. is not valid JSON") as info:
        kerasx.io.load(broken)
    assert str(broken) in str(info.value)
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


def test_layer_whose_get_config_fails_is_named_and_the_old_file_kept(tmp_path, tiny_model):
    model, _ = tiny_model

    class Unconfigurable(keras.layers.Layer):
        def get_config(self):
            raise RuntimeError("no configuration here")

        def call(self, inputs):
            return inputs

    broken = keras.Sequential([keras.Input((4,)), Unconfigurable(name="odd_one")])
    for suffix in (".keras", ".h5"):
        path = kerasx.io.save(model, tmp_path / f"m{suffix}")
        before = path.read_bytes()
        with pytest.raises(
            SerializationError, match=r"layer 'odd_one' \(Unconfigurable\).*no configuration here"
        ) as info:
            kerasx.io.save(broken, path)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert str(info.value.__cause__) == "no configuration here"
        assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.h5", "m.keras"]


# ------------------------------------------------------------------------------- inspect / CLI


def test_inspect_reports_without_loading(tmp_path, seed_model):
    model, _, _ = seed_model
    kerasx.io.save(model, tmp_path / "m.keras")
    report = kerasx.io.inspect(tmp_path / "m.keras")
    assert report["format"] == "keras"
    assert report["keras_version"] == keras.__version__
    assert report["model_class"] == "Sequential"
    assert report["layer_count"] == 2 and report["layer_classes"] == {"Dense": 2}
    assert report["params"] == model.count_params()
    assert report["input_shapes"] == [[None, 4]] and report["output_shapes"] == [[None, 1]]
    assert report["compiled"] and report["optimizer_state"] and report["safe"]
    json.dumps(report)


@pytest.mark.slow
def test_cli_inspect_and_convert(tmp_path, seed_model):
    model, x, _ = seed_model
    kerasx.io.save(model, tmp_path / "m.h5")
    done = run_cli("convert", str(tmp_path / "m.h5"), str(tmp_path / "m.keras"))
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(
        kerasx.io.load(tmp_path / "m.keras").predict(x, verbose=0), model.predict(x, verbose=0)
    )
    shown = run_cli("inspect", str(tmp_path / "m.keras"))
    assert shown.returncode == 0, shown.stderr
    assert "Sequential" in shown.stdout and "parameters     49" in shown.stdout
    as_json = run_cli("inspect", "--json", str(tmp_path / "m.keras"))
    assert json.loads(as_json.stdout)["params"] == 49
    missing = run_cli("inspect", str(tmp_path / "missing.keras"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr


@pytest.mark.slow
def test_export_saved_model_and_trusted_load(tmp_path, tiny_model):
    model, (x, _) = tiny_model
    report = kerasx.io.export(model, tmp_path / "served")
    folder = report.path
    assert folder == tmp_path / "served" and report.max_abs_diff <= 1e-5
    assert (folder / "saved_model.pb").exists()
    served = kerasx.io.load(folder, trusted=True)
    outputs = served(x[:3])  # the serving signature's outputs, by name
    (value,) = outputs.values() if isinstance(outputs, dict) else (outputs,)
    np.testing.assert_allclose(
        np.asarray(value), model.predict(x[:3], verbose=0), rtol=1e-5, atol=1e-6
    )
    assert [p.name for p in tmp_path.iterdir()] == ["served"]


# ------------------------------------------------------------------------------- history


def test_history_json_and_csv_round_trip(tmp_path, tiny_model):
    model, (x, y) = tiny_model
    csv_logger = keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"))
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[csv_logger])
    kerasx.io.save_history(history, tmp_path / "h.json")
    kerasx.io.save_history(history, tmp_path / "h.csv")
    from_json = kerasx.io.load_history(tmp_path / "h.json")
    from_csv = kerasx.io.load_history(tmp_path / "h.csv")
    from_keras = kerasx.io.load_history(tmp_path / "keras.csv")
    assert from_json["epoch"] == from_csv["epoch"] == from_keras["epoch"] == [0, 1]
    for key, values in history.history.items():
        np.testing.assert_allclose(from_json[key], values, rtol=1e-6)
        np.testing.assert_allclose(from_csv[key], values, rtol=1e-6)
        np.testing.assert_allclose(from_keras[key], values, rtol=1e-6)
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == (
        tmp_path / "keras.csv"
    ).read_text().splitlines()[0]


def test_history_from_dict_and_errors(tmp_path):
    kerasx.io.save_history({"loss": [1.0, float("nan")], "acc": [0.5, 0.6]}, tmp_path / "d.json")
    loaded = kerasx.io.load_history(tmp_path / "d.json")
    assert loaded["acc"] == [0.5, 0.6] and np.isnan(loaded["loss"][1])
    with pytest.raises(ConfigurationError, match=r"\.json.*\.csv"):
        kerasx.io.save_history({"loss": [1.0]}, tmp_path / "h.txt")
    with pytest.raises(ConfigurationError, match=r"\.json.*\.csv.*Received: path=.*CSVLogger"):
        kerasx.io.load_history(tmp_path / "h.txt")
    from kerasx.errors import DataError

    with pytest.raises(DataError, match="one value per epoch"):
        kerasx.io.save_history({"loss": [1.0], "acc": [1.0, 2.0]}, tmp_path / "h.json")
    (tmp_path / "bad.csv").write_text("epoch,loss\n0,abc\n")
    with pytest.raises(CorruptFileError, match="not a number"):
        kerasx.io.load_history(tmp_path / "bad.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kerasx.io.load_history(tmp_path / "d.json")["loss"][0] == 1.0
