"""Keras 2 / tf-keras (TensorFlow 2.15) files load on Keras 3 with the same predictions.

The fixtures in tests/fixtures/legacy/ were written by tests/fixtures/make_legacy_fixtures.py
under TensorFlow 2.15 (Keras 2.15); see that script to regenerate them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kerasx.io

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
