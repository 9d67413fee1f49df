"""Keras 2 / tf-keras (TensorFlow 2.15) files load on Keras 3 with the same predictions.

The fixtures in tests/io/fixtures/legacy/ were written by tests/io/fixtures/make_legacy_fixtures.py
under TensorFlow 2.15 (Keras 2.15); see that script to regenerate them.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import kerasx.io

from helpers import run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy"
NAMES = ["sequential_cnn", "sequential_mlp", "functional_text"]

pytestmark = pytest.mark.slow


def _inputs(name: str):
    single = FIXTURES / f"{name}_input.npy"
    if single.exists():
        return np.load(single)
    return [np.load(FIXTURES / f"{name}_input_0.npy"), np.load(FIXTURES / f"{name}_input_1.npy")]


def _expected(name: str) -> np.ndarray:
    return np.load(FIXTURES / f"{name}_expected.npy")


def test_fixtures_were_written_by_keras_2():
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    assert manifest["tensorflow"].startswith("2.15")
    assert kerasx.io.inspect(FIXTURES / "sequential_cnn.h5")["keras_version"].startswith("2.")
    layers = {cls for model in manifest["models"].values() for cls in model["layers"]}
    for needed in ["Dense", "Conv2D", "MaxPooling2D", "Dropout", "BatchNormalization", "LSTM",
                   "GRU", "Embedding", "Concatenate", "Flatten", "Activation", "Conv1D"]:
        assert needed in layers


@pytest.mark.parametrize("name", NAMES)
def test_full_h5_loads_compiled_with_same_predictions(name):
    model = kerasx.io.load(FIXTURES / f"{name}.h5")
    np.testing.assert_allclose(model.predict(_inputs(name), verbose=0), _expected(name), atol=1e-5)
    assert model.compiled
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    assert model.count_params() == manifest["models"][name]["params"]


@pytest.mark.parametrize("name", NAMES)
def test_json_plus_legacy_weights(name):
    model = kerasx.io.from_json(FIXTURES / f"{name}.json")
    kerasx.io.load_weights(model, FIXTURES / f"{name}_weights.h5")
    np.testing.assert_allclose(model.predict(_inputs(name), verbose=0), _expected(name), atol=1e-5)


def test_convert_migrates_to_keras_format(tmp_path):
    name = "functional_text"
    target = kerasx.io.convert(FIXTURES / f"{name}.h5", tmp_path / "new.keras")
    report = kerasx.io.inspect(target)
    assert report["format"] == "keras" and report["compiled"]
    model = kerasx.io.load(target)
    np.testing.assert_allclose(model.predict(_inputs(name), verbose=0), _expected(name), atol=1e-5)


def test_legacy_h5_evaluates_and_trains_after_load():
    model = kerasx.io.load(FIXTURES / "sequential_mlp.h5")
    x = _inputs("sequential_mlp")
    y = np.zeros((len(x), 1), "float32")
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(before) == ["loss", "mae"]  # 'mse' and Keras 2's wrapped 'mae' came back
    prediction = model.predict(x, verbose=0)
    np.testing.assert_allclose(before["mae"], np.abs(prediction).mean(), rtol=1e-5)
    np.testing.assert_allclose(before["loss"], (prediction**2).mean(), rtol=1e-5)
    model.fit(x, y, epochs=1, verbose=0)


# --- optimizer state -----------------------------------------------------------------------

STATE_NAMES = {"sequential_cnn": "Adam", "sequential_mlp": "RMSprop", "functional_text": "Adam"}


def _saved_optimizer_weights(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5_file:
        group = h5_file["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        return {name: np.asarray(group[name]) for name in names}


def _targets(name: str, model) -> np.ndarray:
    if name == "sequential_cnn":
        return np.arange(len(_inputs(name))) % 10
    return model.predict(_inputs(name), verbose=0)


def _saved_iteration(saved: dict[str, np.ndarray]) -> int:
    return int(saved["iteration:0"])


@pytest.mark.parametrize("name", NAMES)
def test_keras2_optimizer_state_is_restored(name):
    saved = _saved_optimizer_weights(FIXTURES / f"{name}.h5")
    model = kerasx.io.load(FIXTURES / f"{name}.h5")
    optimizer = model.optimizer
    assert _saved_iteration(saved) > 0
    assert int(optimizer.iterations.numpy()) == _saved_iteration(saved)
    prefix = STATE_NAMES[name]
    for layer_name in ("out", "bn") if name != "sequential_mlp" else ("hidden", "out"):
        layer = model.get_layer(layer_name)
        for variable in layer.trainable_variables:
            index = optimizer._get_variable_index(variable)
            key = f"{layer_name}/{variable.name}:0"
            if prefix == "Adam":
                m, v = saved[f"Adam/m/{key}"], saved[f"Adam/v/{key}"]
                assert np.abs(m).max() > 0  # real state, not zeros
                np.testing.assert_array_equal(optimizer._momentums[index].numpy(), m)
                np.testing.assert_array_equal(optimizer._velocities[index].numpy(), v)
            else:
                velocity = saved[f"RMSprop/velocity/{key}"]
                assert np.abs(velocity).max() > 0
                np.testing.assert_array_equal(optimizer._velocities[index].numpy(), velocity)
    model.fit(_inputs(name), _targets(name, model), epochs=1, verbose=0)
    assert int(optimizer.iterations.numpy()) == _saved_iteration(saved) + 1


def _copy_with(tmp_path: Path, change) -> Path:
    target = tmp_path / "changed.h5"
    shutil.copyfile(FIXTURES / "functional_text.h5", target)
    with h5py.File(target, "r+") as h5_file:
        change(h5_file["optimizer_weights"])
    return target


def _drop_slot(group) -> None:
    name = "Adam/v/dense_features/kernel:0"
    del group[name]
    names = [n for n in group.attrs["weight_names"] if n not in (name, name.encode())]
    group.attrs["weight_names"] = names


def _reshape_slot(group) -> None:
    name = "Adam/m/dense_features/kernel:0"
    del group[name]
    group.create_dataset(name, data=np.ones((4, 3), "float32"))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_drop_slot, "dense_features_kernel_velocity"),
        (_reshape_slot, "Adam/m/dense_features/kernel:0"),
    ],
)
def test_mismatched_optimizer_state_leaves_a_fresh_optimizer(tmp_path, caplog, change, named):
    path = _copy_with(tmp_path, change)
    with caplog.at_level(logging.WARNING, logger="kerasx.io._legacy"):
        model = kerasx.io.load(path)
    assert int(model.optimizer.iterations.numpy()) == 0
    for variable in model.optimizer.variables[2:]:  # after iteration and learning_rate
        assert not np.any(variable.numpy()), variable.path  # nothing half-restored
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "fresh optimizer" in warnings[0].getMessage()
    assert named in warnings[0].getMessage()
    np.testing.assert_allclose(
        model.predict(_inputs("functional_text"), verbose=0),
        _expected("functional_text"),
        atol=1e-5,
    )
    model.fit(_inputs("functional_text"), _expected("functional_text"), epochs=1, verbose=0)


_OLD_SLOT_NAMES = {"Adam": {"m": "m", "v": "v"}, "RMSprop": {"velocity": "rms"}}


def _rename_to_pre_2_11(group) -> None:
    """Rewrite the names the way Keras 2 optimizers before 2.11 wrote them, hyperparameters too.

    `iteration:0` -> `Adam/iter:0`; `Adam/m/out/kernel:0` -> `Adam/out/kernel/m:0`.
    """
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    prefix = names[1].split("/")[0]
    renamed = [f"{prefix}/iter:0", f"{prefix}/learning_rate:0", f"{prefix}/decay:0"]
    values = [np.asarray(group[names[0]]), np.float32(1e-3), np.float32(0.0)]
    for name in names[1:]:
        _, slot, variable = name[: -len(":0")].split("/", 2)
        renamed.append(f"{prefix}/{variable}/{_OLD_SLOT_NAMES[prefix][slot]}:0")
        values.append(np.asarray(group[name]))
    for name in list(group):
        del group[name]
    for name, value in zip(renamed, values):
        group.create_dataset(name, data=value)
    group.attrs["weight_names"] = [name.encode() for name in renamed]


@pytest.mark.parametrize("name", ["functional_text", "sequential_mlp"])
def test_pre_2_11_optimizer_names_are_restored(tmp_path, name):
    saved = _saved_optimizer_weights(FIXTURES / f"{name}.h5")
    path = tmp_path / "old_names.h5"
    shutil.copyfile(FIXTURES / f"{name}.h5", path)
    with h5py.File(path, "r+") as h5_file:
        _rename_to_pre_2_11(h5_file["optimizer_weights"])
    model = kerasx.io.load(path)
    optimizer = model.optimizer
    assert int(optimizer.iterations.numpy()) == _saved_iteration(saved)
    index = optimizer._get_variable_index(model.get_layer("out").kernel)
    key = "Adam/v/out/kernel:0" if name == "functional_text" else "RMSprop/velocity/out/kernel:0"
    np.testing.assert_array_equal(optimizer._velocities[index].numpy(), saved[key])


def test_legacy_h5_compile_false_has_no_optimizer():
    model = kerasx.io.load(FIXTURES / "sequential_mlp.h5", compile=False)
    assert not model.compiled


def test_convert_carries_keras2_optimizer_state(tmp_path):
    name = "functional_text"
    saved = _saved_optimizer_weights(FIXTURES / f"{name}.h5")
    target = kerasx.io.convert(FIXTURES / f"{name}.h5", tmp_path / "new.keras")
    model = kerasx.io.load(target)
    assert int(model.optimizer.iterations.numpy()) == _saved_iteration(saved)
    variable = model.get_layer("dense_features").kernel
    index = model.optimizer._get_variable_index(variable)
    np.testing.assert_array_equal(
        model.optimizer._momentums[index].numpy(), saved["Adam/m/dense_features/kernel:0"]
    )


def test_cli_convert_carries_keras2_optimizer_state(tmp_path):
    done = run_cli("convert", str(FIXTURES / "sequential_mlp.h5"), str(tmp_path / "n.keras"))
    assert done.returncode == 0, done.stderr
    assert "fresh optimizer" not in done.stderr
    model = kerasx.io.load(tmp_path / "n.keras")
    saved = _saved_optimizer_weights(FIXTURES / "sequential_mlp.h5")
    assert int(model.optimizer.iterations.numpy()) == _saved_iteration(saved)


def test_keras_without_the_legacy_reader_gives_a_clear_error(monkeypatch):
    """Reading Keras 2 files needs Keras internals; without them, an error that says so."""
    import keras

    from kerasx._compat import TESTED_KERAS
    from kerasx.errors import MissingDependencyError

    monkeypatch.setattr("kerasx._compat.saving._LEGACY_UTILS", "keras.src.no_such_module")
    for read in (
        lambda: kerasx.io.load(FIXTURES / "sequential_mlp.h5"),
        lambda: kerasx.io.from_json(FIXTURES / "sequential_mlp.json"),
    ):
        with pytest.raises(MissingDependencyError, match=r"Keras 2 model configuration") as info:
            read()
        assert keras.__version__ in str(info.value)
        assert f"keras>={TESTED_KERAS[0]},<={TESTED_KERAS[1]}" in str(info.value)
        assert isinstance(info.value, ImportError)


def test_keras_without_the_safe_mode_scope_refuses_to_load(monkeypatch, tmp_path):
    """A module that exists but lacks the attribute is reported the same way."""
    from kerasx.errors import MissingDependencyError

    model = kerasx.io.from_json(FIXTURES / "sequential_mlp.json")
    path = kerasx.io.save(model, tmp_path / "m.keras")
    monkeypatch.setattr("kerasx._compat.saving._SERIALIZATION", "kerasx.errors")
    with pytest.raises(MissingDependencyError, match=r"kerasx\.errors\.SafeModeScope"):
        kerasx.io.load(path)
